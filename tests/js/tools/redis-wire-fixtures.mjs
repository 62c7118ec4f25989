// Prints, one per line as `name hex`, the bytes notepack.io (the msgpack codec that
// @socket.io/redis-adapter 8.x and @socket.io/redis-emitter use) writes for the fixture messages
// pinned in roomcast's Redis wire-format unit tests (src/adapter/redis/*_tests.rs). The objects are
// built with the key order the adapter uses. Regenerate with:
//   cd tests/js && node tools/redis-wire-fixtures.mjs
import notepack from "notepack.io";

const fixtures = {
  // broadcast(): [uid, packet, {rooms, except, flags}], packet.nsp set by the adapter
  plain_broadcast: ["abc123", { type: 2, data: ["hello", "world"], nsp: "/" }, { rooms: [], except: [], flags: {} }],
  room_broadcast: [
    "abc123",
    { type: 2, data: ["news", 42], nsp: "/chat" },
    { rooms: ["room1"], except: ["room2", "s1"], flags: { volatile: true } },
  ],
  binary_broadcast: [
    "abc123",
    { type: 2, data: ["file", Buffer.from([1, 2, 3]), "name"], nsp: "/" },
    { rooms: ["a", "b"], except: [], flags: { compress: true } },
  ],
  nested_broadcast: [
    "abc123",
    {
      type: 2,
      data: ["obj", { one: 1, minus: -1, big: 300, half: 1.5, text: "héllo", none: null, list: [true, false] }],
      nsp: "/",
    },
    { rooms: [], except: [], flags: { timeout: 5000 } },
  ],
  // broadcastWithAck(): the BROADCAST request (type 7), msgpack
  broadcast_with_ack: {
    uid: "abc123",
    requestId: "req456",
    type: 7,
    packet: { type: 2, data: ["ask", Buffer.from([255])], nsp: "/" },
    opts: { rooms: ["r"], except: [], flags: { timeout: 1000 } },
  },
  // one client's acknowledgement (type 9), msgpack
  broadcast_ack: { type: 9, requestId: "req456", packet: { ok: true, n: 7 } },
  broadcast_ack_binary: { type: 9, requestId: "req456", packet: Buffer.from([9, 8]) },
  // the ClusterAdapter format (sharded adapter): msgpack only when binary is present
  cluster_broadcast_binary: {
    type: 3,
    data: { opts: { rooms: ["r"], except: [], flags: {} }, packet: { type: 2, data: ["b", Buffer.from([1])], nsp: "/" } },
    uid: "0123456789abcdef",
    nsp: "/",
  },
};

for (const [name, value] of Object.entries(fixtures)) {
  console.log(name, notepack.encode(value).toString("hex"));
}

// The JSON requests and responses, as the adapter (and the emitter, without uid) stringifies them.
const opts = { rooms: ["a"], except: ["b"] };
const json = {
  sockets: { uid: "abc123", requestId: "req456", type: 0, rooms: ["a", "b"] },
  all_rooms: { uid: "abc123", requestId: "req456", type: 1 },
  remote_join: { uid: "abc123", type: 2, opts, rooms: ["c"] },
  emitter_leave: { type: 3, opts: { rooms: [], except: [] }, rooms: ["c"] },
  remote_disconnect: { uid: "abc123", type: 4, opts, close: true },
  legacy_join: { uid: "abc123", requestId: "req456", type: 2, sid: "s1", room: "c" },
  legacy_disconnect: { uid: "abc123", requestId: "req456", type: 4, sid: "s1", close: false },
  remote_fetch: { uid: "abc123", requestId: "req456", type: 5, opts },
  server_side_emit: { uid: "abc123", type: 6, data: ["hi", 1, { x: null }] },
  server_side_emit_ack: { uid: "abc123", requestId: "req456", type: 6, data: ["hi"] },
  sockets_response: { requestId: "req456", sockets: ["s1", "s2"] },
  all_rooms_response: { requestId: "req456", rooms: ["a"] },
  done_response: { requestId: "req456" },
  server_side_emit_response: { type: 6, requestId: "req456", data: { ok: 1 } },
  client_count_response: { type: 8, requestId: "req456", clientCount: 3 },
  cluster_heartbeat: { type: 2, uid: "0123456789abcdef", nsp: "/" },
  cluster_join: { type: 4, data: { opts, rooms: ["c"] }, uid: "0123456789abcdef", nsp: "/chat" },
  cluster_broadcast_ack_request: {
    type: 3,
    data: { opts: { rooms: [], except: [], flags: { timeout: 100 } }, packet: { type: 2, data: ["e"], nsp: "/" }, requestId: "r1" },
    uid: "0123456789abcdef",
    nsp: "/",
  },
  cluster_fetch: { type: 7, data: { opts, requestId: "r1" }, uid: "0123456789abcdef", nsp: "/" },
  cluster_client_count: { type: 11, data: { requestId: "r1", clientCount: 2 }, uid: "0123456789abcdef", nsp: "/" },
  cluster_unknown: { type: 99, uid: "emitter", nsp: "/" },
};
for (const [name, value] of Object.entries(json)) {
  console.log(name, JSON.stringify(value));
}
