// A Redis Cluster failover: three masters with one replica each (started by the test on free ports), two
// roomcast brokers with [cluster] adapter = "redis-sharded" and redis_cluster = true. The master owning a
// room's channel is killed; once its replica has taken over its slots, both brokers are subscribed to the
// channel on the new master (they found it in the slot map by themselves) and a publish crosses exactly
// once. Barriers as in redis-cluster.test.mjs: on the same room's channel, so on the same master.

import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record } from "../broker/lib/broker.mjs";
import { until } from "./redis.mjs";
import { startRedisCluster, shardNumsubAt } from "./redis-cluster.mjs";

let cluster;
let nodeA;
let nodeB;

before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicas: 1 });
  const config = {
    cluster: { adapter: "redis-sharded", redis_cluster: true, redis_url: cluster.urls.join(","), key: "socket.io" },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  };
  nodeA = await startBroker(config);
  nodeB = await startBroker(config);
});

after(async () => {
  const results = [await nodeA?.stop(), await nodeB?.stop()];
  await cluster?.stop();
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

it("after a failover the brokers subscribe on the promoted replica and deliver through it", async () => {
  const channel = "socket.io#/#failover#";
  const old = await cluster.ownerOf(channel);
  const a = await nodeA.connect("/");
  const b = await nodeB.connect("/");
  const inboxA = record(a, ["msg", "barrier"]);
  const inboxB = record(b, ["msg", "barrier"]);
  await ask(a, "join", "failover");
  await ask(b, "join", "failover");
  await until(async () => (await shardNumsubAt(old, channel)) === 2, "both brokers on the channel's master");
  await cluster.kill(old);
  let promoted;
  await until(async () => {
    promoted = await cluster.ownerOf(channel);
    return promoted !== old;
  }, "a replica promoted in the old master's place", 30000);
  await until(async () => (await shardNumsubAt(promoted, channel)) === 2, "both brokers on the promoted master", 30000);
  // The publisher may still try the dead master first; it finds the new one too.
  let n = 0;
  await until(async () => {
    await ask(a, "publish", "failover", "msg", `retry-${++n}`);
    return inboxB.of("msg").length > 0;
  }, "a publish crossing after the failover", 20000);
  let seq = 0;
  const barrier = async () => {
    const tag = `barrier-${++seq}`;
    await nodeA.ok("/api/v1/emit", { event: "barrier", args: [tag], rooms: ["failover"] });
    await Promise.all([inboxA, inboxB].map((i) => i.wait((m) => m.event === "barrier" && m.args[0] === tag, 5000, tag)));
  };
  await barrier(); // the retries still on their way arrive
  const before = inboxB.of("msg").length;
  assert.deepEqual(await ask(a, "publish", "failover", "msg", "settled"), { ok: true });
  await barrier();
  assert.deepEqual(inboxB.of("msg").slice(before), [["settled"]], "exactly once through the promoted master");
  assert.deepEqual(inboxA.of("msg"), [], "never to the publisher");
});
