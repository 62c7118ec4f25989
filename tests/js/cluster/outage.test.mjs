// A broker with [cluster] adapter = "redis" while its Redis goes away and comes back: it keeps serving
// its own clients (a room publish still reaches the local member), counts what it could not publish in
// roomcast_cluster_publish_failures_total, and once Redis is back it subscribes again (a broadcast in
// Node's format, as @socket.io/redis-emitter publishes it, reaches its client) and publishes again.

import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import notepack from "notepack.io";
import { startBroker, ask, record, metric } from "../broker/lib/broker.mjs";
import { startRedis, redisCommand, subscribeRaw, until } from "./redis.mjs";

let redis;
let broker;

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

  await redis.stop();
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
  // A broadcast from another server (the Redis emitter's uid and format) reaches the local client.
  const emitted = notepack.encode(["emitter", { type: 2, data: ["msg", "from redis"], nsp: "/" }, { rooms: [], except: [], flags: {} }]);
  await redisCommand(redis.port, "PUBLISH", "socket.io#/#", emitted);
  await inbox.wait((i) => i.args[0] === "from redis", 5000, "the emitter's broadcast");

  // Publishing works again (the first publish after the outage may still find the old connection).
  const raw = subscribeRaw(redis.port, "socket.io#/#r#");
  try {
    await raw.ready;
    let n = 10;
    await until(async () => {
      await ask(a, "publish", "r", "msg", ++n);
      return raw.messages.length > 0;
    }, "a publish reaching Redis again", 15000);
    const [, packet, opts] = notepack.decode(raw.messages[0]);
    assert.equal(packet.data[0], "msg");
    assert.deepEqual(opts.rooms, ["r"]);
  } finally {
    raw.close();
  }
});
