// Three roomcast brokers on one redis-server behind the shipped load-balancer configurations
// (deploy/nginx.conf, deploy/haproxy.cfg; tests/js/cluster/balancers.mjs replaces only ports and
// addresses), each broker running the shipped deploy/roomcast.toml with its listeners, the Redis URL and
// its ping interval from the environment, driven with socket.io-client through the balancer only:
//
// * polling-only clients spread over every node keep their session for many requests (sticky sessions:
//   nginx hashes the client address, HAProxy routes on the broker's `io` cookie; a request that reached
//   another node would get "Session ID unknown" and end the session);
// * WebSocket-only and upgrading clients (the upgrade request must reach the session's node too);
// * a publish from a client on one node reaches the room's members on every node exactly once;
// * the brokers see the client's address and scheme in the forwarded headers;
// * kill -9 of a node: its clients reconnect through the balancer to the other nodes and receive again;
// * SIGTERM (drain) of a node while a publisher on every node publishes continuously (see the test).
//
// Which node a client landed on: each broker has its own engine.ping_interval_ms (25001, 25002, 25003),
// which the client reads from its handshake. Clients connect from their own loopback addresses
// (127.0.x.y), as clients behind a real balancer come from many addresses; nginx hashes on them.
// Non-delivery and "exactly once" are checked with barriers: each live node's admin API emits a tagged
// "barrier" to everyone; it leaves a node the way that node's publishes do, so once every inbox has the
// barrier of every node, every publish acknowledged before has arrived wherever it will.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { io as ioClient } from "socket.io-client";
import path from "node:path";
import { startBroker, ask, record, REPO_ROOT } from "../broker/lib/broker.mjs";
import { startRedis, redisCommand, until } from "./redis.mjs";
import { BALANCERS } from "./balancers.mjs";

const SHIPPED_NODE_CONFIG = path.join(REPO_ROOT, "deploy", "roomcast.toml");
const PING_BASE = 25000;
const NODES = 3;
const ROOM = "feed";

// ---- the cluster --------------------------------------------------------------------------------

async function startCluster(startBalancer, env = {}) {
  const cluster = { brokers: [], clients: [] };
  cluster.stop = async () => {
    await Promise.all(cluster.clients.map(close));
    await cluster.lb?.stop();
    const exits = [];
    for (const b of cluster.brokers) exits.push(await b.stop());
    await cluster.redis?.stop();
    return exits;
  };
  try {
    cluster.redis = await startRedis();
    for (let i = 1; i <= NODES; i++) {
      // the shipped node configuration, with what differs per node from the environment, as in the
      // README (listeners and admin token added by startBroker)
      const nodeEnv = {
        ROOMCAST_CLUSTER_REDIS_URL: cluster.redis.url,
        ROOMCAST_ENGINE_PING_INTERVAL_MS: String(PING_BASE + i),
        ...env,
      };
      cluster.brokers.push(await startBroker({}, { file: SHIPPED_NODE_CONFIG, env: nodeEnv }));
    }
    // "/"'s adapter (and its PSUBSCRIBE) is made on first use: one direct client per node makes it.
    await Promise.all(cluster.brokers.map((b) => b.connect("/")));
    const subscribers = async () => (await redisCommand(cluster.redis.port, "CLIENT", "LIST")).match(/ psub=1 /g)?.length ?? 0;
    await until(async () => (await subscribers()) === NODES, "a PSUBSCRIBE from each node", 10000);
    for (const b of cluster.brokers) await b.waitForLog(/Redis publisher connected/, 10000);
    for (const b of cluster.brokers) b.closeClients();
    cluster.lb = await startBalancer(cluster.brokers);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Each live node's admin API emits a tagged "barrier" to everyone; waits until every client has each. */
let barrierSeq = 0;
async function barrier(brokers, clients) {
  for (const b of brokers.filter((x) => x.running)) {
    const tag = `barrier-${++barrierSeq}`;
    await b.ok("/api/v1/emit", { event: "barrier", args: [tag] });
    await Promise.all(clients.map((c) => c.inbox.wait((i) => i.event === "barrier" && i.args[0] === tag, 10000, `${tag} at ${c.name}`)));
  }
}

// ---- clients through the balancer ---------------------------------------------------------------

let addressSeq = 0;
/** A loopback address of its own for each client: 127.0.x.y (x, y in 2..251). */
function nextAddress() {
  const n = addressSeq++;
  return `127.0.${2 + (Math.floor(n / 250) % 250)}.${2 + (n % 250)}`;
}

/** The node (1..NODES) whose handshake this client's current session had. */
function nodeOf(socket) {
  // engine.io-client 6.6 keeps the handshake's pingInterval in `_pingInterval` (pinned in package-lock)
  const node = socket.io.engine._pingInterval - PING_BASE;
  assert.ok(node >= 1 && node <= NODES, `pingInterval ${socket.io.engine._pingInterval} names no node`);
  return node;
}

/**
 * A socket.io-client through `lb` from a fresh loopback address -> { name, socket, inbox, sessions }.
 * `sessions` gets { node, id, joined } on each connect; with `room`, each session joins it first
 * (`joined` resolves with the time of the join's acknowledgement).
 */
function open(cluster, name, { transports, reconnection = false, room } = {}) {
  const localAddress = nextAddress();
  const agent = new http.Agent({ keepAlive: true, localAddress });
  const socket = ioClient(cluster.lb.url, {
    forceNew: true,
    transports,
    reconnection,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 5000,
    // keeps the handshake's cookie for the session's later requests (what a browser does by itself)
    withCredentials: true,
    agent,
    localAddress,
  });
  const c = { name, socket, agent, localAddress, inbox: record(socket, ["msg", "barrier"]), sessions: [], disconnects: [], errors: [] };
  socket.on("connect", () => {
    const session = { node: nodeOf(socket), id: socket.id };
    session.joined = room
      ? ask(socket, "join", room).then((r) => {
          assert.equal(r.ok, true, `${name} joins ${room}: ${JSON.stringify(r)}`);
          return Date.now();
        })
      : Promise.resolve(Date.now());
    session.joined.catch(() => {});
    c.sessions.push(session);
  });
  socket.on("disconnect", (reason) => c.disconnects.push(reason));
  socket.on("connect_error", (err) => c.errors.push(err.message));
  cluster.clients.push(c);
  return c;
}

/** Closes a client; resolves once its agent's connections are gone. */
function close(c) {
  const transport = c.socket.io.engine?.transport;
  c.socket.io.reconnection(false);
  c.socket.disconnect();
  // A polling client sends its close packet in a POST of its own: the agent's connections stay until
  // that is written (bounded), or the broker would keep the session until its drain deadline.
  const written = new Promise((resolve) => {
    if (transport?.name !== "polling") return resolve();
    const timer = setTimeout(resolve, 2000);
    transport.once("drain", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return written.then(() => c.agent.destroy());
}

/** Resolves once `c` has `n` sessions (bounded) and the last one joined its room. */
async function sessions(c, n, ms = 10000) {
  await until(async () => c.sessions.length >= n, `${c.name}'s session ${n} (disconnects: ${c.disconnects}; connect errors: ${c.errors})`, ms);
  await c.sessions[n - 1].joined;
  return c.sessions[n - 1];
}

/**
 * Opens clients through the balancer until each node has `perNode` of them (the extra ones are
 * closed): the balancer, not the test, decides where a client lands. Resolves clients by node.
 */
async function spread(cluster, kind, perNode, opts) {
  const byNode = Array.from({ length: NODES }, () => []);
  for (let attempt = 0; byNode.some((l) => l.length < perNode); attempt++) {
    assert.ok(attempt < 40 * perNode * NODES, `${kind}: clients landed on nodes ${byNode.map((l) => l.length)} only`);
    const c = open(cluster, `${kind}-${attempt}`, opts);
    const { node } = await sessions(c, 1);
    if (byNode[node - 1].length < perNode) {
      c.name = `${kind}@${node}.${byNode[node - 1].length}`;
      byNode[node - 1].push(c);
    } else {
      close(c);
      cluster.clients.splice(cluster.clients.indexOf(c), 1);
    }
  }
  return byNode;
}

const msgsFrom = (c, from) => c.inbox.of("msg").filter(([m]) => m.from === from).map(([m]) => m.seq);

/** Every client but the publisher got its one message exactly once. */
function assertEachOnce(clients, publisher, seq) {
  for (const c of clients) {
    const want = c === publisher ? [] : [seq];
    assert.deepEqual(msgsFrom(c, publisher.name), want, `${c.name} gets ${publisher.name}'s publish ${want.length} time(s)`);
  }
}

function transportOf(c) {
  return c.socket.io.engine.transport.name;
}

for (const [lbName, startBalancer] of BALANCERS) {
  describe(`three brokers behind ${lbName} (deploy/)`, () => {
    describe("steady", () => {
      let cluster;
      before(async () => {
        // the Admin UI's socket list shows what a broker takes from the forwarded headers
        cluster = await startCluster(startBalancer, {
          ROOMCAST_ADMIN_UI_ENABLED: "true",
          ROOMCAST_ADMIN_UI_AUTH: "none",
          ROOMCAST_ADMIN_UI_READONLY: "true",
        });
      });
      after(async () => {
        const exits = await cluster?.stop();
        for (const r of exits ?? []) assert.deepEqual(r, { code: 0, signal: null }, "each broker exits 0 on SIGTERM");
      });

      it("polling-only clients on every node keep their sessions (sticky), and publishes cross nodes once", async () => {
        const all = (await spread(cluster, "poll", 2, { transports: ["polling"], room: ROOM })).flat();
        for (const [n, p] of all.entries()) {
          assert.deepEqual(await ask(p.socket, "publish", ROOM, "msg", { from: p.name, seq: n }), { ok: true });
        }
        await barrier(cluster.brokers, all);
        for (const [n, p] of all.entries()) assertEachOnce(all, p, n);
        for (const c of all) {
          assert.equal(transportOf(c), "polling");
          assert.deepEqual(c.disconnects, [], `${c.name} kept its session`);
          assert.equal(c.sessions.length, 1);
          assert.equal(c.socket.id, c.sessions[0].id);
        }
        for (const c of all) close(c);
      });

      it("WebSocket-only and upgrading clients on every node get a publish from one node exactly once", async () => {
        const ws = (await spread(cluster, "ws", 1, { transports: ["websocket"], room: ROOM })).flat();
        const up = (await spread(cluster, "up", 1, { transports: ["polling", "websocket"], room: ROOM })).flat();
        // the upgrade request carries the session id: it reached the session's node, or it would fail
        await until(async () => up.every((c) => transportOf(c) === "websocket"), "every upgrading client on WebSocket");
        const all = [...ws, ...up];
        for (const [n, p] of [ws[0], up[2]].entries()) {
          assert.deepEqual(await ask(p.socket, "publish", ROOM, "msg", { from: p.name, seq: n }), { ok: true });
          await barrier(cluster.brokers, all);
          assertEachOnce(all, p, n);
        }
        for (const c of all) assert.deepEqual(c.disconnects, [], `${c.name} kept its session`);
        for (const c of all) close(c);
      });

      it("the broker sees the client's address and scheme (X-Forwarded-For, X-Forwarded-Proto)", async () => {
        const c = open(cluster, "fwd", { transports: ["polling"] });
        const { node, id } = await sessions(c, 1);
        // the Admin UI (auth "none" here) lists the sockets of the broker it is connected to
        const broker = cluster.brokers[node - 1];
        const admin = ioClient(`${broker.url}/admin`, { forceNew: true, reconnection: false, transports: ["websocket"] });
        try {
          const [all] = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no all_sockets from the Admin UI")), 5000);
            admin.once("all_sockets", (...args) => {
              clearTimeout(timer);
              resolve(args);
            });
          });
          const h = all.find((s) => s.id === id)?.handshake;
          assert.ok(h, `socket ${id} listed by node ${node}`);
          assert.equal(h.address, c.localAddress, "the client's own address, from X-Forwarded-For");
          assert.equal(h.headers["x-forwarded-for"], c.localAddress);
          assert.equal(h.headers["x-forwarded-proto"], "http");
        } finally {
          admin.disconnect();
          close(c);
        }
      });
    });

    it("kill -9 of a node: its clients reconnect through the balancer to the others and receive again", async (t) => {
      const cluster = await startCluster(startBalancer);
      t.after(() => cluster.stop());
      const opts = { reconnection: true, room: ROOM };
      const poll = await spread(cluster, "poll", 1, { ...opts, transports: ["polling"] });
      const ws = await spread(cluster, "ws", 1, { ...opts, transports: ["websocket"] });
      const victims = [...poll[2], ...ws[2]];
      const survivors = [...poll[0], ...poll[1], ...ws[0], ...ws[1]];
      const victim = cluster.brokers[2];
      victim.signal("SIGKILL");
      assert.deepEqual(await victim.exited, { code: null, signal: "SIGKILL" });
      for (const c of victims) {
        const s = await sessions(c, 2);
        assert.notEqual(s.node, 3, `${c.name} reconnected to a live node`);
      }
      const all = [...survivors, ...victims];
      for (const [n, p] of [survivors[0], victims[0], victims[1]].entries()) {
        assert.deepEqual(await ask(p.socket, "publish", ROOM, "msg", { from: p.name, seq: n }), { ok: true });
        await barrier(cluster.brokers, all);
        assertEachOnce(all, p, n);
      }
      for (const c of survivors) assert.deepEqual(c.disconnects, [], `${c.name} (on a live node) kept its session`);
      assert.equal(transportOf(victims[0]), "polling");
    });

    it("SIGTERM drain of a node: no acknowledged publish is lost for clients connected throughout", drainTest(startBalancer));
  });
}

// ---- the drain ----------------------------------------------------------------------------------
//
// On each node: a polling-only receiver, a WebSocket-only receiver and a publisher (upgrading), all in
// one room and reconnecting. Every publisher publishes {from, seq} back to back, each awaiting the
// broker's acknowledgement ({"ok":true}: the broker took the publish for delivery to the room on every
// node) before the next, during all of: before, while node 3 drains (SIGTERM), after its clients moved.
// Asserted:
// * node 3 exits 0, and its clients reconnect through the balancer to nodes 1 and 2;
// * the clients of nodes 1 and 2 are never disconnected, and each received, exactly once, every
//   publish any other publisher had acknowledged (node 3's publisher's before the drain included), and
//   nothing that was never sent; the publishes of nodes 1's and 2's publishers in order;
// * node 3's clients, once they rejoined the room on another node, receive exactly once every publish
//   sent after their rejoin was acknowledged. Publishes sent while they were reconnecting may be missing
//   for them, and so may the ones node 3's publisher sent but never got acknowledged (in flight when
//   its connection closed): neither is asserted, but no client gets anything twice.

async function publishLoop(p, state) {
  p.log = []; // { seq, sentAt, acked }
  for (let seq = 0; !state.stop; seq++) {
    const session = p.sessions.at(-1);
    if (!p.socket.connected || !session) {
      await until(async () => p.socket.connected && p.sessions.length > 0, `${p.name} connected`, 15000);
      continue;
    }
    await session.joined;
    const entry = { seq, sentAt: Date.now(), acked: false };
    p.log.push(entry);
    try {
      const r = await p.socket.timeout(3000).emitWithAck("publish", ROOM, "msg", { from: p.name, seq });
      entry.acked = r.ok === true;
    } catch {
      entry.acked = false; // the connection closed (drain) before the acknowledgement
    }
    // pace: a few hundred publishes a second per publisher is enough to span the drain
    await new Promise((r) => setTimeout(r, 5));
  }
}

const ackedCount = (p) => p.log?.filter((e) => e.acked).length ?? 0;

function drainTest(startBalancer) {
  return async (t) => {
    const cluster = await startCluster(startBalancer);
    t.after(() => cluster.stop());
    const opts = { reconnection: true, room: ROOM };
    const poll = await spread(cluster, "poll", 1, { ...opts, transports: ["polling"] });
    const ws = await spread(cluster, "ws", 1, { ...opts, transports: ["websocket"] });
    const pub = await spread(cluster, "pub", 1, { ...opts, transports: ["polling", "websocket"] });
    const node = (n) => [...poll[n - 1], ...ws[n - 1], ...pub[n - 1]];
    const [throughout, drained] = [[...node(1), ...node(2)], node(3)];
    const publishers = pub.flat();
    const state = { stop: false };
    const loops = publishers.map((p) => publishLoop(p, state));
    try {
      await until(async () => publishers.every((p) => ackedCount(p) >= 20), "20 acknowledged publishes each", 15000);
      const victim = cluster.brokers[2];
      victim.signal("SIGTERM");
      assert.deepEqual(await victim.exited, { code: 0, signal: null }, "the drained node exits 0");
      for (const c of drained) assert.notEqual((await sessions(c, 2, 15000)).node, 3, `${c.name} moved to a live node`);
      const after = publishers.map(ackedCount);
      await until(async () => publishers.every((p, i) => ackedCount(p) >= after[i] + 20), "20 more publishes each", 15000);
    } finally {
      state.stop = true;
      await Promise.all(loops);
    }
    await barrier(cluster.brokers, [...throughout, ...drained]);

    for (const c of throughout) assert.deepEqual(c.disconnects, [], `${c.name} (nodes 1, 2) is never disconnected`);
    for (const c of [...throughout, ...drained]) {
      for (const p of publishers) {
        const got = msgsFrom(c, p.name);
        if (p === c) {
          assert.deepEqual(got, [], `${c.name} does not get its own publishes`);
          continue;
        }
        const sent = new Set(p.log.map((e) => e.seq));
        assert.equal(new Set(got).size, got.length, `${c.name} gets ${p.name}'s publishes at most once`);
        assert.ok(got.every((s) => sent.has(s)), `${c.name} gets only what ${p.name} sent`);
        const since = throughout.includes(c) ? 0 : (await c.sessions[1].joined);
        const missing = p.log.filter((e) => e.acked && e.sentAt >= since && !got.includes(e.seq)).map((e) => e.seq);
        assert.deepEqual(missing, [], `${c.name} misses none of ${p.name}'s acknowledged publishes${since ? " since it rejoined" : ""}`);
        if (throughout.includes(c) && throughout.includes(p)) {
          assert.deepEqual(got, [...got].sort((a, b) => a - b), `${c.name} gets ${p.name}'s publishes in order`);
        }
      }
    }
  };
}
