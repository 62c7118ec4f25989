// Two brokers as one cluster through a real redis-server ([cluster] adapter = "redis", the classic
// format of Node's @socket.io/redis-adapter): a publish on node A reaches the room's members on node B
// exactly once and not the publisher; an admin emit to everyone on node B reaches node A's clients;
// binary arguments cross as binary; what travels is Node's format on Node's channels.
//
// Non-delivery and "exactly once" are checked with a cross-node barrier: after the broadcast under test,
// node A's admin API emits a tagged "barrier" to everyone; it travels the same way (A's publisher, then
// B's subscriber), so once every inbox has it, the broadcast before it has arrived wherever it will.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record } from "../broker/lib/broker.mjs";
import notepack from "notepack.io";
import { startRedis, redisCommand, subscribeRaw, until } from "./redis.mjs";

let redis;
let nodeA;
let nodeB;
let barrierSeq = 0;

const clusterConfig = () => ({
  cluster: { adapter: "redis", redis_url: redis.url, key: "socket.io" },
  namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
});

before(async () => {
  redis = await startRedis();
  nodeA = await startBroker(clusterConfig());
  nodeB = await startBroker(clusterConfig());
  // A namespace's adapter (and its PSUBSCRIBE) is made on first use: one client on each node makes
  // "/"'s; then both nodes have subscribed (one pattern each) and can publish.
  await Promise.all([nodeA.connect("/"), nodeB.connect("/")]);
  const subscribers = async () => (await redisCommand(redis.port, "CLIENT", "LIST")).match(/ psub=1 /g)?.length ?? 0;
  await until(async () => (await subscribers()) === 2, "a PSUBSCRIBE from each node", 10000);
  await nodeA.waitForLog(/Redis publisher connected/, 10000);
  await nodeB.waitForLog(/Redis publisher connected/, 10000);
  nodeA.closeClients();
  nodeB.closeClients();
});

after(async () => {
  const results = [await nodeA?.stop(), await nodeB?.stop()];
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

afterEach(() => {
  nodeA.closeClients();
  nodeB.closeClients();
});

async function client(node, events) {
  const socket = await node.connect("/");
  return { socket, inbox: record(socket, [...events, "barrier"]) };
}

/** Emits a tagged barrier to everyone from `node` and waits until every inbox has it. */
async function barrier(node, inboxes) {
  const tag = `barrier-${++barrierSeq}`;
  await node.ok("/api/v1/emit", { event: "barrier", args: [tag] });
  await Promise.all(inboxes.map((inbox) => inbox.wait((i) => i.event === "barrier" && i.args[0] === tag, 5000, tag)));
}

describe("broadcasts across two brokers over Redis", () => {
  it("a publish to a room on node A reaches the member on node B exactly once, not the publisher", async () => {
    const a = await client(nodeA, ["msg"]);
    const b = await client(nodeB, ["msg"]);
    const outsider = await client(nodeB, ["msg"]);
    assert.deepEqual(await ask(a.socket, "join", "lobby"), { ok: true, rooms: ["lobby"] });
    assert.deepEqual(await ask(b.socket, "join", "lobby"), { ok: true, rooms: ["lobby"] });
    assert.deepEqual(await ask(a.socket, "publish", "lobby", "msg", "hello", { n: 1 }), { ok: true });
    await barrier(nodeA, [a.inbox, b.inbox, outsider.inbox]);
    assert.deepEqual(b.inbox.of("msg"), [["hello", { n: 1 }]], "exactly once on node B");
    assert.deepEqual(a.inbox.of("msg"), [], "the publisher does not get its own publish");
    assert.deepEqual(outsider.inbox.of("msg"), [], "a socket outside the room gets nothing");
  });

  it("an emit to everyone on node B reaches node A's clients once", async () => {
    const a1 = await client(nodeA, ["news"]);
    const a2 = await client(nodeA, ["news"]);
    const b = await client(nodeB, ["news"]);
    const res = await nodeB.ok("/api/v1/emit", { event: "news", args: ["from B", 42] });
    assert.equal(res.recipients, 3, "node B counts the recipients of every node");
    await barrier(nodeB, [a1.inbox, a2.inbox, b.inbox]);
    for (const inbox of [a1.inbox, a2.inbox, b.inbox]) assert.deepEqual(inbox.of("news"), [["from B", 42]]);
  });

  it("binary arguments published on node A arrive on node B as binary", async () => {
    const a = await client(nodeA, ["pic"]);
    const b = await client(nodeB, ["pic"]);
    assert.deepEqual(await ask(a.socket, "join", "gallery"), { ok: true, rooms: ["gallery"] });
    assert.deepEqual(await ask(b.socket, "join", ["gallery", "other"]), { ok: true, rooms: ["gallery", "other"] });
    const args = ["caption", Buffer.from([0, 1, 2, 255]), { thumb: Buffer.alloc(300, 9), n: 1.5 }];
    assert.deepEqual(await ask(a.socket, "publish", "gallery", "pic", ...args), { ok: true });
    await barrier(nodeA, [a.inbox, b.inbox]);
    assert.deepEqual(b.inbox.of("pic"), [args]);
    assert.ok(Buffer.isBuffer(b.inbox.of("pic")[0][1]), "a Buffer on node B");
    assert.ok(Buffer.isBuffer(b.inbox.of("pic")[0][2].thumb), "a nested Buffer on node B");
    assert.deepEqual(a.inbox.of("pic"), []);
  });

  it("a one-room publish travels on Node's one-room channel as notepack [uid, packet, opts]", async () => {
    const raw = subscribeRaw(redis.port, "socket.io#/#solo#");
    try {
      await raw.ready;
      const a = await client(nodeA, ["msg"]);
      await ask(a.socket, "join", "solo");
      assert.deepEqual(await ask(a.socket, "publish", "solo", "msg", "x", Buffer.from([7])), { ok: true });
      await barrier(nodeA, [a.inbox]);
      await until(async () => raw.messages.length >= 1, "the raw subscriber's message");
      assert.equal(raw.messages.length, 1);
      const [uid, packet, opts] = notepack.decode(raw.messages[0]);
      assert.match(uid, /^[A-Za-z0-9]{6}$/);
      assert.deepEqual(packet, { type: 2, data: ["msg", "x", Buffer.from([7])], nsp: "/" });
      assert.deepEqual(opts, { rooms: ["solo"], except: [a.socket.id], flags: {} });
    } finally {
      raw.close();
    }
  });

  it("node A's admin API lists node B's sockets, and its sockets/join reaches them", async () => {
    const a = await client(nodeA, []);
    const b = await client(nodeB, []);
    await ask(b.socket, "join", "far");
    const listed = await nodeA.ok("/api/v1/sockets");
    assert.deepEqual(listed.sockets.map((s) => s.id).sort(), [a.socket.id, b.socket.id].sort());
    const remote = listed.sockets.find((s) => s.id === b.socket.id);
    assert.deepEqual(remote.rooms, ["far"]);
    assert.deepEqual((await nodeA.ok("/api/v1/sockets?room=far")).sockets.map((s) => s.id), [b.socket.id]);
    await nodeA.ok("/api/v1/sockets/join", { rooms: ["far"], add: ["farther"] });
    await until(async () => (await nodeB.ok(`/api/v1/sockets/${b.socket.id}`)).rooms.includes("farther"), "the join on node B");
  });
});
