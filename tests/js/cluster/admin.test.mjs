// The admin API of a roomcast node answers for the whole cluster (issue 10 item 5): two roomcast
// brokers and a Node.js Socket.IO 4.8 server with @socket.io/redis-adapter on one redis-server. From
// node A: /stats counts the nodes and every node's sockets and rooms; /rooms sums room sizes over the
// nodes; /sockets and /sockets/{id} list every node's sockets, each with the node that holds it (null
// for the Node server's); join, leave and disconnect act on every node and count what they selected.
// ?local=true restricts each call to node A (an emit reaches node A's clients only). A server that is counted but never answers delays a call
// by the request timeout (5 s), after which it answers with what arrived.

import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { startBroker, ask, once, sorted } from "../broker/lib/broker.mjs";
import { startRedis, numsub, subscribeRaw, until } from "./redis.mjs";

let redis;
let nodeA;
let nodeB;
let io;
let httpServer;
const redisClients = [];
const nodeClients = [];
// the clients: on A in "shared" and "a-only"; on B in "shared" and "b-only", and in no room; on the
// Node server in "shared"
let a;
let b1;
let b2;
let n;
let ids;

const config = () => ({
  cluster: { adapter: "redis", redis_url: redis.url, key: "socket.io" },
  namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
});

before(async () => {
  redis = await startRedis();
  [nodeA, nodeB] = [await startBroker(config()), await startBroker(config())];
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);
  httpServer = createServer();
  io = new Server(httpServer, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
  io.on("connection", (socket) => socket.on("join", (room, ack) => (socket.join(room), ack())));
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  a = await nodeA.connect("/");
  b1 = await nodeB.connect("/");
  b2 = await nodeB.connect("/");
  await until(async () => (await numsub(redis.port, "socket.io-request#/#")) === 3, "three servers on the request channel", 10000);
  await ask(a, "join", ["shared", "a-only"]);
  await ask(b1, "join", ["shared", "b-only"]);
  n = ioc(`http://127.0.0.1:${httpServer.address().port}`, { forceNew: true, reconnection: false, transports: ["websocket"] });
  nodeClients.push(n);
  await once(n, "connect");
  await n.timeout(5000).emitWithAck("join", "shared");
  ids = { A: (await nodeA.ok("/api/v1/stats?local=true")).node_id, B: (await nodeB.ok("/api/v1/stats?local=true")).node_id };
});

after(async () => {
  for (const c of nodeClients) c.disconnect();
  io?.close();
  await Promise.all(redisClients.map((c) => c.quit().catch(() => {})));
  const results = [await nodeA?.stop(), await nodeB?.stop()];
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

it("/stats counts the nodes, and the sockets and rooms of every node; ?local=true this node's", async () => {
  const stats = await nodeA.ok("/api/v1/stats");
  assert.equal(stats.nodes, 3);
  assert.equal(stats.node_id, ids.A);
  assert.notEqual(ids.A, ids.B);
  assert.equal(stats.connections, 1, "Engine.IO connections are this node's");
  assert.equal(stats.sockets, 4);
  assert.deepEqual(stats.namespaces, [{ name: "/", sockets: 4, rooms: 3 }], "shared, a-only, b-only (no id rooms)");
  const local = await nodeA.ok("/api/v1/stats?local=true");
  assert.equal(local.nodes, 1);
  assert.deepEqual(local.namespaces, [{ name: "/", sockets: 1, rooms: 2 }]);
});

it("/rooms sums each room's sockets over the nodes; ?local=true this node's", async () => {
  assert.deepEqual(await nodeA.ok("/api/v1/rooms"), {
    rooms: [
      { name: "a-only", sockets: 1 },
      { name: "b-only", sockets: 1 },
      { name: "shared", sockets: 3 },
    ],
    total: 3,
  });
  assert.deepEqual(await nodeA.ok("/api/v1/rooms?limit=1&offset=2"), { rooms: [{ name: "shared", sockets: 3 }], total: 3 });
  assert.deepEqual(await nodeA.ok("/api/v1/rooms?local=true"), {
    rooms: [
      { name: "a-only", sockets: 1 },
      { name: "shared", sockets: 1 },
    ],
    total: 2,
  });
});

it("/sockets and /sockets/{id} list every node's sockets with the node holding each", async () => {
  const all = await nodeA.ok("/api/v1/sockets");
  const nodeOf = Object.fromEntries(all.sockets.map((s) => [s.id, s.node]));
  assert.deepEqual(nodeOf, { [a.id]: ids.A, [b1.id]: ids.B, [b2.id]: ids.B, [n.id]: null });
  assert.equal(all.total, 4);
  const byId = Object.fromEntries(all.sockets.map((s) => [s.id, s]));
  assert.deepEqual(sorted(byId[b1.id].rooms), ["b-only", "shared"]);
  assert.deepEqual(byId[n.id].rooms, ["shared"]);
  const shared = await nodeA.ok("/api/v1/sockets?room=shared");
  assert.deepEqual(sorted(shared.sockets.map((s) => s.id)), sorted([a.id, b1.id, n.id]));
  const local = await nodeA.ok("/api/v1/sockets?local=true");
  assert.deepEqual(local.sockets.map((s) => [s.id, s.node]), [[a.id, ids.A]]);

  const remote = await nodeA.ok(`/api/v1/sockets/${b1.id}`);
  assert.equal(remote.node, ids.B);
  assert.deepEqual(remote, byId[b1.id]);
  assert.equal((await nodeA.ok(`/api/v1/sockets/${n.id}`)).node, null);
  const notHere = await nodeA.api(`/api/v1/sockets/${b1.id}?local=true`);
  assert.equal(notHere.status, 404, "?local=true: another node's socket is not found");
});

it("sockets/join and sockets/leave act on every node and count the sockets selected", async () => {
  const roomsOf = async (id) => (await nodeA.ok(`/api/v1/sockets/${id}`)).rooms;
  assert.deepEqual(await nodeA.ok("/api/v1/sockets/join", { rooms: ["shared"], add: ["all-in"] }), { ok: true, affected: 3 });
  await until(async () => (await io.in("all-in").fetchSockets()).length === 3, "three sockets in all-in, seen from the Node server");
  assert.ok((await roomsOf(b1.id)).includes("all-in"));
  assert.ok(!(await roomsOf(b2.id)).includes("all-in"), "b2 was not selected");

  assert.deepEqual(await nodeA.ok("/api/v1/sockets/leave", { rooms: ["all-in"], remove: ["all-in"] }), { ok: true, affected: 3 });
  await until(async () => (await io.in("all-in").fetchSockets()).length === 0, "all-in empty everywhere");

  const local = await nodeA.api("/api/v1/sockets/join?local=true", { body: { rooms: ["shared"], add: ["a-too"] } });
  assert.deepEqual(local.body, { ok: true, affected: 1 });
  assert.deepEqual(sorted(await roomsOf(a.id)), ["a-only", "a-too", "shared"]);
  assert.ok(!(await roomsOf(b1.id)).includes("a-too"), "?local=true: node B's socket is untouched");
});

it("emit with ?local=true reaches and counts this node's clients only (Node's io.local.emit)", async () => {
  const seen = { a: [], b1: [], n: [] };
  const handlers = { a, b1, n };
  for (const [name, client] of Object.entries(handlers)) client.on("only-here", (x) => seen[name].push(x));
  const marker = Promise.all([once(b1, "marker"), once(n, "marker")]);
  const got = once(a, "only-here");
  assert.deepEqual(await nodeA.ok("/api/v1/emit?local=true", { event: "only-here", rooms: ["shared"], args: [1] }), { ok: true, recipients: 1 });
  assert.deepEqual(await got, [1]);
  // A cluster emit after it, through the same Redis connection: had the local one been published, the
  // other nodes would have had it first.
  assert.deepEqual(await nodeA.ok("/api/v1/emit", { event: "marker", rooms: ["shared"] }), { ok: true, recipients: 3 });
  await marker;
  assert.deepEqual(seen, { a: [1], b1: [], n: [] });
  for (const client of Object.values(handlers)) client.off("only-here");
});

it("sockets/disconnect disconnects another node's socket and counts it", async () => {
  const gone = once(b2, "disconnect");
  assert.deepEqual(await nodeA.ok("/api/v1/sockets/disconnect", { sockets: [b2.id] }), { ok: true, affected: 1 });
  assert.equal((await gone)[0], "io server disconnect");
  const local = await nodeA.api("/api/v1/sockets/disconnect?local=true", { body: { sockets: [b1.id] } });
  assert.deepEqual(local.body, { ok: true, affected: 0 }, "?local=true: another node's socket is not selected");
  assert.ok(b1.connected);
});

it("a counted server that never answers: the call ends at the request timeout with what arrived", async () => {
  const silent = subscribeRaw(redis.port, "socket.io-request#/#");
  try {
    await silent.ready;
    const started = Date.now();
    const all = await nodeA.ok("/api/v1/sockets");
    const took = Date.now() - started;
    assert.ok(took >= 4500 && took < 9000, `answered after ${took} ms`);
    assert.ok(all.sockets.some((s) => s.id === b1.id), "the answering nodes' sockets are there");
    assert.ok(silent.messages.length >= 1, "the silent server was asked");
  } finally {
    silent.close();
  }
});
