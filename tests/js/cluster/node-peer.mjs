// A Node.js socket.io 4.8 server that joins a mixed cluster beside roomcast brokers, with the helpers the
// cluster suites share: its clients, tagged barriers across servers, ack answering, and counts of Redis
// subscribers and of server-side events.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createClient } from "redis";
import { record, once } from "../broker/lib/broker.mjs";

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
export const bounded = (promise, ms) =>
  Promise.race([Promise.resolve(promise).catch(() => {}), new Promise((r) => setTimeout(r, ms).unref())]);

let barrierSeq = 0;

/**
 * Starts a Node server whose adapter is `adapter(pub, sub)`, over the node-redis client `pub` (not yet
 * connected) and its duplicate. Each namespace of `namespaces` answers `join` and `leave` with
 * `{ok: true}`; server-side events named in `serverEvents` are recorded in `peer.serverEvents` as
 * `[event, ...args]` and acked with `{from: "node", got: args}`.
 */
export async function startNodePeer({ pub, adapter, namespaces = ["/"], serverEvents = [] }) {
  const sub = pub.duplicate();
  // Reconnects by itself when Redis restarts in a fault test.
  for (const c of [pub, sub]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: adapter(pub, sub) });
  for (const nsp of namespaces) {
    io.of(nsp).on("connection", (socket) => {
      socket.on("join", (room, cb) => (socket.join(room), cb?.({ ok: true })));
      socket.on("leave", (room, cb) => (socket.leave(room), cb?.({ ok: true })));
    });
  }
  const peer = new NodePeer(io, httpServer, [pub, sub]);
  for (const ev of serverEvents) {
    io.on(ev, (...args) => {
      const cb = typeof args.at(-1) === "function" ? args.pop() : null;
      peer.serverEvents.push([ev, ...args]);
      cb?.({ from: "node", got: args });
    });
  }
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  peer.url = `http://127.0.0.1:${httpServer.address().port}`;
  return peer;
}

/** The Node server of a mixed cluster, and the clients the tests opened on it. */
export class NodePeer {
  constructor(io, httpServer, redisClients) {
    /** The socket.io `Server`. */
    this.io = io;
    this.httpServer = httpServer;
    this.redisClients = redisClients;
    /** Server-side events received from other servers: `[event, ...args]`. */
    this.serverEvents = [];
    this.clients = [];
    this.url = "";
  }

  /** A WebSocket client of this server on `nsp`, connected. */
  async client(nsp = "/") {
    const socket = ioc(this.url + (nsp === "/" ? "" : nsp), { forceNew: true, reconnection: false, transports: ["websocket"] });
    this.clients.push(socket);
    await once(socket, "connect");
    return socket;
  }

  /** A client on `nsp` recording `events` (and barriers): `{socket, inbox}`. */
  async recordingClient(events, nsp = "/") {
    const socket = ioc(this.url + (nsp === "/" ? "" : nsp), { forceNew: true, reconnection: false, transports: ["websocket"] });
    this.clients.push(socket);
    const inbox = record(socket, [...events, "barrier"]);
    await once(socket, "connect");
    return { socket, inbox };
  }

  /** Disconnects the clients opened so far (after each test). */
  closeClients() {
    for (const c of this.clients) c.disconnect();
    this.clients = [];
  }

  /**
   * Closes the server and its Redis clients, each bounded in time: node-redis 4.7's cluster client may
   * never settle a QUIT after a master restarted, and is then disconnected without waiting.
   */
  async stop() {
    this.closeClients();
    await bounded(this.io.close(), 3000);
    await Promise.all(this.redisClients.map((c) => bounded(c.quit(), 3000)));
    for (const c of this.redisClients) if (c.isOpen) await c.disconnect().catch(() => {});
  }
}

/**
 * Emits a tagged barrier from `from` (a broker, or a `NodePeer`) on `nsp`, to `room` if given or to
 * everyone, and waits for it in every inbox: everything sent before it has then been delivered.
 */
export async function crossBarrier(from, inboxes, { nsp = "/", room } = {}) {
  const tag = `barrier-${++barrierSeq}`;
  if (from instanceof NodePeer) (room ? from.io.of(nsp).to(room) : from.io.of(nsp)).emit("barrier", tag);
  else await from.ok("/api/v1/emit", { namespace: nsp, event: "barrier", args: [tag], ...(room ? { rooms: [room] } : {}) });
  await Promise.all(inboxes.map((inbox) => inbox.wait((i) => i.event === "barrier" && i.args[0] === tag, 5000, tag)));
}

/** Each of `sockets` answers event `ev` with `answer(socket, ...args)`. */
export function answering(sockets, ev, answer) {
  for (const s of sockets) {
    s.on(ev, (...args) => {
      const ack = args.pop();
      ack(answer(s, ...args));
    });
  }
}

/** The broker's count of server-side events received from other servers on "/". */
export async function serverSideEventsReceived(broker) {
  const { values } = await broker.metrics();
  return values.get('roomcast_cluster_server_side_events_total{namespace="/"}') ?? 0;
}

/** `PUBSUB SHARDNUMSUB channel` at the Redis `url`, on a connection of its own. */
export async function shardNumsub(url, channel) {
  const client = createClient({ url });
  client.on("error", () => {});
  try {
    await client.connect();
    const [, count] = await client.sendCommand(["PUBSUB", "SHARDNUMSUB", channel]);
    return Number(count);
  } finally {
    await client.disconnect().catch(() => {});
  }
}
