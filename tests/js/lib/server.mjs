// Helpers shared by the socket.io-client behaviour tests.
//
// startServer(opts) spawns the testbed (tests/TESTBED.md):
//   ROOMCAST_REFERENCE=1 -> `node tests/js/reference/testbed.mjs` (socket.io 4.8, the reference behaviour)
//   otherwise            -> `<target>/debug/examples/testbed`, <target> = $CARGO_TARGET_DIR or <repo>/target
// A missing roomcast binary is an error (the test fails), never a skip.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io as ioClient } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "..", "..", "..");
export const IS_REFERENCE = process.env.ROOMCAST_REFERENCE === "1";

export const TRANSPORT_MODES = [
  { name: "polling", options: { transports: ["polling"] }, transport: "polling" },
  { name: "websocket", options: { transports: ["websocket"] }, transport: "websocket" },
  { name: "upgrade", options: {}, transport: "websocket", upgrade: true },
];

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

// Servers still running. If this process ends without the tests' `after` hooks having run (test runner
// cancelled, output pipe closed, Ctrl-C), they are killed here rather than left orphaned.
const liveChildren = new Set();
function killLiveChildren() {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}
process.on("exit", killLiveChildren);
for (const [signal, number] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]]) {
  process.once(signal, () => {
    killLiveChildren();
    process.exit(128 + number);
  });
}

export function testbedCommand() {
  if (IS_REFERENCE) {
    return {
      command: process.execPath,
      args: [path.join(REPO_ROOT, "tests", "js", "reference", "testbed.mjs")],
    };
  }
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, "target");
  const binary = path.join(target, "debug", "examples", process.platform === "win32" ? "testbed.exe" : "testbed");
  if (!existsSync(binary)) {
    throw new Error(
      `roomcast testbed binary not found at ${binary}: build it with \`cargo build --example testbed\` ` +
        "(or set ROOMCAST_REFERENCE=1 to run against the Node reference)",
    );
  }
  return { command: binary, args: [] };
}

const FLAGS = {
  port: "--port",
  pingInterval: "--ping-interval",
  pingTimeout: "--ping-timeout",
  maxPayload: "--max-payload",
  connectTimeout: "--connect-timeout",
  outboundQueue: "--outbound-queue",
  outboundQueueBytes: "--outbound-queue-bytes",
  transports: "--transports",
  cookie: "--cookie",
  parser: "--parser",
  adminUi: "--admin-ui",
};

export function testbedArgs(opts = {}) {
  const args = [];
  for (const [key, value] of Object.entries(opts)) {
    const flag = FLAGS[key];
    if (!flag) throw new Error(`startServer: unknown option ${key}`);
    if (value === undefined || value === null) continue;
    args.push(flag, Array.isArray(value) ? value.join(",") : String(value));
  }
  return args;
}

/**
 * Spawns a testbed and resolves { url, port, child, stop() } once it printed `LISTENING <port>`.
 * Rejects (with its stderr) if it exits first or does not listen within START_TIMEOUT_MS.
 */
export function startServer(opts = {}) {
  let cmd;
  try {
    cmd = testbedCommand();
  } catch (err) {
    return Promise.reject(err);
  }
  const args = [...cmd.args, ...testbedArgs(opts)];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.command, args, {
      cwd: REPO_ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env },
    });
    let stdout = "";
    let stderr = "";
    let settled = false;
    if (child.pid !== undefined) liveChildren.add(child);
    const exited = new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) res();
      else child.once("exit", () => res());
    });
    exited.then(() => liveChildren.delete(child));
    const fail = (message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      reject(new Error(`${message}\ncommand: ${cmd.command} ${args.join(" ")}\nstderr:\n${stderr}\nstdout:\n${stdout}`));
    };
    const timer = setTimeout(() => fail(`testbed did not print LISTENING within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      // keep only the tail so a chatty server cannot grow this without bound
      stderr = (stderr + chunk).slice(-20000);
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      if (settled) return;
      stdout = (stdout + chunk).slice(-20000);
      const m = /^LISTENING (\d+)\r?$/m.exec(stdout);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      const port = Number(m[1]);
      let stopping = null;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        child,
        get stderr() {
          return stderr;
        },
        stop() {
          if (!stopping) {
            stopping = (async () => {
              if (child.exitCode === null && child.signalCode === null) {
                process.kill(child.pid, "SIGTERM");
                const killer = setTimeout(() => {
                  if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
                }, STOP_TIMEOUT_MS);
                await exited;
                clearTimeout(killer);
              }
            })();
          }
          return stopping;
        },
      });
    });
    child.once("error", (err) => fail(`failed to spawn testbed: ${err.message}`));
    child.once("exit", (code, signal) => fail(`testbed exited before listening (code ${code}, signal ${signal})`));
  });
}

/**
 * Resolves with the event's arguments (an array) on the first `event`, rejects after `ms`.
 * The rejection is pre-handled so that a wait set up before an earlier step fails does not also raise an
 * unhandled rejection; awaiting the promise still throws.
 */
export function once(emitter, event, ms = 5000) {
  const p = new Promise((resolve, reject) => {
    const listener = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    const off = () => {
      if (typeof emitter.off === "function") emitter.off(event, listener);
      else emitter.removeListener(event, listener);
    };
    if (typeof emitter.once === "function") emitter.once(event, listener);
    else emitter.on(event, listener);
  });
  p.catch(() => {});
  return p;
}

/**
 * Creates a socket.io-client socket (forceNew unless a Manager is given) and resolves it on `connect`;
 * rejects with the connect_error (socket closed) or after `timeout` ms.
 * For `mode.upgrade` it also waits for the engine's `upgrade` event and checks the transport became websocket.
 */
export function connect(url, opts = {}, { timeout = 5000, upgrade = false } = {}) {
  const socket = ioClient(url, { forceNew: true, reconnection: false, timeout, ...opts });
  return settleConnect(socket, { timeout, upgrade });
}

export function settleConnect(socket, { timeout = 5000, upgrade = false } = {}) {
  const upgraded = upgrade ? waitUpgrade(socket, timeout) : null;
  if (upgraded) upgraded.catch(() => {});
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      socket.disconnect();
      reject(new Error(`connect to ${socket.nsp} timed out after ${timeout} ms`));
    }, timeout);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      socket.disconnect();
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
  if (!upgraded) return connected;
  return connected.then(async (s) => {
    try {
      await upgraded;
    } catch (err) {
      s.disconnect();
      throw err;
    }
    return s;
  });
}

/** Resolves once the socket's engine has upgraded to websocket (observed through the engine `upgrade` event). */
function waitUpgrade(socket, ms) {
  const engine = socket.io.engine;
  if (!engine) return Promise.reject(new Error("manager has no engine (autoConnect off?)"));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      engine.off("upgrade", onUpgrade);
      reject(new Error(`engine did not upgrade within ${ms} ms (transport ${engine.transport?.name})`));
    }, ms);
    const onUpgrade = (transport) => {
      clearTimeout(timer);
      if (transport.name !== "websocket" || engine.transport.name !== "websocket") {
        reject(new Error(`upgraded to ${transport.name}, engine transport ${engine.transport.name}`));
      } else {
        resolve();
      }
    };
    engine.once("upgrade", onUpgrade);
  });
}

/** socket.timeout(ms).emitWithAck(...) */
export function emitWithAck(socket, event, ...args) {
  return socket.timeout(5000).emitWithAck(event, ...args);
}

export function emitWithAckTimeout(socket, ms, event, ...args) {
  return socket.timeout(ms).emitWithAck(event, ...args);
}

/**
 * Polls `fn` (sync or async) until it returns a value other than undefined/null/false, bounded by
 * `timeout`. Used only where the server offers no event to wait for (e.g. a disconnect processed on
 * another connection).
 */
export async function waitFor(fn, { timeout = 5000, interval = 20, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last !== undefined && last !== null && last !== false) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Asks `observer` (a connected socket in the same namespace) for the server's last-disconnect record of `id`. */
export function lastDisconnect(observer, id, { timeout = 5000 } = {}) {
  return waitFor(() => emitWithAck(observer, "last-disconnect", id), {
    timeout,
    what: `last-disconnect of ${id}`,
  });
}

/** Collects every `event` received by `socket` into an array. */
export function collect(socket, event) {
  const received = [];
  socket.on(event, (...args) => received.push(args));
  return received;
}

/** Disconnects every socket given (ignores null/undefined). */
export function closeAll(...sockets) {
  for (const s of sockets.flat()) {
    if (s) {
      s.io?.reconnection(false);
      s.disconnect();
      s.io?.engine?.close();
    }
  }
}
