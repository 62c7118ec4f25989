// The Redis Streams adapter ([cluster] adapter = "redis-streams", issue 11 item 3): two roomcast
// brokers and a Node.js Socket.IO 4.8 server with @socket.io/redis-streams-adapter 0.3 on one
// redis-server, connection state recovery on everywhere. Broadcasts from any of the three reach the
// clients of all three with the same offset (the stream entry id); a socket.io-client whose connection
// drops on one server recovers on another (roomcast -> roomcast, Node -> roomcast, roomcast -> Node):
// socket.recovered === true, the same id, its rooms, and every packet broadcast meanwhile, in order.
//
// What must come back crosses over pub/sub as Node's adapter sends it: broadcasts with
// acknowledgements, serverSideEmit with replies, fetching every server's sockets.
//
// The drop is made as Socket.IO's own tests make it: the client's engine is closed under the socket
// (the server sees "transport close" and keeps the session); the client is then pointed at the other
// server (its manager's uri) and reconnected by hand, so it presents its pid and last offset there.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";
import { startBroker, ask, record, once, sorted, metric } from "../broker/lib/broker.mjs";
import { startRedis, redisCommand, numsub, until } from "./redis.mjs";

let redis;
let a;
let b;
let io;
let httpServer;
let redisClient;
const node = { url: "", sockets: [] };

const namespaces = [{ name: "/", client_join: true, client_publish: "joined" }];

before(async () => {
  redis = await startRedis();
  const cluster = { adapter: "redis-streams", redis_url: redis.url };
  [a, b] = await Promise.all(
    [0, 1].map(() => startBroker({ cluster, recovery: { enabled: true, max_disconnection_ms: 60000 }, namespaces })),
  );
  redisClient = createClient({ url: redis.url });
  await redisClient.connect();
  httpServer = createServer();
  io = new Server(httpServer, {
    adapter: createAdapter(redisClient),
    connectionStateRecovery: { maxDisconnectionDuration: 60000 },
  });
  io.on("connection", (socket) => {
    if (!socket.recovered) socket.data = { made: "node", n: 1 };
    socket.on("join", (rooms, ack) => {
      socket.join(rooms);
      ack({ ok: true, rooms: [...socket.rooms].filter((r) => r !== socket.id) });
    });
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  node.url = `http://127.0.0.1:${httpServer.address().port}`;
  io.on("ping-servers", (...args) => {
    const reply = typeof args.at(-1) === "function" ? args.pop() : null;
    reply?.({ from: "node", got: args });
  });
  await Promise.all([a, b].map((broker) => broker.waitForLog(/Redis stream reader connected/, 10000)));
  // roomcast makes "/"'s adapter (and its subscriptions) on first use.
  for (const broker of [a, b]) (await broker.connect("/")).disconnect();
  await until(async () => (await numsub(redis.port, "socket.io#/#")) === 3, "three servers on socket.io#/#", 10000);
});

after(async () => {
  for (const s of node.sockets) s.disconnect();
  // The adapter's own clients (its XREAD and subscriber duplicates) end with the server; the one it
  // was given is ended politely (QUIT), after the commands in flight.
  await new Promise((resolve) => (io ? io.close(() => resolve()) : resolve()));
  await redisClient?.quit().catch(() => {});
  const results = await Promise.all([a, b].map((broker) => broker?.stop()));
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

afterEach(() => {
  a.closeClients();
  b.closeClients();
  for (const s of node.sockets.splice(0)) s.disconnect();
});

/** A client of `server` (a broker, or `node`) over `transport`, reconnected by hand only, recording "msg". */
async function client(server, transport = "websocket") {
  const transports = [transport];
  const socket = ioClient(server.url, { forceNew: true, reconnection: false, timeout: 5000, transports });
  (server.sockets ?? node.sockets).push(socket);
  await once(socket, "connect");
  return { socket, inbox: record(socket, ["msg"]) };
}

/** Emits "msg" with `n` to `rooms` from `server`: a broker's admin API, or the Node server's io. */
async function emit(server, n, rooms = []) {
  if (server === node) {
    // Node's emit returns before its XADD is done: wait for the entry, so emits keep the test's order.
    const before = await xlen();
    (rooms.length ? io.to(rooms) : io).emit("msg", n);
    await until(async () => (await xlen()) > before, "the Node server's entry in the stream");
    return;
  }
  await server.ok("/api/v1/emit", { namespace: "/", event: "msg", args: [n], rooms });
}

const xlen = async () => Number((await redisCommand(redis.port, "XLEN", "socket.io")).slice(1));

const numbers = (inbox) => inbox.of("msg").map((args) => args[0]);

/** Drops `socket`'s connection (its server sees "transport close") and waits until the server kept the session in Redis. */
async function drop(socket) {
  const [pid, sid] = [socket._pid, socket.id];
  assert.equal(typeof pid, "string", "the CONNECT answer carried a pid");
  const disconnected = once(socket, "disconnect");
  socket.io.engine.close();
  await disconnected;
  await until(async () => (await redisCommand(redis.port, "EXISTS", `sio:session:${pid}`)) === ":1", "the session kept in Redis");
  return sid;
}

/** Points `socket` at `server` and reconnects it (with its pid and offset, as the client sends them). */
async function reconnectTo(socket, server) {
  socket.io.uri = server.url;
  const connected = once(socket, "connect");
  socket.connect();
  await connected;
}

describe("redis-streams: roomcast and Node.js servers on one stream", () => {
  it("a broadcast from any server reaches every server's clients, with the stream id as its offset", async () => {
    const clients = await Promise.all([a, b, node].map((server) => client(server)));
    for (const { socket } of clients) assert.deepEqual(await ask(socket, "join", ["r"]), { ok: true, rooms: ["r"] });
    await emit(a, 1, ["r"]);
    await emit(node, 2, ["r"]);
    await emit(b, 3, ["r"]);
    await emit(a, "elsewhere", ["other"]);
    for (const { inbox } of clients) {
      await inbox.wait((i) => i.args[0] === 3, 5000, "the third broadcast");
    }
    const offsets = clients.map(({ inbox }) => inbox.of("msg").map((args) => args.at(-1)));
    for (const [i, { inbox }] of clients.entries()) {
      assert.deepEqual(numbers(inbox), [1, 2, 3], `client ${i}: every broadcast once, in order`);
      for (const offset of offsets[i]) assert.match(offset, /^\d+-\d+$/, "the offset is a stream id");
    }
    assert.deepEqual(offsets[1], offsets[0], "the same offsets on both roomcast nodes");
    assert.deepEqual(offsets[2], offsets[0], "and on the Node server");
  });

  const hops = [
    ["roomcast A", () => a, "roomcast B", () => b, "websocket"],
    ["roomcast A", () => a, "roomcast B", () => b, "polling"],
    ["the Node server", () => node, "roomcast A", () => a, "websocket"],
    ["the Node server", () => node, "roomcast B", () => b, "polling"],
    ["roomcast B", () => b, "the Node server", () => node, "websocket"],
  ];
  for (const [fromName, from, toName, to, transport] of hops) {
    it(`${transport}: a client dropped on ${fromName} recovers on ${toName}: same id, rooms, every missed packet in order`, async () => {
      const { socket, inbox } = await client(from(), transport);
      const watcher = await client(to());
      assert.deepEqual(await ask(socket, "join", ["room-x"]), { ok: true, rooms: ["room-x"] });
      await emit(from(), 1, ["room-x"]);
      await inbox.wait((i) => i.args[0] === 1);
      const sid = await drop(socket);

      await emit(to(), 2, ["room-x"]);
      await emit(from(), 3);
      await emit(a, "not-mine", ["elsewhere"]);
      await emit(node, 4, ["room-x"]);
      await emit(b, 5, [sid]);
      await emit(node, "beacon");
      await watcher.inbox.wait((i) => i.args[0] === "beacon", 5000, "the last broadcast read by the target");
      await reconnectTo(socket, to());

      assert.equal(socket.recovered, true, "recovered");
      assert.equal(socket.id, sid, "the same socket id");
      await inbox.wait((i) => i.args[0] === "beacon", 5000, "the replay");
      assert.deepEqual(numbers(inbox), [1, 2, 3, 4, 5, "beacon"], "every missed packet once, in order");
      await emit(to(), 6, ["room-x"]);
      await inbox.wait((i) => i.args[0] === 6, 5000, "a live broadcast to its room where it is now");
      assert.deepEqual(numbers(inbox), [1, 2, 3, 4, 5, "beacon", 6]);
      assert.equal(
        await redisCommand(redis.port, "EXISTS", `sio:session:${socket._pid}`),
        ":0",
        "a session is taken once",
      );
      if (to() !== node) {
        const described = await to().ok(`/api/v1/sockets/${sid}`);
        assert.deepEqual(described.rooms, ["room-x"], "its rooms, on the node it recovered on");
        if (from() === node) assert.deepEqual(described.data, { made: "node", n: 1 }, "the data the Node server gave it");
      } else {
        const [found] = await io.in(sid).fetchSockets();
        assert.deepEqual([...found.rooms].sort(), sorted([sid, "room-x"]), "its rooms, on the Node server");
      }
      if (to() !== node) {
        const recovered = metric((await to().metrics()).values, "roomcast_recovery_recovered_total");
        assert.ok(recovered >= 1, `counted where it recovered: ${recovered}`);
      }
    });
  }

  it("a client recovering while a Node server publishes without pause gets every packet once, in order", async () => {
    const { socket, inbox } = await client(a);
    assert.deepEqual(await ask(socket, "join", ["flood"]), { ok: true, rooms: ["flood"] });
    let n = 0;
    const flood = setInterval(() => io.to("flood").emit("msg", ++n), 1);
    try {
      await inbox.wait((i) => i.args[0] === 50, 10000, "the flood");
      await drop(socket);
      await reconnectTo(socket, b);
      assert.equal(socket.recovered, true);
      const upTo = n + 200;
      await inbox.wait((i) => i.args[0] >= upTo, 10000, "the flood after the recovery");
    } finally {
      clearInterval(flood);
    }
    const last = n;
    await inbox.wait((i) => i.args[0] === last, 10000, "the last of the flood");
    const got = numbers(inbox);
    const expected = Array.from({ length: last }, (_, i) => i + 1);
    assert.deepEqual(got, expected, "every packet once, in order, across the drop");
  });

  it("a forged pid or an offset that is not in the stream gets a new session", async () => {
    const { socket, inbox } = await client(a);
    await emit(a, 1, [socket.id]);
    await inbox.wait((i) => i.args[0] === 1);
    const sid = await drop(socket);
    socket._lastOffset = "1-0";
    await reconnectTo(socket, b);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
  });
});

describe("redis-streams: what comes back crosses over pub/sub", () => {
  it("Node's io.timeout(2000).emit gets the acks of clients on both roomcast nodes and its own", async () => {
    const clients = await Promise.all([a, b, node].map((server) => client(server)));
    for (const { socket } of clients) socket.on("ask", (q, ack) => ack({ id: socket.id, q }));
    const [err, replies] = await new Promise((resolve) => io.timeout(2000).emit("ask", "q1", (...r) => resolve(r)));
    assert.equal(err, null, "every server counted its clients and each replied");
    assert.deepEqual(sorted(replies.map((r) => r.id)), sorted(clients.map(({ socket }) => socket.id)));
    const res = await a.ok("/api/v1/emit", { event: "ask", args: ["q2"], ack_timeout_ms: 4000 });
    assert.equal(res.recipients, 3);
    assert.equal(res.complete, true, "roomcast's own acked broadcast got every node's acks");
  });

  it("serverSideEmit with replies both ways", async () => {
    const replies = await io.serverSideEmitWithAck("hello-servers", { n: 1 });
    assert.deepEqual(replies, [
      { ok: true, server: "roomcast" },
      { ok: true, server: "roomcast" },
    ]);
    const res = await a.ok("/api/v1/server-side-emit", { event: "ping-servers", args: ["hi", 2], ack_timeout_ms: 2000 });
    assert.equal(res.servers, 2);
    const got = sorted(res.responses.map((r) => JSON.stringify(r)));
    assert.deepEqual(got, sorted([JSON.stringify({ from: "node", got: ["hi", 2] }), JSON.stringify({ ok: true, server: "roomcast" })]));
  });

  it("every server's sockets: roomcast's admin listing and Node's fetchSockets", async () => {
    const clients = await Promise.all([a, b, node].map((server) => client(server)));
    const ids = sorted(clients.map(({ socket }) => socket.id));
    const listed = await a.ok("/api/v1/sockets");
    assert.deepEqual(sorted(listed.sockets.map((s) => s.id)), ids);
    const fetched = await io.fetchSockets();
    assert.deepEqual(sorted(fetched.map((s) => s.id)), ids);
    assert.equal((await a.ok("/api/v1/stats")).nodes, 3);
    const gauges = (await a.metrics()).values;
    assert.equal(metric(gauges, "roomcast_cluster_redis_stream_connected"), 1, "the stream link is up");
    assert.equal(metric(gauges, "roomcast_cluster_redis_connected"), 1, "the pub/sub link is up");
    assert.equal((await a.ok("/health")).status, "ok");
  });
});
