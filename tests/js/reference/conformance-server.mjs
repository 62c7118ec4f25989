// Node.js reference server for the protocol conformance tests (tests/js/conformance/).
//
// It is the server the official test suites (socketio/engine.io-protocol and
// socketio/socket.io-protocol, test-suite/) expect, on a single port:
//   /socket.io/  Socket.IO 4.8 server: on "/" and "/custom" it emits "auth" with the
//                handshake auth; "message" -> emits "message-back" with the same
//                arguments; "message-with-ack" -> acks with the same arguments.
//   /engine.io/  plain Engine.IO server echoing every message (text and binary).
// Both use pingInterval 300, pingTimeout 200, maxHttpBufferSize 1e6 and CORS "*".
//
// Usage: node conformance-server.mjs [--port N]   (default 3000)
// Prints exactly "LISTENING <port>" on stdout once it accepts connections.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { attach } from "engine.io";

function parsePort(argv) {
  let port = 3000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--port") {
      port = Number(argv[++i]);
    } else if (arg.startsWith("--port=")) {
      port = Number(arg.slice("--port=".length));
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("--port needs an integer between 0 and 65535");
    process.exit(2);
  }
  return port;
}

const port = parsePort(process.argv.slice(2));

const timings = {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
};

// Anything that is neither /engine.io/ nor /socket.io/ gets a 404.
const httpServer = createServer((req, res) => {
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
});

// Engine.IO echo server at /engine.io/ (attach() chains the 404 handler above).
const engine = attach(httpServer, {
  ...timings,
  path: "/engine.io",
  cors: { origin: "*" },
});
engine.on("connection", (socket) => {
  socket.on("message", (data) => {
    socket.send(data);
  });
});

// Socket.IO server at /socket.io/ (its engine chains the Engine.IO handler above).
const io = new Server(httpServer, {
  ...timings,
  connectTimeout: 1000,
  cors: { origin: "*" },
});

function onConnection(socket) {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") {
      ack(...args);
    }
  });
}

io.on("connection", onConnection);
io.of("/custom").on("connection", onConnection);

httpServer.listen(port, () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});

function shutdown() {
  io.close();
  engine.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
