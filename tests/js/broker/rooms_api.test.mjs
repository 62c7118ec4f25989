// The broker's client room API (issue 3, section 2) through socket.io-client: `join`, `leave` and
// `publish` under the namespace policies of config.toml (client_join, client_publish), room-name rules,
// reserved events, unknown events and max_rooms_per_socket.
//
// Non-delivery is checked with a barrier: after the publish under test has been acknowledged, the admin
// API emits a tagged "barrier" event to every socket of the namespace; broadcasts reach each socket in the
// order the server took them, so once a socket got the barrier, a wrongly delivered publish would already
// be in its inbox.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record, barrier, sorted } from "./lib/broker.mjs";

const MAX_ROOMS = 3;
let broker;

before(async () => {
  broker = await startBroker({
    limits: { max_rooms_per_socket: MAX_ROOMS },
    namespaces: [
      { name: "/", client_join: true, client_publish: "joined" },
      { name: "/any", client_publish: "any" },
      { name: "/nopub", client_publish: "none" },
      { name: "/nojoin", client_join: false, client_publish: "any" },
    ],
  });
});
after(async () => {
  const r = await broker?.stop();
  assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});
afterEach(() => broker.closeClients());

/** A connected client on `nsp` recording `events` (plus "barrier"). */
async function client(nsp = "/", events = ["msg"], opts = {}) {
  const socket = await broker.connect(nsp, opts);
  const inbox = record(socket, [...events, "barrier"]);
  return { socket, inbox };
}

/** The socket's named rooms as the admin API reports them. */
async function apiRooms(socket, nsp = "/") {
  const s = await broker.ok(`/api/v1/sockets/${socket.id}?namespace=${encodeURIComponent(nsp)}`);
  return sorted(s.rooms);
}

/** A successful join/leave answer listing exactly `rooms` (in any order). */
function assertRooms(reply, rooms) {
  assert.deepEqual(Object.keys(reply).sort(), ["ok", "rooms"], JSON.stringify(reply));
  assert.equal(reply.ok, true);
  assert.deepEqual(sorted(reply.rooms), sorted(rooms));
}

function assertRefused(reply, pattern) {
  assert.equal(reply.ok, false, `expected a refusal, got ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error, "string");
  assert.ok(reply.error.length > 0, "the refusal names a reason");
  if (pattern) assert.match(reply.error, pattern);
  assert.deepEqual(Object.keys(reply).sort(), ["error", "ok"]);
}

describe("join and leave", () => {
  it("join with one name or an array answers {ok:true, rooms} without the socket's own id", async () => {
    const { socket } = await client();
    const one = await ask(socket, "join", "j-a");
    assert.deepEqual(one, { ok: true, rooms: ["j-a"] });
    const many = await ask(socket, "join", ["j-b", "j-c"]);
    assertRooms(many, ["j-a", "j-b", "j-c"]);
    assert.deepEqual(await apiRooms(socket), ["j-a", "j-b", "j-c"]);
  });

  it("joining twice or joining the own id room changes nothing and never lists the id", async () => {
    const { socket } = await client();
    await ask(socket, "join", "j-twice");
    assert.deepEqual(await ask(socket, "join", ["j-twice", "j-twice"]), { ok: true, rooms: ["j-twice"] });
    assert.deepEqual(await ask(socket, "join", socket.id), { ok: true, rooms: ["j-twice"] });
    assert.deepEqual(await apiRooms(socket), ["j-twice"]);
  });

  it("leave with one name or an array answers the rooms left; leaving a room not joined is harmless", async () => {
    const { socket } = await client();
    await ask(socket, "join", ["l-a", "l-b", "l-c"]);
    assertRooms(await ask(socket, "leave", "l-a"), ["l-b", "l-c"]);
    assert.deepEqual(await apiRooms(socket), ["l-b", "l-c"]);
    const r = await ask(socket, "leave", ["l-b", "l-c"]);
    assert.deepEqual(r, { ok: true, rooms: [] });
    assert.deepEqual(await ask(socket, "leave", "never-joined"), { ok: true, rooms: [] });
    assert.deepEqual(await apiRooms(socket), []);
  });

  it("client_join = false refuses join and leave, and nothing changes", async () => {
    const { socket } = await client("/nojoin");
    assertRefused(await ask(socket, "join", "nj-a"), /join/);
    assert.deepEqual(await apiRooms(socket, "/nojoin"), []);
    // put it in a room through the admin API, then a client leave is refused too
    await broker.ok("/api/v1/sockets/join", { namespace: "/nojoin", sockets: [socket.id], add: ["nj-b"] });
    assertRefused(await ask(socket, "leave", "nj-b"), /leave/);
    assert.deepEqual(await apiRooms(socket, "/nojoin"), ["nj-b"]);
  });

  for (const [label, arg] of [
    ["an empty name", ""],
    ["a name of 257 bytes", "x".repeat(257)],
    ["a name of 257 bytes in UTF-8 (128 x 'é' + 'x')", "é".repeat(128) + "x"],
    ["a number", 42],
    ["null", null],
    ["an object", { room: "a" }],
    ["an empty array", []],
    ["an array with a non-string", ["bad-ok", 2]],
    ["an array with an empty name", ["bad-ok", ""]],
  ]) {
    it(`join/leave/publish with ${label} answer {ok:false,error} and change nothing`, async () => {
      const { socket } = await client();
      const { socket: peer, inbox } = await client();
      await ask(socket, "join", "bad-keep");
      await ask(peer, "join", ["bad-keep", "bad-ok"]);
      assertRefused(await ask(socket, "join", arg));
      assert.deepEqual(await apiRooms(socket), ["bad-keep"]);
      assertRefused(await ask(socket, "leave", arg));
      assert.deepEqual(await apiRooms(socket), ["bad-keep"]);
      assertRefused(await ask(socket, "publish", arg, "msg", "should not arrive"));
      await barrier(broker, [inbox]);
      assert.deepEqual(inbox.of("msg"), []);
    });
  }

  it("a 256-byte name (128 x 'é') is accepted", async () => {
    const { socket } = await client();
    const name = "é".repeat(128);
    assert.equal(Buffer.byteLength(name), 256);
    assert.deepEqual(await ask(socket, "join", name), { ok: true, rooms: [name] });
  });

  it(`max_rooms_per_socket = ${MAX_ROOMS}: the own id room does not count, one more join is refused and changes nothing`, async () => {
    const { socket } = await client();
    const full = ["m-1", "m-2", "m-3"];
    assertRooms(await ask(socket, "join", full), full);
    assertRefused(await ask(socket, "join", "m-4"), /room/);
    // an array that would pass the limit is refused whole
    await ask(socket, "leave", "m-3");
    assertRefused(await ask(socket, "join", ["m-3", "m-4"]), /room/);
    assert.deepEqual(await apiRooms(socket), ["m-1", "m-2"]);
    // re-joining a room it is in does not count as a new room
    assertRooms(await ask(socket, "join", ["m-1", "m-3"]), full);
  });
});

describe("publish", () => {
  it("reaches every other member of the union of the rooms exactly once, not the sender, not outsiders", async () => {
    const a = await client(); // in r1
    const b = await client(); // in r1 and r2: one copy only
    const c = await client(); // in r2
    const out = await client(); // elsewhere
    const none = await client(); // no room at all
    const sender = await client(); // in r1 and r2
    await ask(a.socket, "join", "p-r1");
    await ask(b.socket, "join", ["p-r1", "p-r2"]);
    await ask(c.socket, "join", "p-r2");
    await ask(out.socket, "join", "p-elsewhere");
    await ask(sender.socket, "join", ["p-r1", "p-r2"]);

    const args = ["hello", { n: 1, list: [1, "two", null] }, 3.5, true];
    assert.deepEqual(await ask(sender.socket, "publish", ["p-r1", "p-r2"], "msg", ...args), { ok: true });

    const all = { a, b, c, out, none, sender };
    await barrier(broker, Object.values(all).map((x) => x.inbox));
    const got = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.inbox.of("msg")]));
    assert.deepEqual(got, { a: [args], b: [args], c: [args], out: [], none: [], sender: [] });
  });

  it("with a single room name and no ack also delivers", async () => {
    const a = await client();
    const sender = await client();
    await ask(a.socket, "join", "p-single");
    await ask(sender.socket, "join", "p-single");
    sender.socket.emit("publish", "p-single", "msg", "no ack");
    await a.inbox.wait((i) => i.event === "msg", 5000, "the publish without ack");
    assert.deepEqual(a.inbox.of("msg"), [["no ack"]]);
  });

  it("binary arguments arrive as binary (websocket and polling receivers)", async () => {
    const ws = await client("/", ["msg"], { transports: ["websocket"] });
    const polling = await client("/", ["msg"], { transports: ["polling"] });
    const sender = await client("/", ["msg"], { transports: ["polling"] });
    for (const x of [ws, polling, sender]) await ask(x.socket, "join", "p-bin");
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const nested = { label: "nested", data: Buffer.from("héllo") };
    assert.deepEqual(await ask(sender.socket, "publish", "p-bin", "msg", bytes, nested, "text"), { ok: true });
    for (const [name, x] of [
      ["websocket", ws],
      ["polling", polling],
    ]) {
      const item = await x.inbox.wait((i) => i.event === "msg", 5000, `binary publish at ${name}`);
      const [gotBytes, gotNested, text] = item.args;
      assert.ok(Buffer.isBuffer(gotBytes) || gotBytes instanceof ArrayBuffer, `${name}: first arg is binary`);
      assert.deepEqual(Buffer.from(gotBytes), bytes);
      assert.equal(gotNested.label, "nested");
      assert.ok(Buffer.isBuffer(gotNested.data) || gotNested.data instanceof ArrayBuffer, `${name}: nested binary`);
      assert.deepEqual(Buffer.from(gotNested.data), nested.data);
      assert.equal(text, "text");
    }
  });

  it('client_publish = "joined": refused (and nothing delivered) when the sender is not in every room', async () => {
    const a = await client();
    const b = await client();
    const sender = await client();
    await ask(a.socket, "join", "pj-r1");
    await ask(b.socket, "join", "pj-r2");
    await ask(sender.socket, "join", "pj-r1");
    assertRefused(await ask(sender.socket, "publish", "pj-r2", "msg", "x"), /pj-r2/);
    assertRefused(await ask(sender.socket, "publish", ["pj-r1", "pj-r2"], "msg", "y"), /pj-r2/);
    await barrier(broker, [a.inbox, b.inbox]);
    assert.deepEqual([a.inbox.of("msg"), b.inbox.of("msg")], [[], []]);
  });

  it('client_publish = "any": a sender outside the room may publish', async () => {
    const a = await client("/any");
    const sender = await client("/any");
    await ask(a.socket, "join", "pa-r");
    assert.deepEqual(await apiRooms(sender.socket, "/any"), []);
    assert.deepEqual(await ask(sender.socket, "publish", "pa-r", "msg", "from outside"), { ok: true });
    const item = await a.inbox.wait((i) => i.event === "msg");
    assert.deepEqual(item.args, ["from outside"]);
  });

  it('client_publish = "none": refused even to a room the sender is in, nothing delivered', async () => {
    const a = await client("/nopub");
    const sender = await client("/nopub");
    await ask(a.socket, "join", "pn-r");
    assert.deepEqual(await ask(sender.socket, "join", "pn-r"), { ok: true, rooms: ["pn-r"] });
    assertRefused(await ask(sender.socket, "publish", "pn-r", "msg", "x"), /publish/);
    await barrier(broker, [a.inbox], { namespace: "/nopub" });
    assert.deepEqual(a.inbox.of("msg"), []);
  });

  for (const reserved of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
    it(`a reserved event name ("${reserved}") is refused and nothing is delivered`, async () => {
      const a = await client("/", [reserved]);
      const sender = await client();
      await ask(a.socket, "join", "pr-r");
      await ask(sender.socket, "join", "pr-r");
      assertRefused(await ask(sender.socket, "publish", "pr-r", reserved, "x"), /reserved/);
      await barrier(broker, [a.inbox]);
      assert.deepEqual(a.inbox.items.filter((i) => i.event !== "barrier"), []);
      assert.ok(a.socket.connected, "the member is still connected");
    });
  }

  for (const [label, event] of [
    ["a missing event name", undefined],
    ["an empty event name", ""],
    ["a non-string event name", 7],
  ]) {
    it(`${label} is refused`, async () => {
      const { socket } = await client();
      await ask(socket, "join", "pe-r");
      const reply = event === undefined ? await ask(socket, "publish", "pe-r") : await ask(socket, "publish", "pe-r", event, "x");
      assertRefused(reply, /event/);
    });
  }
});

describe("other events", () => {
  it('an unknown event with an ack is answered {ok:false,error:"unknown event"}; without an ack it is ignored', async () => {
    const { socket } = await client();
    assert.deepEqual(await ask(socket, "whatever", 1, { a: 2 }), { ok: false, error: "unknown event" });
    socket.emit("whatever-no-ack", 1);
    // still served afterwards
    assert.deepEqual(await ask(socket, "join", "u-after"), { ok: true, rooms: ["u-after"] });
    assert.ok(socket.connected);
  });
});
