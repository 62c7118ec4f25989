// What needs answers collected across nodes, in sharded mode (issue 10): two roomcast brokers with
// [cluster] adapter = "redis-sharded" and one Node.js Socket.IO 4.8 server with @socket.io/redis-adapter
// 8.3's createShardedAdapter on one redis-server (SPUBLISH/SSUBSCRIBE, the ClusterAdapter format).
// - Broadcasts with acknowledgements (BROADCAST with a requestId, BROADCAST_CLIENT_COUNT, BROADCAST_ACK):
//   Node's io.timeout(ms).emit gets the acks of clients on both roomcast nodes; the admin API's emit with
//   ack_timeout_ms on one roomcast node gets the acks of the other node's and the Node server's clients;
//   the admin emit counts recipients on every node.
// - serverSideEmit (SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE) with and without acks, both ways.
// - The admin API's cluster view: /sockets lists every node's sockets with the node holding each, /stats
//   counts the nodes, /health reports the sharded link.
// - [cluster] request_timeout_ms: a peer counted by SHARDNUMSUB that never answers ends a request there.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { startBroker, ask, once, sorted } from "../broker/lib/broker.mjs";
import { startNodePeer, answering, serverSideEventsReceived as received, shardNumsub as shardNumsubAt } from "./node-peer.mjs";
import { startRedis, until } from "./redis.mjs";

const REQUEST_TIMEOUT_MS = 1500;
const CHANNEL = "socket.io#/#";

let redis;
let brokers = [];
let node;
let io;

const brokerConfig = () => ({
  cluster: { adapter: "redis-sharded", redis_url: redis.url, key: "socket.io", request_timeout_ms: REQUEST_TIMEOUT_MS },
  namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
});

/** `PUBSUB SHARDNUMSUB channel` (how the sharded adapters count servers). */
const shardNumsub = (channel) => shardNumsubAt(redis.url, channel);

before(async () => {
  redis = await startRedis();
  node = await startNodePeer({
    pub: createClient({ url: redis.url }),
    adapter: (pub, sub) => createShardedAdapter(pub, sub),
    serverEvents: ["ping-servers"],
  });
  io = node.io;
  brokers = [await startBroker(brokerConfig()), await startBroker(brokerConfig())];
  for (const b of brokers) {
    // roomcast makes "/"'s adapter (and its subscriptions) on first use.
    (await b.connect("/")).disconnect();
    await b.waitForLog(/Redis publisher connected/, 10000);
  }
  await until(async () => (await shardNumsub(CHANNEL)) === 3, "three servers on socket.io#/#", 10000);
});

after(async () => {
  await node?.stop();
  const results = await Promise.all(brokers.map((b) => b.stop()));
  await redis?.stop();
  for (const result of results) assert.deepEqual(result, { code: 0, signal: null }, "each broker exits 0 on SIGTERM");
});

afterEach(() => {
  for (const b of brokers) b.closeClients();
  node.closeClients();
});

describe("broadcasts with acknowledgements over sharded pub/sub", () => {
  it("Node's io.timeout(2000).emit gets the acks of clients on both roomcast nodes, without error", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/", { transports: ["polling"] })];
    const n = await node.client();
    answering([a, b, n], "ask", (s, q) => ({ id: s.id, q }));
    const started = Date.now();
    const [err, replies] = await new Promise((resolve) => io.timeout(2000).emit("ask", "q1", (...r) => resolve(r)));
    assert.equal(err, null, "every server said how many clients it has, and each of them replied");
    assert.ok(Date.now() - started < 1900, "ended when every ack arrived");
    assert.deepEqual(sorted(replies.map((r) => r.id)), sorted([a.id, b.id, n.id]));
    assert.ok(replies.every((r) => r.q === "q1"), JSON.stringify(replies));
  });

  it("a roomcast client that never acks: Node's emit ends at its timeout with the acks that came", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    answering([a], "ask-some", () => "from-a");
    b.on("ask-some", () => {});
    const [err, replies] = await new Promise((resolve) => io.timeout(800).emit("ask-some", (...r) => resolve(r)));
    assert.ok(err instanceof Error, "timed out: node B counted a client that did not reply");
    assert.deepEqual(replies, ["from-a"]);
  });

  it("the admin emit with ack_timeout_ms collects the acks of every node, binary ones too", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    const n = await node.client();
    answering([a, b], "ask", (s, x) => ({ id: s.id, x }));
    n.on("ask", (x, ack) => ack(Buffer.from([7, x])));
    const started = Date.now();
    const res = await brokers[0].ok("/api/v1/emit", { event: "ask", args: [7], ack_timeout_ms: 4000 });
    assert.ok(Date.now() - started < 3000, "ended when every ack arrived, not at the timeout");
    assert.equal(res.recipients, 3);
    assert.equal(res.timed_out, 0);
    assert.equal(res.complete, true);
    const own = res.responses.find((r) => r.id === a.id);
    assert.deepEqual(own?.args, [{ id: a.id, x: 7 }], "this node's own replies name their socket");
    const others = res.responses.filter((r) => r.id == null).map((r) => JSON.stringify(r.args[0]));
    const binary = { _binary: Buffer.from([7, 7]).toString("base64") };
    assert.deepEqual(sorted(others), sorted([JSON.stringify({ id: b.id, x: 7 }), JSON.stringify(binary)]));
  });

  it("the admin emit without acks counts the recipients of every node, rooms applied", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    const [n, outsider] = [await node.client(), await node.client()];
    await ask(b, "join", "counted");
    assert.deepEqual(await n.timeout(5000).emitWithAck("join", "counted"), { ok: true });
    const got = Promise.all([once(a, "hello"), once(b, "hello"), once(n, "hello"), once(outsider, "hello")]);
    assert.equal((await brokers[0].ok("/api/v1/emit", { event: "hello", args: ["x"] })).recipients, 4);
    assert.deepEqual((await got).map((args) => args[0]), ["x", "x", "x", "x"]);
    const inRoom = await brokers[0].ok("/api/v1/emit", { event: "hello", rooms: ["counted"] });
    assert.equal(inRoom.recipients, 2, "node B's and the Node server's member of the room");
  });
});

describe("serverSideEmit over sharded pub/sub", () => {
  it("roomcast's admin API sends one to the Node server, which replies, and the other roomcast node", async () => {
    const res = await brokers[0].ok("/api/v1/server-side-emit", { event: "ping-servers", args: ["hi", 2], ack_timeout_ms: 2000 });
    assert.equal(res.servers, 2);
    assert.equal(res.timed_out, 0);
    const replies = sorted(res.responses.map((r) => JSON.stringify(r)));
    assert.deepEqual(replies, sorted([JSON.stringify({ from: "node", got: ["hi", 2] }), JSON.stringify({ ok: true, server: "roomcast" })]));
    const count = node.serverEvents.length;
    assert.deepEqual(await brokers[0].ok("/api/v1/server-side-emit", { event: "ping-servers", args: ["plain"] }), { ok: true });
    await until(async () => node.serverEvents.length === count + 1, "the Node server's handler");
    assert.deepEqual(node.serverEvents.at(-1), ["ping-servers", "plain"]);
  });

  it("Node's serverSideEmitWithAck gets both roomcast nodes' replies, and both count its events", async () => {
    const before = await Promise.all(brokers.map(received));
    const replies = await io.serverSideEmitWithAck("hello-servers", { n: 1 });
    assert.deepEqual(replies, [
      { ok: true, server: "roomcast" },
      { ok: true, server: "roomcast" },
    ]);
    io.serverSideEmit("hello-servers", "no ack");
    await until(async () => (await received(brokers[1])) === before[1] + 2, "both events counted on node B");
    assert.equal(await received(brokers[0]), before[0] + 2);
  });
});

describe("the admin API's cluster view in sharded mode", () => {
  it("/sockets lists every node's sockets with the node holding each; /stats counts the nodes; /health the link", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    const n = await node.client();
    await ask(b, "join", "b-room");
    const ids = await Promise.all(brokers.map(async (br) => (await br.ok("/api/v1/stats?local=true")).node_id));
    const all = await brokers[0].ok("/api/v1/sockets");
    const nodeOf = Object.fromEntries(all.sockets.map((s) => [s.id, s.node]));
    assert.deepEqual(nodeOf, { [a.id]: ids[0], [b.id]: ids[1], [n.id]: null });
    assert.deepEqual(all.sockets.find((s) => s.id === b.id).rooms, ["b-room"]);
    const local = await brokers[0].ok("/api/v1/sockets?local=true");
    assert.deepEqual(local.sockets.map((s) => s.id), [a.id]);
    const stats = await brokers[0].ok("/api/v1/stats");
    assert.equal(stats.nodes, 3);
    assert.equal(stats.sockets, 3);
    assert.deepEqual(await brokers[0].ok("/health"), { status: "ok", cluster: { redis: "connected", node_id: ids[0] } });
  });

  it("a peer counted by SHARDNUMSUB that never answers: a listing ends at request_timeout_ms with what arrived", async () => {
    const silent = createClient({ url: redis.url });
    silent.on("error", () => {});
    await silent.connect();
    try {
      await silent.sSubscribe(CHANNEL, () => {});
      await until(async () => (await shardNumsub(CHANNEL)) === 4, "the silent subscriber counted");
      const b = await brokers[1].connect("/");
      const started = Date.now();
      const listed = await brokers[0].ok("/api/v1/sockets");
      const took = Date.now() - started;
      assert.ok(took >= REQUEST_TIMEOUT_MS - 100 && took < REQUEST_TIMEOUT_MS + 2000, `listing took ${took} ms`);
      assert.ok(listed.sockets.some((s) => s.id === b.id), "the answers that came are kept");
    } finally {
      await silent.disconnect().catch(() => {});
    }
  });
});
