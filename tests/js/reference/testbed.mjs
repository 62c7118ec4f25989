// Reference implementation of the testbed contract (tests/TESTBED.md) with Node's socket.io 4.8.
//
//   node tests/js/reference/testbed.mjs [--port N] [--ping-interval MS] [--ping-timeout MS]
//        [--max-payload BYTES] [--connect-timeout MS] [--outbound-queue N]
//        [--transports polling,websocket] [--cookie NAME] [--parser default|msgpack] [--admin-ui NAMESPACE]
//
// Prints exactly one line `LISTENING <port>` on stdout once it accepts connections; runs until killed.
// `--outbound-queue` and `--outbound-queue-bytes` are accepted and ignored (Socket.IO has no
// per-connection outbound limit).

import http from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";
import { instrument } from "@socket.io/admin-ui";

/** bcrypt of "changeit" (cost 4): the Admin UI password of `--admin-ui`. */
const ADMIN_UI_HASH = "$2a$04$JiFCNFAZPmesR8K67hDSqepUrPDerR6YzeDh.RIiMMAH7M4ZzGJgK";

function parseArgs(argv) {
  const opts = {
    port: 0,
    pingInterval: 25000,
    pingTimeout: 20000,
    maxPayload: 1000000,
    connectTimeout: 45000,
    outboundQueue: 1024,
    transports: ["polling", "websocket"],
    cookie: null,
    parser: "default",
    adminUi: null,
  };
  const int = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) {
      throw new Error(`${flag} needs a non-negative integer, got ${v}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    switch (flag) {
      case "--port": opts.port = int(flag, value); i++; break;
      case "--ping-interval": opts.pingInterval = int(flag, value); i++; break;
      case "--ping-timeout": opts.pingTimeout = int(flag, value); i++; break;
      case "--max-payload": opts.maxPayload = int(flag, value); i++; break;
      case "--connect-timeout": opts.connectTimeout = int(flag, value); i++; break;
      case "--outbound-queue": opts.outboundQueue = int(flag, value); i++; break;
      case "--outbound-queue-bytes": opts.outboundQueueBytes = int(flag, value); i++; break;
      case "--transports": {
        if (value === undefined) throw new Error("--transports needs a value");
        const list = value.split(",").map((t) => t.trim()).filter(Boolean);
        for (const t of list) {
          if (t !== "polling" && t !== "websocket") throw new Error(`unknown transport ${t}`);
        }
        if (list.length === 0) throw new Error("--transports needs at least one transport");
        opts.transports = list;
        i++;
        break;
      }
      case "--admin-ui":
        if (!value || !value.startsWith("/")) throw new Error("--admin-ui needs a namespace name");
        opts.adminUi = value;
        i++;
        break;
      case "--cookie":
        if (value === undefined) throw new Error("--cookie needs a name");
        opts.cookie = value;
        i++;
        break;
      case "--parser":
        if (value !== "default" && value !== "msgpack") throw new Error(`unknown parser ${value}`);
        opts.parser = value;
        i++;
        break;
      default:
        throw new Error(`unknown argument ${flag}`);
    }
  }
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`testbed: ${err.message}\n`);
  process.exit(2);
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  cors: { origin: "*" },
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  maxHttpBufferSize: opts.maxPayload,
  connectTimeout: opts.connectTimeout,
  transports: opts.transports,
  ...(opts.parser === "msgpack" ? { parser: msgpackParser } : {}),
  cookie: opts.cookie ? { name: opts.cookie } : false,
  serveClient: false,
});

const REMEMBERED_DISCONNECTS = 1000;
// namespace name -> Map(socket id -> { reason, rooms }) ; Map keeps insertion order for eviction
const lastDisconnects = new Map();

function remember(nspName, id, record) {
  let map = lastDisconnects.get(nspName);
  if (!map) {
    map = new Map();
    lastDisconnects.set(nspName, map);
  }
  map.delete(id);
  map.set(id, record);
  while (map.size > REMEMBERED_DISCONNECTS) {
    map.delete(map.keys().next().value);
  }
}

const sortedRooms = (socket) => [...socket.rooms].sort();

function asList(value) {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function isFn(f) {
  return typeof f === "function";
}

function attachHandlers(socket) {
  const nsp = socket.nsp;

  socket.on("disconnecting", (reason) => {
    remember(nsp.name, socket.id, {
      reason,
      rooms: [...socket.rooms].filter((r) => r !== socket.id).sort(),
    });
  });

  socket.on("echo", (...args) => {
    socket.emit("echo", ...args);
  });

  socket.on("echo-ack", (...args) => {
    const ack = args.pop();
    if (isFn(ack)) ack(...args);
  });

  socket.on("whoami", (ack) => {
    if (!isFn(ack)) return;
    ack({
      id: socket.id,
      nsp: nsp.name,
      transport: socket.conn.transport.name,
      auth: socket.handshake.auth,
      rooms: sortedRooms(socket),
    });
  });

  socket.on("join", (rooms, ack) => {
    socket.join(asList(rooms));
    if (isFn(ack)) ack(sortedRooms(socket));
  });

  socket.on("leave", (room, ack) => {
    socket.leave(room);
    if (isFn(ack)) ack(sortedRooms(socket));
  });

  socket.on("emit-to", (spec, ack) => {
    spec = spec || {};
    let op = nsp;
    const rooms = asList(spec.rooms);
    if (rooms.length > 0) op = op.to(rooms);
    const except = asList(spec.except);
    if (except.length > 0) op = op.except(except);
    if (spec.exclude_self === true) op = op.except(socket.id);
    if (spec.volatile === true) op = op.volatile;
    op.emit(spec.event, ...asList(spec.args));
    if (isFn(ack)) ack(true);
  });

  socket.on("server-ack", (spec, ack) => {
    spec = spec || {};
    socket.timeout(spec.timeout_ms).emit(spec.event, ...asList(spec.args), (err, ...args) => {
      if (!isFn(ack)) return;
      if (err) ack({ error: "timeout" });
      else ack({ args });
    });
  });

  socket.on("disconnect-me", (close) => {
    socket.disconnect(close === true);
  });

  socket.on("last-disconnect", (id, ack) => {
    if (!isFn(ack)) return;
    const record = lastDisconnects.get(nsp.name)?.get(id);
    ack(record ?? null);
  });

  socket.on("count", (ack) => {
    if (!isFn(ack)) return;
    let rooms = 0;
    for (const room of nsp.adapter.rooms.keys()) {
      // a socket's own id room is not counted
      if (!nsp.sockets.has(room)) rooms++;
    }
    ack({ sockets: nsp.sockets.size, rooms });
  });
}

io.of("/").on("connection", attachHandlers);
io.of("/custom").on("connection", attachHandlers);

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("unauthorized");
  err.data = { reason: "bad token" };
  next(err);
});
admin.on("connection", attachHandlers);

io.of(/^\/dyn-/).on("connection", (socket) => {
  attachHandlers(socket);
  socket.emit("hello", socket.nsp.name);
});

if (opts.adminUi) {
  instrument(io, {
    namespaceName: opts.adminUi,
    auth: { type: "basic", username: "admin", password: ADMIN_UI_HASH },
    serverId: "testbed",
    mode: "development",
  });
}

httpServer.on("error", (err) => {
  process.stderr.write(`testbed: ${err.stack || err}\n`);
  process.exit(1);
});

httpServer.listen(opts.port, "127.0.0.1", () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => process.exit(0));
}
