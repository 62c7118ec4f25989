// Two roomcast brokers with [cluster] adapter = "redis-sharded" and one Node.js Socket.IO 4.8 server with
// @socket.io/redis-adapter 8.3's createShardedAdapter on one redis-server (Redis 7 sharded pub/sub,
// SPUBLISH/SSUBSCRIBE, the ClusterAdapter format): broadcasts with rooms, except and binary cross both ways,
// exactly once and never to the publisher; the Node server's fetchSockets and disconnectSockets reach
// roomcast's sockets; roomcast's socketsJoin reaches the Node server's sockets; a room's channel is
// subscribed by a broker only while the room has members on it (PUBSUB SHARDNUMSUB); after a Redis
// restart the brokers subscribe again by themselves and broadcasts cross again.
//
// Non-delivery and "exactly once" are checked with barriers: after the broadcast under test, the same
// server emits a tagged "barrier" to everyone; it leaves through the same Redis connection after the
// broadcast and one Redis server delivers in order, so once every inbox has it, the broadcast before it
// has arrived wherever it will.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { startBroker, ask, record, once } from "../broker/lib/broker.mjs";
import { startNodePeer, crossBarrier, shardNumsub as shardNumsubAt } from "./node-peer.mjs";
import { startRedis, until } from "./redis.mjs";

let redis;
let nodeA;
let nodeB;
let peer;
let io;

const brokerConfig = () => ({
  cluster: { adapter: "redis-sharded", redis_url: redis.url, key: "socket.io", sharded_subscription_mode: "dynamic" },
  namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
});

/** `PUBSUB SHARDNUMSUB channel` (how the sharded adapters count servers). */
const shardNumsub = (channel) => shardNumsubAt(redis.url, channel);

before(async () => {
  redis = await startRedis();
  peer = await startNodePeer({ pub: createClient({ url: redis.url }), adapter: createShardedAdapter });
  io = peer.io;
  nodeA = await startBroker(brokerConfig());
  nodeB = await startBroker(brokerConfig());
  // A namespace's adapter (and its subscriptions) is made on first use.
  await Promise.all([nodeA.connect("/"), nodeB.connect("/")]);
  await until(async () => (await shardNumsub("socket.io#/#")) === 3, "three servers on socket.io#/#", 10000);
  await nodeA.waitForLog(/Redis publisher connected/, 10000);
  await nodeB.waitForLog(/Redis publisher connected/, 10000);
  nodeA.closeClients();
  nodeB.closeClients();
});

after(async () => {
  await peer?.stop();
  const results = [await nodeA?.stop(), await nodeB?.stop()];
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

afterEach(() => {
  nodeA.closeClients();
  nodeB.closeClients();
  peer.closeClients();
});

/** A client of roomcast `node` recording `events` (and barriers); WebSocket unless `opts` say otherwise. */
async function rcClient(node, events, opts = {}) {
  const socket = await node.connect("/", opts);
  return { socket, inbox: record(socket, [...events, "barrier"]) };
}

/** A client of the Node server recording `events` (and barriers). */
const nodeClient = (events) => peer.recordingClient(events);

/** Emits a tagged barrier to everyone from `from` (a broker or "node") and waits for it in every inbox. */
const barrier = (from, inboxes) => crossBarrier(from === "node" ? peer : from, inboxes);

describe("broadcasts across roomcast and Node over sharded pub/sub", () => {
  it("a roomcast publish to a room reaches its members on the other broker and the Node server once, not the publisher", async () => {
    const a = await rcClient(nodeA, ["msg"]);
    const b = await rcClient(nodeB, ["msg"]);
    const n = await nodeClient(["msg"]);
    const outsider = await nodeClient(["msg"]);
    for (const s of [a.socket, b.socket, n.socket]) assert.equal((await ask(s, "join", "lobby")).ok, true);
    await until(async () => (await shardNumsub("socket.io#/#lobby#")) === 3, "lobby's channel on three servers");
    assert.deepEqual(await ask(a.socket, "publish", "lobby", "msg", "hello", { n: 1 }), { ok: true });
    await barrier(nodeA, [a.inbox, b.inbox, n.inbox, outsider.inbox]);
    assert.deepEqual(b.inbox.of("msg"), [["hello", { n: 1 }]], "exactly once on the other broker");
    assert.deepEqual(n.inbox.of("msg"), [["hello", { n: 1 }]], "exactly once on the Node server");
    assert.deepEqual(a.inbox.of("msg"), [], "the publisher does not get its own publish");
    assert.deepEqual(outsider.inbox.of("msg"), [], "a socket outside the room gets nothing");
  });

  it("a Node broadcast to a room, and to everyone except a room, reaches roomcast's sockets (polling too)", async () => {
    const a = await rcClient(nodeA, ["news", "all"]);
    const b = await rcClient(nodeB, ["news", "all"], { transports: ["polling"] });
    const quiet = await rcClient(nodeB, ["news", "all"], { transports: ["polling", "websocket"] });
    await ask(a.socket, "join", "news-room");
    await ask(quiet.socket, "join", "muted");
    await until(async () => (await shardNumsub("socket.io#/#news-room#")) === 1, "news-room's channel on node A");
    io.to("news-room").emit("news", "to the room");
    io.except("muted").emit("all", "not muted");
    await barrier("node", [a.inbox, b.inbox, quiet.inbox]);
    assert.deepEqual(a.inbox.of("news"), [["to the room"]]);
    assert.deepEqual(b.inbox.of("news"), [], "not in the room");
    assert.deepEqual(a.inbox.of("all"), [["not muted"]]);
    assert.deepEqual(b.inbox.of("all"), [["not muted"]]);
    assert.deepEqual(quiet.inbox.of("all"), [], "in the excepted room");
  });

  it("an admin emit on roomcast with except reaches the Node server's sockets outside the excepted room", async () => {
    const n1 = await nodeClient(["alert"]);
    const n2 = await nodeClient(["alert"]);
    await ask(n2.socket, "join", "vip");
    await nodeB.ok("/api/v1/emit", { event: "alert", args: ["hi"], except: ["vip"] });
    await barrier(nodeB, [n1.inbox, n2.inbox]);
    assert.deepEqual(n1.inbox.of("alert"), [["hi"]]);
    assert.deepEqual(n2.inbox.of("alert"), [], "excepted");
  });

  it("binary arguments cross as binary both ways", async () => {
    const a = await rcClient(nodeA, ["bin"]);
    const n = await nodeClient(["bin"]);
    await ask(a.socket, "join", "bin-room");
    await ask(n.socket, "join", "bin-room");
    assert.deepEqual(await ask(a.socket, "publish", "bin-room", "bin", Buffer.from([1, 2, 3]), "tail"), { ok: true });
    const [bytes, tail] = (await n.inbox.wait((i) => i.event === "bin", 5000, "roomcast's binary")).args;
    assert.ok(Buffer.isBuffer(bytes), `a Buffer, got ${typeof bytes}`);
    assert.deepEqual([...bytes, tail], [1, 2, 3, "tail"]);
    io.to("bin-room").emit("bin", Buffer.from([4, 5]), { nested: Buffer.from([6]) });
    const [mine, obj] = (await a.inbox.wait((i) => i.event === "bin", 5000, "Node's binary")).args;
    assert.deepEqual([...Buffer.from(mine)], [4, 5]);
    assert.deepEqual([...Buffer.from(obj.nested)], [6]);
  });
});

describe("requests between the servers", () => {
  it("io.fetchSockets() on the Node server lists both brokers' sockets, and an empty answer is an answer", async () => {
    const a = await rcClient(nodeA, []);
    const b = await rcClient(nodeB, []);
    await ask(b.socket, "join", "fetch-room");
    const all = (await io.fetchSockets()).map((s) => s.id);
    for (const s of [a.socket, b.socket]) assert.ok(all.includes(s.id), `${s.id} among ${all}`);
    const inRoom = await io.in("fetch-room").fetchSockets();
    assert.deepEqual(inRoom.map((s) => s.id), [b.socket.id]);
    assert.deepEqual([...inRoom[0].rooms], [b.socket.id, "fetch-room"]);
    assert.equal(inRoom[0].handshake.query.EIO, "4");
    const started = Date.now();
    assert.deepEqual(await io.in("nobody-here").fetchSockets(), []);
    assert.ok(Date.now() - started < 4000, "both brokers answered, no timeout");
  });

  it("disconnectSockets on the Node server disconnects a roomcast socket", async () => {
    const a = await rcClient(nodeA, []);
    const gone = once(a.socket, "disconnect");
    io.in(a.socket.id).disconnectSockets(true);
    assert.equal((await gone)[0], "io server disconnect");
  });

  it("socketsJoin from roomcast's admin API makes a Node socket join, and roomcast lists Node's sockets", async () => {
    const n = await nodeClient([]);
    const a = await rcClient(nodeA, []);
    await nodeA.ok("/api/v1/sockets/join", { sockets: [n.socket.id, a.socket.id], add: ["joined-by-rc"] });
    const nodeSocket = () => io.of("/").sockets.get(n.socket.id);
    await until(async () => nodeSocket()?.rooms.has("joined-by-rc"), "the Node socket in joined-by-rc");
    const listed = await nodeA.ok("/api/v1/sockets");
    const ids = listed.sockets.map((s) => s.id);
    assert.ok(ids.includes(n.socket.id), `the Node server's socket among ${ids}`);
  });
});

describe("room channels and Redis restarts", () => {
  it("a broker subscribes to a room's channel only while the room has members on it", async () => {
    const channel = "socket.io#/#dyn-room#";
    const count = () => shardNumsub(channel);
    assert.equal(await count(), 0);
    const a = await rcClient(nodeA, []);
    const b1 = await rcClient(nodeB, []);
    const b2 = await rcClient(nodeB, []);
    await ask(a.socket, "join", "dyn-room");
    await until(async () => (await count()) === 1, "node A on the room's channel");
    await ask(b1.socket, "join", "dyn-room");
    await ask(b2.socket, "join", "dyn-room");
    await until(async () => (await count()) === 2, "node B on the room's channel");
    await ask(a.socket, "leave", "dyn-room");
    await until(async () => (await count()) === 1, "node A off the room's channel");
    await ask(b1.socket, "leave", "dyn-room");
    assert.equal(await count(), 1, "b2 is still in the room");
    b2.socket.disconnect();
    await until(async () => (await count()) === 0, "node B off the room's channel once its last member left");
    // The next join is subscribed on the same connection: unsubscribing did not cost the subscriber its
    // connection (a reconnection would have emptied the count too, and logged the loss).
    const again = await rcClient(nodeB, []);
    await ask(again.socket, "join", "dyn-room");
    await until(async () => (await count()) === 1, "node B on the room's channel again");
    for (const node of [nodeA, nodeB]) assert.doesNotMatch(node.logs, /subscription lost/);
  });

  it("after a Redis restart the brokers subscribe again and broadcasts cross again", async () => {
    const a = await rcClient(nodeA, ["msg"]);
    const b = await rcClient(nodeB, ["msg"]);
    await ask(a.socket, "join", "phoenix");
    await ask(b.socket, "join", "phoenix");
    await until(async () => (await shardNumsub("socket.io#/#phoenix#")) === 2, "both brokers on phoenix");
    const port = redis.port;
    await redis.stop();
    redis = await startRedis({ port });
    await until(async () => (await shardNumsub("socket.io#/#phoenix#")) === 2, "both brokers on phoenix again", 20000);
    await until(async () => (await shardNumsub("socket.io#/#")) >= 2, "both brokers on socket.io#/# again", 20000);
    // The first publishes after the restart may still meet the publisher's old connection.
    let n = 0;
    await until(async () => {
      await ask(a.socket, "publish", "phoenix", "msg", ++n);
      return b.inbox.of("msg").length > 0;
    }, "a publish on node A reaching node B again", 20000);
    assert.equal(a.inbox.of("msg").length, 0, "never the publisher");
  });
});
