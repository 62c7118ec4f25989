// A drain behind nginx hands its clients over with nothing missed (issue 11 item 4): three roomcast
// brokers running the shipped deploy/roomcast.toml with [cluster] adapter = "redis-streams" and
// [recovery] on (from the environment), behind nginx from the shipped deploy/nginx.conf (only ports
// and addresses replaced, tests/js/cluster/balancers.mjs), with socket.io-client clients through nginx
// only, WebSocket-only and polling-only, each from a loopback address of its own (nginx hashes on it).
// Node 1's admin API emits a numbered sequence to the clients' room, back to back, before, during and
// after node 3 drains on SIGTERM. Node 3's clients reconnect by themselves through nginx onto nodes 1
// and 2 and recover there (socket.recovered, the same id: their sessions were left in Redis); every
// client, moved or not, receives every number of the sequence exactly once and in order.
//
// Which node a client is on: each broker has its own engine.ping_interval_ms (25001, 25002, 25003),
// which the client reads from its handshake.

import { it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { io as ioClient } from "socket.io-client";
import { startBroker, ask, record, REPO_ROOT } from "../broker/lib/broker.mjs";
import { startRedis, until } from "./redis.mjs";
import { startNginx } from "./balancers.mjs";

const SHIPPED_NODE_CONFIG = path.join(REPO_ROOT, "deploy", "roomcast.toml");
const PING_BASE = 25000;
const NODES = 3;
const ROOM = "feed";

async function startCluster(t) {
  const cluster = { brokers: [], clients: [] };
  t.after(async () => {
    for (const c of cluster.clients) {
      c.socket.io.reconnection(false);
      c.socket.disconnect();
      c.agent.destroy();
    }
    await cluster.lb?.stop();
    for (const b of cluster.brokers) await b.stop();
    await cluster.redis?.stop();
  });
  cluster.redis = await startRedis();
  for (let i = 1; i <= NODES; i++) {
    const env = {
      ROOMCAST_CLUSTER_ADAPTER: "redis-streams",
      ROOMCAST_CLUSTER_REDIS_URL: cluster.redis.url,
      ROOMCAST_RECOVERY_ENABLED: "true",
      ROOMCAST_ENGINE_PING_INTERVAL_MS: String(PING_BASE + i),
    };
    cluster.brokers.push(await startBroker({}, { file: SHIPPED_NODE_CONFIG, env }));
  }
  cluster.lb = await startNginx(cluster.brokers);
  return cluster;
}

let addressSeq = 0;
/** A loopback address of its own for each client: 127.0.x.y. */
function nextAddress() {
  const n = addressSeq++;
  return `127.0.${2 + (Math.floor(n / 250) % 250)}.${2 + (n % 250)}`;
}

/** The node (1..NODES) whose handshake the client's current connection had. */
function nodeOf(socket) {
  // engine.io-client 6.6 keeps the handshake's pingInterval in `_pingInterval` (pinned in package-lock)
  const node = socket.io.engine._pingInterval - PING_BASE;
  assert.ok(node >= 1 && node <= NODES, `pingInterval ${socket.io.engine._pingInterval} names no node`);
  return node;
}

/** A reconnecting client through nginx -> { name, socket, inbox, sessions: [{ node, id, recovered }], disconnects }. */
function open(cluster, name, transports) {
  const localAddress = nextAddress();
  const agent = new http.Agent({ keepAlive: true, localAddress });
  const socket = ioClient(cluster.lb.url, {
    forceNew: true,
    transports,
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 5000,
    agent,
    localAddress,
  });
  const c = { name, socket, agent, inbox: record(socket, ["msg"]), sessions: [], disconnects: [] };
  socket.on("connect", () => c.sessions.push({ node: nodeOf(socket), id: socket.id, recovered: socket.recovered }));
  socket.on("disconnect", (reason) => c.disconnects.push(reason));
  cluster.clients.push(c);
  return c;
}

/** Opens clients until each node has one of `transports` (nginx decides where each lands); extras close. */
async function onEachNode(cluster, kind, transports) {
  const byNode = new Array(NODES).fill(null);
  for (let attempt = 0; byNode.some((c) => !c); attempt++) {
    assert.ok(attempt < 60, `${kind}: clients landed on nodes ${byNode.map((c) => !!c)} only`);
    const c = open(cluster, `${kind}-${attempt}`, transports);
    await until(async () => c.sessions.length === 1, `${c.name} connected`, 10000);
    const { node } = c.sessions[0];
    if (!byNode[node - 1]) {
      c.name = `${kind}@${node}`;
      assert.deepEqual(await ask(c.socket, "join", ROOM), { ok: true, rooms: [ROOM] });
      byNode[node - 1] = c;
    } else {
      c.socket.io.reconnection(false);
      c.socket.disconnect();
      c.agent.destroy();
      cluster.clients.splice(cluster.clients.indexOf(c), 1);
    }
  }
  return byNode;
}

/** Node 1's admin API emits 0, 1, 2, ... to the room, each after the last was accepted, until `state.stop`. */
async function publish(node, state) {
  for (state.sent = 0; !state.stop; state.sent++) {
    await node.ok("/api/v1/emit", { event: "msg", args: [state.sent], rooms: [ROOM] });
    await new Promise((r) => setTimeout(r, 2));
  }
}

const numbers = (c) => c.inbox.of("msg").map((args) => args[0]);

it("SIGTERM of a node behind nginx: its clients recover on the others and every client gets the whole sequence once", async (t) => {
  const cluster = await startCluster(t);
  const ws = await onEachNode(cluster, "ws", ["websocket"]);
  const poll = await onEachNode(cluster, "poll", ["polling"]);
  const clients = [...ws, ...poll];
  const [moved, stayed] = [[ws[2], poll[2]], [ws[0], ws[1], poll[0], poll[1]]];
  const [publisher, victim] = [cluster.brokers[0], cluster.brokers[2]];

  const state = { stop: false, sent: 0 };
  // what the publisher had sent when a moved client lost its connection, and when it was back
  for (const c of moved) {
    c.socket.on("disconnect", () => (c.sentAtDrop ??= state.sent));
    c.socket.on("connect", () => (c.sentAtReturn ??= state.sent));
  }
  const publishing = publish(publisher, state);
  try {
    await until(async () => clients.every((c) => numbers(c).length >= 20), "20 numbers at every client", 15000);
    victim.signal("SIGTERM");
    assert.deepEqual(await victim.exited, { code: 0, signal: null }, "the drained node exits 0");
    for (const c of moved) await until(async () => c.sessions.length >= 2, `${c.name} reconnected`, 15000);
    const after = state.sent;
    await until(async () => state.sent >= after + 50, "50 more numbers", 15000);
  } finally {
    state.stop = true;
    await publishing;
  }
  const all = Array.from({ length: state.sent }, (_, n) => n);
  for (const c of clients) {
    await until(async () => numbers(c).length >= state.sent, `${c.name} has ${state.sent} numbers (got ${numbers(c).length})`, 10000);
  }
  for (const c of moved) {
    const [before, now] = c.sessions;
    assert.equal(c.sessions.length, 2, `${c.name} reconnected once`);
    assert.notEqual(now.node, 3, `${c.name} moved to a live node`);
    assert.equal(now.recovered, true, `${c.name} recovered`);
    assert.equal(now.id, before.id, `${c.name} kept its id`);
    assert.ok(c.sentAtReturn > c.sentAtDrop, `${c.name} was away while numbers were sent (${c.sentAtDrop}..${c.sentAtReturn}): its replay is tested`);
  }
  for (const c of stayed) assert.deepEqual(c.disconnects, [], `${c.name} (nodes 1, 2) is never disconnected`);
  for (const c of clients) assert.deepEqual(numbers(c), all, `${c.name} got every number once, in order`);
});
