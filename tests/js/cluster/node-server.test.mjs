// A roomcast broker and a Node.js Socket.IO 4.8 server with @socket.io/redis-adapter 8.x on one
// redis-server: each side's requests between servers reach the other. From the Node server,
// io.fetchSockets() lists roomcast's sockets (Node-shaped: id, rooms with the id first, handshake),
// and socketsJoin / socketsLeave / disconnectSockets act on them; from roomcast, the admin API's
// socket listing includes the Node server's sockets.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as ioc } from "socket.io-client";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { startBroker, ask, once } from "../broker/lib/broker.mjs";
import { startRedis, numsub, until } from "./redis.mjs";

let redis;
let broker;
let io;
let httpServer;
let nodeUrl;
const redisClients = [];
const nodeClients = [];

before(async () => {
  redis = await startRedis();
  broker = await startBroker({
    cluster: { adapter: "redis", redis_url: redis.url, key: "socket.io" },
    namespaces: [{ name: "/", client_join: true, client_publish: "joined" }],
  });
  const pub = createClient({ url: redis.url });
  const sub = pub.duplicate();
  redisClients.push(pub, sub);
  await Promise.all([pub.connect(), sub.connect()]);
  httpServer = createServer();
  io = new Server(httpServer, { adapter: createAdapter(pub, sub, { requestsTimeout: 3000 }) });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  nodeUrl = `http://127.0.0.1:${httpServer.address().port}`;
  // roomcast makes "/"'s adapter (and its subscriptions) on first use.
  (await broker.connect("/")).disconnect();
  await until(async () => (await numsub(redis.port, "socket.io-request#/#")) === 2, "both servers on the request channel", 10000);
  await broker.waitForLog(/Redis publisher connected/, 10000);
});

after(async () => {
  for (const c of nodeClients) c.disconnect();
  io?.close();
  await Promise.all(redisClients.map((c) => c.quit().catch(() => {})));
  const result = await broker?.stop();
  await redis?.stop();
  assert.deepEqual(result, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

afterEach(() => broker.closeClients());

describe("roomcast answers a Node.js server's requests", () => {
  it("io.fetchSockets() on the Node server lists roomcast's sockets, Node-shaped", async () => {
    const socket = await broker.connect("/", { query: { who: "rc" } });
    assert.deepEqual(await ask(socket, "join", "lobby"), { ok: true, rooms: ["lobby"] });
    const all = await io.fetchSockets();
    const found = all.find((s) => s.id === socket.id);
    assert.ok(found, `roomcast's socket ${socket.id} among ${all.map((s) => s.id)}`);
    assert.deepEqual([...found.rooms], [socket.id, "lobby"]);
    const hs = found.handshake;
    assert.deepEqual(Object.keys(hs), ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"]);
    assert.equal(hs.query.who, "rc");
    assert.equal(hs.query.EIO, "4");
    assert.equal(typeof hs.issued, "number");
    assert.match(hs.time, /GMT\+0000/);
    const inLobby = await io.in("lobby").fetchSockets();
    assert.deepEqual(inLobby.map((s) => s.id), [socket.id]);
    assert.deepEqual(await io.in("nobody-here").fetchSockets(), [], "an empty answer is an answer");
  });

  it("the adapter's allRooms() on the Node server includes roomcast's rooms", async () => {
    const socket = await broker.connect("/");
    await ask(socket, "join", "common-room");
    const rooms = await io.of("/").adapter.allRooms();
    assert.ok(rooms.has("common-room"), `common-room among ${[...rooms]}`);
  });

  it("socketsJoin, socketsLeave and disconnectSockets on the Node server reach roomcast's sockets", async () => {
    const socket = await broker.connect("/");
    const rooms = async () => (await broker.ok(`/api/v1/sockets/${socket.id}`)).rooms;
    io.in(socket.id).socketsJoin(["extra", "more"]);
    await until(async () => (await rooms()).includes("more"), "the remote join");
    assert.deepEqual((await rooms()).sort(), ["extra", "more"]);
    io.in("extra").socketsLeave("more");
    await until(async () => !(await rooms()).includes("more"), "the remote leave");
    const gone = once(socket, "disconnect");
    io.in("extra").disconnectSockets(true);
    assert.equal((await gone)[0], "io server disconnect");
  });
});

describe("roomcast asks the Node.js server", () => {
  it("the admin API's socket listing includes the Node server's sockets", async () => {
    const client = ioc(nodeUrl, { forceNew: true, reconnection: false, transports: ["websocket"] });
    nodeClients.push(client);
    await once(client, "connect");
    const local = await broker.connect("/");
    const listed = await broker.ok("/api/v1/sockets");
    const ids = listed.sockets.map((s) => s.id);
    assert.ok(ids.includes(client.id), `the Node server's socket ${client.id} among ${ids}`);
    assert.ok(ids.includes(local.id));
    const one = await broker.ok(`/api/v1/sockets/${client.id}`);
    assert.equal(one.id, client.id);
  });
});
