// A Node.js backend with @socket.io/redis-emitter 5.x (no Socket.IO server of its own) emits into a
// cluster of two roomcast brokers on one redis-server, as backends of Node clusters do (issue 10 item
// 2): to everyone, to rooms, with except, to another namespace, with binary arguments and Dates; socketsJoin,
// socketsLeave and disconnectSockets act on the brokers' sockets; a serverSideEmit reaches both nodes
// (counted in roomcast_cluster_server_side_events_total) and leaves them serving without an error in
// their logs.
//
// Non-delivery is checked with a barrier: after the emit under test, the emitter emits a tagged
// "barrier" to everyone from the same Redis connection; a node receives the emitter's messages in the
// order they were published, so once every inbox has the barrier, the emit before it has arrived
// wherever it will.

import { it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import { startBroker, record, once } from "../broker/lib/broker.mjs";
import { startRedis, numsub, until } from "./redis.mjs";

let redis;
let nodes = [];
let pub;
let emitter;
let barrierSeq = 0;

const EVENTS = ["news", "bin", "barrier"];

before(async () => {
  redis = await startRedis();
  const config = {
    cluster: { adapter: "redis", redis_url: redis.url, key: "socket.io" },
    namespaces: [
      { name: "/", client_join: true, client_publish: "joined" },
      { name: "/other", client_join: true, client_publish: "joined" },
    ],
  };
  nodes = [await startBroker(config), await startBroker(config)];
  // A namespace's adapter (and its subscriptions) is made on first use.
  for (const node of nodes) for (const nsp of ["/", "/other"]) (await node.connect(nsp)).disconnect();
  for (const nsp of ["/", "/other"]) {
    await until(async () => (await numsub(redis.port, `socket.io-request#${nsp}#`)) === 2, `both nodes on ${nsp}`, 10000);
  }
  pub = createClient({ url: redis.url });
  await pub.connect();
  emitter = new Emitter(pub);
});

after(async () => {
  await pub?.quit().catch(() => {});
  const results = [];
  for (const node of nodes) results.push(await node.stop());
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

afterEach(() => nodes.forEach((n) => n.closeClients()));

/** A client on `node` in `rooms` (joined through the broker's room API), recording EVENTS. */
async function client(node, rooms = [], nsp = "/") {
  const socket = await node.connect(nsp);
  if (rooms.length) await socket.timeout(5000).emitWithAck("join", rooms);
  return { socket, inbox: record(socket, EVENTS) };
}

/** The emitter's tagged barrier to everyone of `nsp`, awaited in every inbox. */
async function barrier(clients, nsp = "/") {
  const tag = `barrier-${++barrierSeq}`;
  emitter.of(nsp).emit("barrier", tag);
  await Promise.all(clients.map((c) => c.inbox.wait((i) => i.event === "barrier" && i.args[0] === tag, 5000, tag)));
}

const news = (c) => c.inbox.of("news");

it("emit to everyone reaches the clients of both nodes once", async () => {
  const clients = [await client(nodes[0]), await client(nodes[1])];
  emitter.emit("news", "all", { n: 1 });
  await barrier(clients);
  for (const c of clients) assert.deepEqual(news(c), [["all", { n: 1 }]]);
});

it("values arrive as a Node.js server delivers them: a Date as its ISO text, undefined as null or absent", async () => {
  const clients = [await client(nodes[0]), await client(nodes[1])];
  // notepack 3 writes Dates as msgpack timestamps (32, 64 and 96 bits)
  const dates = [new Date(1700000000123), new Date(1700000000000), new Date(-1)];
  emitter.emit("news", ...dates, { at: dates[0], gone: undefined }, [undefined]);
  await barrier(clients);
  const want = [...dates.map((d) => d.toJSON()), { at: dates[0].toJSON() }, [null]];
  for (const c of clients) assert.deepEqual(news(c), [want]);
});

it("to a room and except a room select on every node", async () => {
  const [inA, inAB, inB, none] = [
    await client(nodes[0], ["a"]),
    await client(nodes[1], ["a", "b"]),
    await client(nodes[1], ["b"]),
    await client(nodes[0]),
  ];
  const all = [inA, inAB, inB, none];
  emitter.to("a").emit("news", "to a");
  emitter.to(["a", "b"]).except("b").emit("news", "a not b");
  emitter.except("a").emit("news", "not a");
  await barrier(all);
  assert.deepEqual(news(inA), [["to a"], ["a not b"]]);
  assert.deepEqual(news(inAB), [["to a"]]);
  assert.deepEqual(news(inB), [["not a"]]);
  assert.deepEqual(news(none), [["not a"]]);
});

it("another namespace's emit reaches that namespace only", async () => {
  const root = [await client(nodes[0]), await client(nodes[1])];
  const other = [await client(nodes[0], [], "/other"), await client(nodes[1], [], "/other")];
  emitter.of("/other").emit("news", "other");
  await barrier(other, "/other");
  await barrier(root, "/");
  for (const c of other) assert.deepEqual(news(c), [["other"]]);
  for (const c of root) assert.deepEqual(news(c), []);
});

it("binary arguments reach the clients as binary", async () => {
  const clients = [await client(nodes[0]), await client(nodes[1])];
  emitter.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([255, 0]), text: "t" });
  await barrier(clients);
  for (const c of clients) {
    const [[bytes, obj]] = c.inbox.of("bin");
    assert.ok(bytes instanceof Buffer || bytes instanceof ArrayBuffer, `binary, got ${typeof bytes}`);
    assert.deepEqual([...Buffer.from(bytes)], [1, 2, 3]);
    assert.deepEqual([...Buffer.from(obj.nested)], [255, 0]);
    assert.equal(obj.text, "t");
  }
});

it("socketsJoin and socketsLeave act on the sockets of both nodes", async () => {
  const clients = [await client(nodes[0], ["src"]), await client(nodes[1], ["src"]), await client(nodes[1])];
  const [x, y, outside] = clients;
  const roomsOf = (node, c) => node.ok(`/api/v1/sockets/${c.socket.id}?local=true`).then((s) => s.rooms);
  emitter.in("src").socketsJoin(["joined", "also"]);
  await until(async () => (await roomsOf(nodes[0], x)).includes("also") && (await roomsOf(nodes[1], y)).includes("also"), "the joins");
  emitter.to("joined").emit("news", "joined");
  await barrier(clients);
  assert.deepEqual(news(x), [["joined"]]);
  assert.deepEqual(news(y), [["joined"]]);
  assert.deepEqual(news(outside), [], "a socket outside the selection joined nothing");

  emitter.in("src").except("also-not").socketsLeave("joined");
  await until(async () => !(await roomsOf(nodes[0], x)).includes("joined") && !(await roomsOf(nodes[1], y)).includes("joined"), "the leaves");
  emitter.to("joined").emit("news", "after leave");
  await barrier(clients);
  assert.deepEqual(news(x), [["joined"]], "left: no more deliveries");
  assert.deepEqual((await roomsOf(nodes[0], x)).sort(), ["also", "src"]);
});

it("disconnectSockets disconnects the selected sockets of both nodes", async () => {
  const [x, y, stays] = [await client(nodes[0], ["bye"]), await client(nodes[1], ["bye"]), await client(nodes[1])];
  const gone = [once(x.socket, "disconnect"), once(y.socket, "disconnect")];
  emitter.in("bye").disconnectSockets(true);
  for (const [reason] of await Promise.all(gone)) assert.equal(reason, "io server disconnect");
  await barrier([stays]);
  assert.ok(stays.socket.connected, "a socket outside the selection stays");
});

it("a serverSideEmit from the emitter reaches both nodes, which keep serving without an error logged", async () => {
  const clients = [await client(nodes[0]), await client(nodes[1])];
  const logged = nodes.map((n) => n.logs.length);
  const events = async (node) => (await node.metrics()).values.get('roomcast_cluster_server_side_events_total{namespace="/"}') ?? 0;
  const before = await Promise.all(nodes.map(events));
  emitter.serverSideEmit("hello", { from: "backend" }, 1);
  emitter.emit("news", "after");
  await barrier(clients);
  for (const c of clients) assert.deepEqual(news(c), [["after"]]);
  nodes.forEach((node, i) => {
    const since = node.logs.slice(logged[i]);
    assert.doesNotMatch(since, /\b(ERROR|WARN)\b/, `node ${i} logged:\n${since}`);
    assert.ok(node.running);
  });
  for (const [i, node] of nodes.entries()) {
    await until(async () => (await events(node)) === before[i] + 1, `node ${i} counting the server-side event`);
  }
});
