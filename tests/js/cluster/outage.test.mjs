// A broker with [cluster] adapter = "redis" while its Redis goes away and comes back: it keeps serving
// its own clients (a room publish still reaches the local member), counts what it could not publish in
// roomcast_cluster_publish_failures_total, and once Redis is back it subscribes again (a broadcast in
// Node's format, as @socket.io/redis-emitter publishes it, reaches its client) and publishes again.
// Throughout, /health answers 200 and says "degraded" while Redis is away (a load balancer keeps the
// node: its own clients are still served), the gauge roomcast_cluster_redis_connected says 0 or 1, and
// a cluster-wide admin call fails fast with 503 cluster_unavailable while ?local=true still answers.
// A node started while Redis is down serves its clients and joins the cluster once Redis comes. After
// an outage in which nothing was published, the first publish once the link is up is not lost on the
// publisher's dead connection.

import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import notepack from "notepack.io";
import { createServer } from "node:net";
import { startBroker, ask, record, metric } from "../broker/lib/broker.mjs";
import { startRedis, redisCommand, subscribeRaw, until } from "./redis.mjs";

let redis;
let broker;

const linkGauge = async (node) => metric((await node.metrics()).values, "roomcast_cluster_redis_connected");
const health = async (node) => {
  const res = await node.api("/health", { token: null });
  assert.equal(res.status, 200, "/health is 200 whatever the cluster link");
  return res.body;
};
const linkIs = (node, up) => async () =>
  (await health(node)).status === (up ? "ok" : "degraded") && (await linkGauge(node)) === (up ? 1 : 0);

const subscribers = async () => (await redisCommand(redis.port, "CLIENT", "LIST")).match(/ psub=1 /g)?.length ?? 0;

before(async () => {
  redis = await startRedis();
  broker = await startBroker({
    cluster: { adapter: "redis", redis_url: redis.url },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  });
});

after(async () => {
  broker?.closeClients();
  const r = await broker?.stop();
  await redis?.stop();
  assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

it("serves its own clients while Redis is down, counts the lost publishes, and recovers", async () => {
  const a = await broker.connect("/");
  const b = await broker.connect("/");
  const inbox = record(b, ["msg"]);
  await ask(a, "join", "r");
  await ask(b, "join", "r");
  await until(async () => (await subscribers()) === 1, "the broker's PSUBSCRIBE", 10000);
  await until(linkIs(broker, true), "the link up", 10000);
  const nodeId = (await broker.ok("/api/v1/stats")).node_id;
  assert.deepEqual(await health(broker), { status: "ok", cluster: { redis: "connected", node_id: nodeId } });

  await redis.stop();
  await until(linkIs(broker, false), "/health degraded and the gauge at 0", 5000);
  assert.deepEqual(await health(broker), { status: "degraded", cluster: { redis: "disconnected", node_id: nodeId } });
  // Cluster calls fail fast with a clear error; this node alone still answers.
  // (a socket id that is not this node's could be another's: asking needs the cluster)
  for (const route of ["/api/v1/sockets", "/api/v1/rooms", "/api/v1/stats", "/api/v1/sockets/AAAAAAAAAAAAAAAAAAAA"]) {
    const started = Date.now();
    const res = await broker.api(route);
    assert.equal(res.status, 503, `${route}: ${res.text}`);
    assert.equal(res.body.error.code, "cluster_unavailable");
    assert.match(res.body.error.message, /Redis is unreachable.*\?local=true/);
    assert.ok(Date.now() - started < 1000, `${route} answered in ${Date.now() - started} ms`);
  }
  assert.equal((await broker.ok(`/api/v1/sockets/${a.id}`)).id, a.id, "ids are unique: this node's socket is found without the cluster");
  const joined = await broker.api("/api/v1/sockets/join", { body: { rooms: ["r"], add: ["x"] } });
  assert.equal(joined.status, 503, "a cluster-wide join is refused before acting");
  assert.deepEqual((await broker.ok(`/api/v1/sockets/${a.id}?local=true`)).rooms, ["r"]);
  assert.equal((await broker.ok("/api/v1/sockets?local=true")).total, 2);
  assert.deepEqual(await broker.ok("/api/v1/rooms?local=true"), { rooms: [{ name: "r", sockets: 2 }], total: 1 });
  assert.equal((await broker.ok("/api/v1/stats?local=true")).nodes, 1);

  for (const n of [1, 2]) {
    assert.deepEqual(await ask(a, "publish", "r", "msg", n), { ok: true });
  }
  await inbox.wait((i) => i.args[0] === 2, 5000, "the second local delivery");
  assert.deepEqual(inbox.of("msg"), [[1], [2]], "local members are served without Redis");
  const failures = async () =>
    metric((await broker.metrics()).values, "roomcast_cluster_publish_failures_total", { reason: "unavailable" }) ?? 0;
  await until(async () => (await failures()) >= 1, "a counted publish failure");

  redis = await startRedis({ port: redis.port });
  await until(async () => (await subscribers()) === 1, "the broker subscribing again", 15000);
  await until(linkIs(broker, true), "/health ok and the gauge at 1 again", 15000);
  assert.equal((await broker.ok("/api/v1/sockets")).total, 2, "cluster calls answer again");
  assert.equal((await broker.ok("/api/v1/stats")).nodes, 1);
  // A broadcast from another server (the Redis emitter's uid and format) reaches the local client.
  const emitted = notepack.encode(["emitter", { type: 2, data: ["msg", "from redis"], nsp: "/" }, { rooms: [], except: [], flags: {} }]);
  await redisCommand(redis.port, "PUBLISH", "socket.io#/#", emitted);
  await inbox.wait((i) => i.args[0] === "from redis", 5000, "the emitter's broadcast");

  // Publishing works again.
  const raw = subscribeRaw(redis.port, "socket.io#/#r#");
  try {
    await raw.ready;
    assert.deepEqual(await ask(a, "publish", "r", "msg", 11), { ok: true });
    await until(async () => raw.messages.length > 0, "the first publish after the outage reaching Redis");
    const [, packet, opts] = notepack.decode(raw.messages[0]);
    assert.equal(packet.data[0], "msg");
    assert.deepEqual(opts.rooms, ["r"]);
  } finally {
    raw.close();
  }
});

it("a node started while Redis is down serves its clients, says degraded, and joins once Redis comes", async () => {
  // A stand-in holds a free port and hangs up on every connection (Redis down) until Redis takes the
  // port, so nothing else (the broker's own listeners) can take it meanwhile.
  const standIn = createServer((conn) => conn.destroy());
  await new Promise((resolve) => standIn.listen(0, "127.0.0.1", resolve));
  const { port } = standIn.address();
  let late;
  const node = await startBroker({
    cluster: { adapter: "redis", redis_url: `redis://127.0.0.1:${port}/0` },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  });
  try {
    assert.deepEqual((await health(node)).status, "degraded");
    assert.equal(await linkGauge(node), 0);
    const a = await node.connect("/");
    const b = await node.connect("/");
    const inbox = record(b, ["msg"]);
    await ask(a, "join", "r");
    await ask(b, "join", "r");
    assert.deepEqual(await ask(a, "publish", "r", "msg", "local"), { ok: true });
    await inbox.wait((i) => i.args[0] === "local", 5000, "the local delivery");
    assert.equal((await node.api("/api/v1/sockets")).status, 503);

    await new Promise((resolve) => standIn.close(resolve));
    late = await startRedis({ port });
    // The backoff is at most 5 s between attempts.
    await until(linkIs(node, true), "the late link up", 15000);
    const emitted = notepack.encode(["emitter", { type: 2, data: ["msg", "late"], nsp: "/" }, { rooms: ["r"], except: [], flags: {} }]);
    await until(async () => {
      await redisCommand(port, "PUBLISH", "socket.io#/#r#", emitted);
      return inbox.items.some((i) => i.args[0] === "late");
    }, "a broadcast from the cluster", 5000);
    assert.equal((await node.ok("/api/v1/stats")).nodes, 1);
  } finally {
    standIn.close();
    const r = await node.stop();
    await late?.stop();
    assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
  }
});

it("after an outage without publishes, the first publish once the link is up reaches Redis", async () => {
  let own = await startRedis();
  const node = await startBroker({
    cluster: { adapter: "redis", redis_url: own.url },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  });
  try {
    const a = await node.connect("/");
    await ask(a, "join", "r");
    await until(linkIs(node, true), "the link up", 10000);
    await own.stop();
    await until(linkIs(node, false), "the link down", 5000);
    own = await startRedis({ port: own.port });
    await until(linkIs(node, true), "the link up again", 15000);
    const raw = subscribeRaw(own.port, "socket.io#/#r#");
    try {
      await raw.ready;
      assert.deepEqual(await ask(a, "publish", "r", "msg", "first"), { ok: true });
      await until(async () => raw.messages.length > 0, "the first publish reaching Redis");
      assert.equal(notepack.decode(raw.messages[0])[1].data[1], "first");
    } finally {
      raw.close();
    }
  } finally {
    const r = await node.stop();
    await own.stop();
    assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
  }
});
