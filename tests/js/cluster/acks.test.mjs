// Requests that need answers collected across nodes (issue 10): two roomcast brokers and one
// Node.js Socket.IO 4.8 server with @socket.io/redis-adapter 8.x on one redis-server.
// - Broadcasts with acknowledgements: Node's io.timeout(ms).emitWithAck gets the acks of clients
//   of both roomcast nodes; the admin API's emit with ack_timeout_ms on one roomcast node gets the
//   acks of the other node's and the Node server's clients, and counts recipients on every node.
// - Binary arguments in acknowledgements, both ways.
// - serverSideEmit with acknowledgements, both ways.
// - A peer counted by PUBSUB NUMSUB that never answers: requests end at request_timeout_ms with
//   what arrived.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { startBroker, once } from "../broker/lib/broker.mjs";
import { startNodePeer, answering, serverSideEventsReceived as received } from "./node-peer.mjs";
import { startRedis, numsub, subscribeRaw, until } from "./redis.mjs";

const REQUEST_TIMEOUT_MS = 1500;
const REQUEST_CHANNEL = "socket.io-request#/#";

let redis;
let brokers = [];
let node;
let io;

function brokerConfig() {
  return {
    cluster: { adapter: "redis", redis_url: redis.url, key: "socket.io", request_timeout_ms: REQUEST_TIMEOUT_MS },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  };
}

before(async () => {
  redis = await startRedis();
  brokers = [await startBroker(brokerConfig()), await startBroker(brokerConfig())];
  node = await startNodePeer({
    pub: createClient({ url: redis.url }),
    adapter: (pub, sub) => createAdapter(pub, sub, { requestsTimeout: 3000 }),
    serverEvents: ["ping-servers"],
  });
  io = node.io;
  // A Node server whose handler never calls back: its senders wait until their timeout.
  io.on("never-answered", () => {});
  for (const b of brokers) {
    // roomcast makes "/"'s adapter (and its subscriptions) on first use.
    (await b.connect("/")).disconnect();
    await b.waitForLog(/Redis publisher connected/, 10000);
  }
  await until(async () => (await numsub(redis.port, REQUEST_CHANNEL)) === 3, "three servers on the request channel", 10000);
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

describe("broadcasts with acknowledgements across nodes", () => {
  it("Node's io.timeout(2000).emit gets the acks of clients on both roomcast nodes, without error", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    const n = await node.client();
    answering([a, b, n], "ask", (s, q) => ({ id: s.id, q }));
    const [err, replies] = await new Promise((resolve) => io.timeout(2000).emit("ask", "q1", (...r) => resolve(r)));
    assert.equal(err, null, "every server said how many clients it has, and each of them replied");
    const ids = replies.map((r) => r.id).sort();
    assert.deepEqual(ids, [a.id, b.id, n.id].sort());
    assert.ok(replies.every((r) => r.q === "q1"), JSON.stringify(replies));
  });

  it("a roomcast client that never acks: Node's emit ends at its timeout with the acks that came", async () => {
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/")];
    answering([a], "ask-some", () => "from-a");
    b.on("ask-some", () => {});
    const started = Date.now();
    const [err, replies] = await new Promise((resolve) => io.timeout(800).emit("ask-some", (...r) => resolve(r)));
    const took = Date.now() - started;
    assert.ok(err instanceof Error, "timed out: node B counted a client that did not reply");
    assert.deepEqual(replies, ["from-a"]);
    assert.ok(took >= 750 && took < 3000, `took ${took} ms`);
  });

  it("the admin emit with ack_timeout_ms collects the acks of every node and counts every node", async () => {
    // node B's client on HTTP long-polling: its ack comes back through a POST.
    const [a, b] = [await brokers[0].connect("/"), await brokers[1].connect("/", { transports: ["polling"] })];
    const n = await node.client();
    answering([a, b, n], "ask", (s, x) => ({ id: s.id, x }));
    const started = Date.now();
    const res = await brokers[0].ok("/api/v1/emit", { event: "ask", args: [7], ack_timeout_ms: 4000 });
    assert.ok(Date.now() - started < 3000, "ended when every ack arrived, not at the timeout");
    assert.equal(res.recipients, 3);
    assert.equal(res.timed_out, 0);
    assert.equal(res.complete, true);
    const got = res.responses.map((r) => r.args[0].id).sort();
    assert.deepEqual(got, [a.id, b.id, n.id].sort());
    const own = res.responses.find((r) => r.args[0].id === a.id);
    assert.equal(own.id, a.id, "this node's own replies name their socket");
    assert.ok(res.responses.every((r) => r.args[0].x === 7));
  });

  it("the admin emit without acks counts the recipients of every node", async () => {
    const a = await brokers[0].connect("/");
    const b = await brokers[1].connect("/");
    const n = await node.client();
    const got = Promise.all([once(a, "hello"), once(b, "hello"), once(n, "hello")]);
    const res = await brokers[0].ok("/api/v1/emit", { event: "hello", args: ["x"] });
    assert.equal(res.recipients, 3);
    assert.deepEqual((await got).map((args) => args[0]), ["x", "x", "x"]);
  });

  it("binary acknowledgements cross both ways", async () => {
    const a = await brokers[0].connect("/");
    const n = await node.client();
    // roomcast's client gets Node's binary argument as binary and acks with binary.
    a.on("bin", (data, ack) => ack(Buffer.concat([Buffer.from(data), Buffer.from([9])])));
    n.on("bin", (data, ack) => ack(Buffer.from([7, 7])));
    const replies = await io.timeout(2000).emitWithAck("bin", Buffer.from([1, 2, 3]));
    const bytes = replies.map((r) => [...r]).sort((x, y) => x.length - y.length);
    assert.ok(replies.every((r) => Buffer.isBuffer(r)), "Node receives Buffers");
    assert.deepEqual(bytes, [[7, 7], [1, 2, 3, 9]]);
    // Node's client acks with binary; the admin API on roomcast shows it as base64.
    const res = await brokers[0].ok("/api/v1/emit", { event: "bin", args: ["not-binary"], ack_timeout_ms: 3000 });
    assert.equal(res.recipients, 2);
    const shown = res.responses.map((r) => r.args[0]._binary).sort();
    assert.deepEqual(shown, [Buffer.from("not-binary\t").toString("base64"), Buffer.from([7, 7]).toString("base64")].sort());
  });
});

describe("serverSideEmit across nodes", () => {
  it("Node's serverSideEmitWithAck gets both roomcast nodes' replies, which count it", async () => {
    const before = await Promise.all(brokers.map(received));
    const replies = await io.serverSideEmitWithAck("hello-servers", { n: 1 });
    assert.deepEqual(replies, [
      { ok: true, server: "roomcast" },
      { ok: true, server: "roomcast" },
    ]);
    io.serverSideEmit("hello-servers", "no ack");
    await until(async () => (await received(brokers[1])) === before[1] + 2, "both events counted on the second node");
    assert.equal(await received(brokers[0]), before[0] + 2);
  });

  it("roomcast's admin API sends one to the Node server, which replies", async () => {
    const res = await brokers[0].ok("/api/v1/server-side-emit", { event: "ping-servers", args: ["hi", 2], ack_timeout_ms: 2000 });
    assert.equal(res.servers, 2);
    assert.equal(res.timed_out, 0);
    const sorted = res.responses.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(sorted, [JSON.stringify({ from: "node", got: ["hi", 2] }), JSON.stringify({ ok: true, server: "roomcast" })].sort());
    const count = node.serverEvents.length;
    assert.deepEqual(await brokers[0].ok("/api/v1/server-side-emit", { event: "ping-servers", args: ["plain"] }), { ok: true });
    await until(async () => node.serverEvents.length === count + 1, "the Node server's handler");
    assert.deepEqual(node.serverEvents.at(-1), ["ping-servers", "plain"]);
  });

  it("a Node handler that never calls back: the request ends at ack_timeout_ms with the replies that came", async () => {
    const started = Date.now();
    const res = await brokers[0].ok("/api/v1/server-side-emit", { event: "never-answered", ack_timeout_ms: 800 });
    const took = Date.now() - started;
    assert.ok(took >= 750 && took < 3000, `took ${took} ms`);
    assert.deepEqual(res, { ok: true, servers: 2, responses: [{ ok: true, server: "roomcast" }], timed_out: 1 });
  });

  it("bad requests get a clear error", async () => {
    const reserved = await brokers[0].api("/api/v1/server-side-emit", { body: { event: "connect" } });
    assert.equal(reserved.status, 400);
    const zero = await brokers[0].api("/api/v1/server-side-emit", { body: { event: "x", ack_timeout_ms: 0 } });
    assert.equal(zero.status, 400);
    assert.match(zero.body.error.message, /ack_timeout_ms/);
    const unknown = await brokers[0].api("/api/v1/server-side-emit", { body: { namespace: "/nope", event: "x" } });
    assert.equal(unknown.status, 404);
  });
});

describe("a peer counted by NUMSUB that never answers", () => {
  it("fetching sockets and collecting acks end at request_timeout_ms with what arrived", async () => {
    const silent = subscribeRaw(redis.port, REQUEST_CHANNEL);
    try {
      await silent.ready;
      await until(async () => (await numsub(redis.port, REQUEST_CHANNEL)) === 4, "the silent subscriber counted");
      const b = await brokers[1].connect("/");
      answering([b], "ask", () => "from-b");
      let started = Date.now();
      const listed = await brokers[0].ok("/api/v1/sockets");
      let took = Date.now() - started;
      assert.ok(took >= REQUEST_TIMEOUT_MS - 100 && took < REQUEST_TIMEOUT_MS + 2000, `listing took ${took} ms`);
      assert.ok(listed.sockets.some((s) => s.id === b.id), "the answers that came are kept");
      // The silent peer never sends its client count: the ack collection ends at its timeout.
      started = Date.now();
      const res = await brokers[0].ok("/api/v1/emit", { event: "ask", ack_timeout_ms: 1000 });
      took = Date.now() - started;
      assert.ok(took >= 950 && took < 3000, `emit took ${took} ms`);
      assert.deepEqual(res.responses.map((r) => r.args[0]), ["from-b"]);
      assert.equal(res.complete, false, "a node did not say how many recipients it had");
    } finally {
      silent.close();
    }
  });
});

describe("publish_on_specific_response_channel and redis_url_env", () => {
  it("a node with the option answers on the requester's own channel; its URL comes from a variable", async () => {
    // The file's redis_url points nowhere: the variable wins.
    const config = brokerConfig();
    config.cluster = { ...config.cluster, redis_url: "redis://127.0.0.1:1/0", redis_url_env: "RC_ACKS_REDIS_URL", publish_on_specific_response_channel: true };
    const c = await startBroker(config, { env: { RC_ACKS_REDIS_URL: redis.url } });
    const common = subscribeRaw(redis.port, "socket.io-response#/#");
    try {
      await common.ready;
      const socket = await c.connect("/");
      await c.waitForLog(/Redis publisher connected/, 10000);
      await until(async () => (await numsub(redis.port, REQUEST_CHANNEL)) === 4, "the third roomcast node counted");
      const all = await io.fetchSockets();
      assert.ok(all.some((s) => s.id === socket.id), "Node's fetchSockets got node C's answer");
      const listed = await brokers[0].ok("/api/v1/sockets");
      assert.ok(listed.sockets.some((s) => s.id === socket.id), "roomcast's listing got node C's answer");
      const res = await brokers[0].ok("/api/v1/emit", { event: "nobody-listens", ack_timeout_ms: 1000 });
      assert.equal(res.complete, false, "node C's client does not ack");
      assert.equal(res.recipients, 1, "node C's count reached node A");
      const onCommon = common.messages.filter((m) => m.includes(Buffer.from(socket.id)));
      assert.deepEqual(onCommon, [], "nothing about node C's socket on the common response channel");
      assert.ok(common.messages.length > 0, "the other servers answer on the common channel");
    } finally {
      common.close();
      c.closeClients();
      assert.deepEqual(await c.stop(), { code: 0, signal: null });
    }
  });
});
