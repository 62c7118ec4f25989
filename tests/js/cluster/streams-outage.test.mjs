// Two brokers with [cluster] adapter = "redis-streams" and recovery on while their Redis goes away and
// comes back: each keeps serving its own clients (a broadcast still reaches a local member, without an
// offset since the stream gave it none), the stream link's gauge says 0 then 1, and once Redis is back
// both append and read the stream again (a broadcast on one node reaches the other node's client, with
// a stream id as its offset). Then one broker drains (SIGTERM): its clients' sessions are left in
// Redis, and a client recovers on the other broker with what was broadcast meanwhile.

import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io as ioClient } from "socket.io-client";
import { startBroker, ask, record, metric, once } from "../broker/lib/broker.mjs";
import { startRedis, redisCommand, until } from "./redis.mjs";

let redis;
let brokers = [];

const streamGauge = async (node) => metric((await node.metrics()).values, "roomcast_cluster_redis_stream_connected");
const emit = (node, n) => node.ok("/api/v1/emit", { namespace: "/", event: "msg", args: [n], rooms: ["r"] });

before(async () => {
  redis = await startRedis();
  const config = {
    cluster: { adapter: "redis-streams", redis_url: redis.url },
    recovery: { enabled: true },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  };
  brokers = await Promise.all([0, 1].map(() => startBroker(config)));
});

after(async () => {
  const results = await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

it("serves its own clients while Redis is down and links up again when it is back", async () => {
  const [a, b] = brokers;
  const [ca, cb] = [await a.connect("/"), await b.connect("/")];
  const [ia, ib] = [record(ca, ["msg"]), record(cb, ["msg"])];
  await ask(ca, "join", "r");
  await ask(cb, "join", "r");
  await Promise.all(brokers.map((n) => until(async () => (await streamGauge(n)) === 1, "the stream link up", 10000)));
  await emit(a, 1);
  await ib.wait((i) => i.args[0] === 1, 5000, "the first broadcast across");
  assert.match(ib.of("msg")[0].at(-1), /^\d+-\d+$/, "with the stream id as its offset");

  const port = redis.port;
  await redis.stop();
  await until(async () => (await streamGauge(a)) === 0, "the stream link down", 5000);
  await emit(a, 2);
  await ia.wait((i) => i.args[0] === 2, 5000, "a local delivery while Redis is away");
  assert.deepEqual(ia.of("msg").at(-1), [2], "no offset: the stream gave it none");

  redis = await startRedis({ port });
  await Promise.all(brokers.map((n) => until(async () => (await streamGauge(n)) === 1, "the stream link up again", 15000)));
  await emit(a, 3);
  await ib.wait((i) => i.args[0] === 3, 5000, "a broadcast across once Redis is back");
  assert.match(ib.of("msg").at(-1).at(-1), /^\d+-\d+$/);
  assert.deepEqual(
    ib.of("msg").map((args) => args[0]),
    [1, 3],
    "node B saw neither the broadcast made while Redis was away nor a duplicate",
  );
});

it("a broker draining on SIGTERM leaves its clients' sessions in Redis; they recover on the other broker", async () => {
  const [a, b] = brokers;
  // not in a.sockets: the broker's stop() would disconnect it from the client side first
  const socket = ioClient(a.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  try {
    await once(socket, "connect");
    const inbox = record(socket, ["msg"]);
    await ask(socket, "join", "r");
    await emit(a, 10);
    await inbox.wait((i) => i.args[0] === 10);
    const [sid, pid] = [socket.id, socket._pid];
    const gone = once(socket, "disconnect", 15000);
    assert.deepEqual(await a.stop(), { code: 0, signal: null }, "the draining broker exits 0");
    await gone;
    await until(async () => (await redisCommand(redis.port, "EXISTS", `sio:session:${pid}`)) === ":1", "the session in Redis");
    await emit(b, 11);
    socket.io.uri = b.url;
    const connected = once(socket, "connect");
    socket.connect();
    await connected;
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
    await inbox.wait((i) => i.args[0] === 11);
    assert.deepEqual(inbox.of("msg").map((args) => args[0]), [10, 11]);
  } finally {
    socket.disconnect();
  }
});
