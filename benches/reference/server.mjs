// Reference server for roomcast-load: Node.js + socket.io 4.8, implementing the same client room API
// as roomcast's broker (issue 3, "client room API"), so the two can be measured side by side.
//
//   node benches/reference/server.mjs [--port N] [--host 127.0.0.1] [--publish-policy joined|any]
//                                      [--redis-url redis://127.0.0.1:6379/0]
//                                      [--redis-streams-url redis://127.0.0.1:6379/0] [--recovery]
//
// Prints exactly one line `LISTENING <port>` on stdout once it accepts connections; runs until killed.
// With --redis-url it is one node of a cluster: @socket.io/redis-adapter 8.3 (the classic pub/sub
// adapter, `createAdapter`) over two `redis` 4.7 clients, so a publish reaches the room's members on
// every node that uses the same Redis (roomcast-load compare's cluster scenarios). With
// --redis-streams-url it is one node of a cluster over @socket.io/redis-streams-adapter 0.3 (one
// `redis` 4.7 client): broadcasts go through a Redis stream, and with --recovery the sessions are
// kept in Redis, so a client recovers on any node.
// --recovery turns on Socket.IO's connection state recovery (off by default): sessions kept for
// 2 minutes, middlewares skipped on recovery (roomcast's [recovery] defaults).
//
// Contract (namespace "/", path "/socket.io/"):
//   join    (room | [rooms], ack)          -> ack {"ok":true,"rooms":[the socket's rooms, own id excluded]}
//   leave   (room | [rooms], ack)          -> same shape
//   publish (room | [rooms], event, ...args[, ack])
//                                          -> every socket in any of the rooms except the sender receives
//                                             `event` with exactly `args`, once; ack {"ok":true}
//   echo    (...args, ack)                 -> ack with the same arguments (the load generator's echo scenario)
//   any other event with an ack            -> ack {"ok":false,"error":"unknown event"}
// Refusals answer {"ok":false,"error":"<reason>"} and change nothing. Room names are non-empty strings of at
// most 256 UTF-8 bytes. With the default --publish-policy joined (roomcast's default `client_publish`), a
// socket may publish only to rooms it is in.
//
// Tuned as the Socket.IO performance-tuning guide recommends: the default `ws` engine with its native
// add-ons (bufferutil, utf-8-validate: optional dependencies), no per-message deflate, no HTTP compression,
// no client bundle served, and the initial HTTP request dropped once the connection is established.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { createClient } from "redis";

function parseArgs(argv) {
  const opts = {
    port: 3300,
    host: "127.0.0.1",
    publishPolicy: "joined",
    redisUrl: null,
    redisStreamsUrl: null,
    recovery: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--port":
        opts.port = Number.parseInt(value, 10);
        i++;
        break;
      case "--host":
        opts.host = value;
        i++;
        break;
      case "--publish-policy":
        if (value !== "joined" && value !== "any") {
          console.error(`--publish-policy must be "joined" or "any", got ${value}`);
          process.exit(2);
        }
        opts.publishPolicy = value;
        i++;
        break;
      case "--redis-url":
        if (typeof value !== "string" || !value.startsWith("redis://")) {
          console.error(`--redis-url must be a redis:// URL, got ${value}`);
          process.exit(2);
        }
        opts.redisUrl = value;
        i++;
        break;
      case "--redis-streams-url":
        if (typeof value !== "string" || !value.startsWith("redis://")) {
          console.error(`--redis-streams-url must be a redis:// URL, got ${value}`);
          process.exit(2);
        }
        opts.redisStreamsUrl = value;
        i++;
        break;
      case "--recovery":
        opts.recovery = true;
        break;
      case "--help":
      case "-h":
        console.log(
          "node server.mjs [--port N] [--host ADDR] [--publish-policy joined|any] [--redis-url URL] " +
            "[--redis-streams-url URL] [--recovery]",
        );
        process.exit(0);
        break;
      default:
        console.error(`unknown argument ${flag}`);
        process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error("--port must be an integer between 0 and 65535");
    process.exit(2);
  }
  if (opts.redisUrl && opts.redisStreamsUrl) {
    console.error("--redis-url and --redis-streams-url exclude each other");
    process.exit(2);
  }
  return opts;
}

const RESERVED = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "disconnecting",
  "newListener",
  "removeListener",
]);
const MAX_ROOM_BYTES = 256;

// Returns the list of room names, or a string describing why the argument is refused.
function roomList(arg) {
  const rooms = Array.isArray(arg) ? arg : [arg];
  if (rooms.length === 0) return "no room given";
  for (const room of rooms) {
    if (typeof room !== "string" || room.length === 0) return "bad room name";
    if (Buffer.byteLength(room, "utf8") > MAX_ROOM_BYTES) return "room name too long";
  }
  return rooms;
}

function namedRooms(socket) {
  const out = [];
  for (const room of socket.rooms) if (room !== socket.id) out.push(room);
  return out;
}

// Splits a handler's arguments into (args, ack) — the ack is the trailing function, if any.
function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

const opts = parseArgs(process.argv.slice(2));

const httpServer = createServer((req, res) => {
  res.writeHead(404).end();
});

// The cluster's adapter: one client publishes, its duplicate subscribes (the adapter's documented setup).
async function redisAdapter(url) {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    client.on("error", (err) => console.error(`redis: ${err.message}`));
  }
  await Promise.all([pub.connect(), sub.connect()]);
  return createAdapter(pub, sub);
}

// The streams adapter's documented setup: one client (it duplicates it for its blocking reads).
async function redisStreamsAdapter(url) {
  const client = createClient({ url });
  client.on("error", (err) => console.error(`redis: ${err.message}`));
  await client.connect();
  return createStreamsAdapter(client);
}

async function adapter() {
  if (opts.redisUrl) return { adapter: await redisAdapter(opts.redisUrl) };
  if (opts.redisStreamsUrl) return { adapter: await redisStreamsAdapter(opts.redisStreamsUrl) };
  return {};
}

const io = new Server(httpServer, {
  ...(await adapter()),
  ...(opts.recovery
    ? { connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true } }
    : {}),
  path: "/socket.io/",
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  perMessageDeflate: false,
  httpCompression: false,
  transports: ["polling", "websocket"],
});

// Performance tuning guide: the initial HTTP request is kept in memory by default; drop it.
io.engine.on("connection", (rawSocket) => {
  rawSocket.request = null;
});

io.on("connection", (socket) => {
  socket.on("join", (...raw) => {
    const [args, ack] = splitAck(raw);
    const rooms = roomList(args[0]);
    if (typeof rooms === "string") return ack?.({ ok: false, error: rooms });
    socket.join(rooms);
    ack?.({ ok: true, rooms: namedRooms(socket) });
  });

  socket.on("leave", (...raw) => {
    const [args, ack] = splitAck(raw);
    const rooms = roomList(args[0]);
    if (typeof rooms === "string") return ack?.({ ok: false, error: rooms });
    for (const room of rooms) socket.leave(room);
    ack?.({ ok: true, rooms: namedRooms(socket) });
  });

  socket.on("publish", (...raw) => {
    const [args, ack] = splitAck(raw);
    const rooms = roomList(args[0]);
    if (typeof rooms === "string") return ack?.({ ok: false, error: rooms });
    const event = args[1];
    if (typeof event !== "string" || event.length === 0) {
      return ack?.({ ok: false, error: "bad event name" });
    }
    if (RESERVED.has(event)) return ack?.({ ok: false, error: "reserved event name" });
    if (opts.publishPolicy === "joined") {
      for (const room of rooms) {
        if (!socket.rooms.has(room)) return ack?.({ ok: false, error: "not in room" });
      }
    }
    // socket.to() excludes the sender; a socket in several of the rooms receives the event once.
    socket.to(rooms).emit(event, ...args.slice(2));
    ack?.({ ok: true });
  });

  socket.on("echo", (...raw) => {
    const [args, ack] = splitAck(raw);
    ack?.(...args);
  });

  socket.onAny((event, ...raw) => {
    if (event === "join" || event === "leave" || event === "publish" || event === "echo") return;
    const [, ack] = splitAck(raw);
    ack?.({ ok: false, error: "unknown event" });
  });
});

httpServer.listen(opts.port, opts.host, () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
