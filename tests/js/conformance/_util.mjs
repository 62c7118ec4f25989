// Shared helpers for the protocol conformance tests (engineio.test.mjs, socketio.test.mjs).
//
// - startServer(): spawns the server under test (roomcast's `conformance` example, or the
//   Node reference tests/js/reference/conformance-server.mjs when ROOMCAST_REFERENCE=1)
//   and waits for its "LISTENING <port>" line.
// - request()/poll()/push()/handshake(): raw HTTP long-polling requests with bounded waits.
// - openWs(): a raw WebSocket that queues every frame, so no frame can be missed between
//   two awaits; every wait on it is bounded.
//
// Base URL: env ROOMCAST_URL (default http://localhost:3000).

import { spawn } from "node:child_process";
import { after, afterEach, before } from "node:test";
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

export const BASE_URL = (process.env.ROOMCAST_URL || "http://localhost:3000").replace(/\/+$/, "");
export const WS_BASE_URL = BASE_URL.replace(/^http/, "ws");

// What the official suites expect from the server configuration.
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 200;
export const MAX_PAYLOAD = 1000000;

// Default bound for any single wait (a frame, a close, an HTTP response).
export const WAIT_MS = 3000;

// True when the tests run against the Node reference server instead of roomcast. Used
// only where Node's socket.io/engine.io knowingly deviates from the protocol (each use
// is commented and reported with a test diagnostic).
export const NODE_REFERENCE = process.env.ROOMCAST_REFERENCE === "1";

// tests/js/conformance/_util.mjs -> repository root
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a descriptive error when `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------------------------------
// Server under test
// ---------------------------------------------------------------------------------------

function serverCommand(port) {
  if (process.env.ROOMCAST_REFERENCE === "1") {
    const script = path.join(REPO_ROOT, "tests", "js", "reference", "conformance-server.mjs");
    return { cmd: process.execPath, args: [script, "--port", String(port)], what: `Node reference ${script}` };
  }
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, "target");
  const exe = process.platform === "win32" ? "conformance.exe" : "conformance";
  const bin = path.join(targetDir, "debug", "examples", exe);
  if (!existsSync(bin)) {
    throw new Error(
      `roomcast conformance server not found at ${bin}. ` +
        "Build it first with `cargo build --example conformance` " +
        "(or run against the Node reference with ROOMCAST_REFERENCE=1).",
    );
  }
  // ROOMCAST_EMBEDDED=1: the servers inside a plain actix-web app (WebSockets through actix-ws).
  const args = ["--port", String(port)];
  if (process.env.ROOMCAST_EMBEDDED === "1") args.push("--embedded");
  return { cmd: bin, args, what: `roomcast ${bin} ${args.join(" ")}` };
}

/**
 * Registers the hooks every conformance file needs: the server under test started before the
 * file's tests and stopped after them, and whatever a test left open cleaned up after each.
 */
export function serverForThisFile() {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    cleanup();
    await server?.stop();
  });
  afterEach(cleanup);
}

/**
 * Spawns the server under test and resolves once it printed "LISTENING <port>".
 * Returns { child, port, stop() }; stop() kills the child by its PID and waits for it.
 */
export async function startServer({ startupMs = 30000 } = {}) {
  const port = Number(new URL(BASE_URL).port || 80);
  const { cmd, args, what } = serverCommand(port);
  const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });

  let stderrTail = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });

  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  // safety net: never leave the server running if the test process ends abruptly
  const killOnExit = () => child.kill();
  process.once("exit", killOnExit);
  exited.then(() => process.removeListener("exit", killOnExit));

  const listening = new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) !== -1) {
        const line = buffered.slice(0, newline).replace(/\r$/, "");
        buffered = buffered.slice(newline + 1);
        const match = /^LISTENING (\d+)$/.exec(line);
        if (match) resolve(Number(match[1]));
      }
      // keep draining stdout so that the child never blocks on a full pipe
      if (buffered.length > 10000) buffered = buffered.slice(-1000);
    });
    child.once("error", (err) => reject(new Error(`could not start ${what}: ${err.message}`)));
    exited.then(({ code, signal }) =>
      reject(
        new Error(
          `${what} exited (code ${code}, signal ${signal}) before printing "LISTENING <port>"; ` +
            `stderr:\n${stderrTail}`,
        ),
      ),
    );
  });

  let announced;
  try {
    announced = await withTimeout(listening, startupMs, `"LISTENING <port>" from ${what}`);
  } catch (err) {
    child.kill();
    throw err;
  }
  if (announced !== port) {
    child.kill();
    throw new Error(`${what} announced port ${announced}, expected ${port}`);
  }

  return {
    child,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill();
      try {
        await withTimeout(exited, 5000, `${what} to exit`);
      } catch {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

const pendingRequests = new Set();

/**
 * Raw HTTP request (own connection, no keep-alive pool).
 * Returns { sent, response }:
 *   sent     resolves once the whole request has been written to the socket,
 *   response resolves to { status, headers, body (utf8 string) } within `timeout` ms,
 *            rejects on a network error (e.g. the server destroyed the connection).
 */
export function request(method, url, { body, headers = {}, timeout = WAIT_MS } = {}) {
  let req;
  const sent = new Promise((resolve, reject) => {
    req = http.request(url, { method, headers, agent: false });
    req.once("finish", resolve);
    req.once("error", reject);
  });
  sent.catch(() => {}); // the same error is reported by `response`

  const response = new Promise((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.once("error", reject);
      res.once("end", () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
  });
  const bounded = withTimeout(response, timeout, `the response to ${method} ${url}`).finally(() => {
    pendingRequests.delete(req);
    req.destroy();
  });
  pendingRequests.add(req);
  req.end(body);
  return { sent, response: bounded };
}

/** GET polling request for `sid`; returns the { sent, response } pair of request(). */
export function startPoll(base, sid, extraQuery = "") {
  return request("GET", `${BASE_URL}${base}?EIO=4&transport=polling&sid=${sid}${extraQuery}`);
}

// There is no observable event for "the server has parked this GET". Where a case needs a
// parked GET before its next request (the official suite simply fires both at once), the
// GET is written completely and then given this long to reach the session: servers that
// handle connections on several threads may otherwise see the next request first.
export const PARK_SETTLE_MS = 50;

/** Starts a polling GET and resolves (with its { sent, response }) once it should be parked. */
export async function parkPoll(base, sid) {
  const parked = startPoll(base, sid);
  await parked.sent;
  await sleep(PARK_SETTLE_MS);
  return parked;
}

export function poll(base, sid, extraQuery = "") {
  return startPoll(base, sid, extraQuery).response;
}

export function push(base, sid, body, headers = {}) {
  return request("POST", `${BASE_URL}${base}?EIO=4&transport=polling&sid=${sid}`, {
    body,
    headers: { "Content-Type": "text/plain;charset=UTF-8", ...headers },
  }).response;
}

/** Polling handshake; returns the sid. Throws if the server does not answer with an open packet. */
export async function handshake(base) {
  const res = await request("GET", `${BASE_URL}${base}?EIO=4&transport=polling`).response;
  if (res.status !== 200 || !res.body.startsWith("0")) {
    throw new Error(`polling handshake failed: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  }
  return JSON.parse(res.body.substring(1)).sid;
}

// ---------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------

const openSockets = new Set();

export class WsClient {
  constructor(url) {
    this.url = url;
    this.frames = []; // received frames not consumed yet: strings (text) or Buffers (binary)
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.pongs = false;
    this.ws = new WebSocket(url);
    openSockets.add(this);

    this.openPromise = new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("close", () => reject(new Error(`WebSocket ${url} closed before opening (${this.describeEnd()})`)));
    });
    this.openPromise.catch(() => {});
    this.closePromise = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        openSockets.delete(this);
        resolve(this.closeInfo);
        this.wake();
      });
    });
    this.ws.on("error", (err) => {
      this.error = err;
    });
    this.ws.on("message", (data, isBinary) => {
      const frame = isBinary ? Buffer.from(data) : data.toString("utf8");
      if (this.pongs && frame === "2") {
        this.ws.send("3");
        return;
      }
      this.frames.push(frame);
      this.wake();
    });
  }

  /**
   * From now on answer every Engine.IO ping ("2", including one already queued) with a
   * pong, without queueing it. Used before waiting for the server to close the
   * connection: the heartbeat then cannot be what closes it.
   */
  answerPings() {
    this.pongs = true;
    const before = this.frames.length;
    this.frames = this.frames.filter((f) => f !== "2");
    for (let i = this.frames.length; i < before; i++) this.ws.send("3");
  }

  describeEnd() {
    const parts = [];
    if (this.closeInfo) parts.push(`close code ${this.closeInfo.code}`);
    if (this.error) parts.push(`error: ${this.error.message}`);
    return parts.join(", ") || "no close";
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once the WebSocket is open (bounded). */
  opened(timeout = WAIT_MS) {
    return withTimeout(this.openPromise, timeout, `WebSocket ${this.url} to open`);
  }

  /**
   * The next frame (string for text, Buffer for binary), waiting at most `timeout` ms.
   * With skipPings, Engine.IO ping packets ("2") are dropped (not answered).
   * Rejects if the connection closes first.
   */
  async next({ timeout = WAIT_MS, skipPings = false } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      while (this.frames.length > 0) {
        const frame = this.frames.shift();
        if (skipPings && frame === "2") continue;
        return frame;
      }
      if (this.closeInfo) {
        throw new Error(`WebSocket closed (${this.describeEnd()}) while waiting for a frame`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for a WebSocket frame`);
      await withTimeout(new Promise((resolve) => this.waiters.push(resolve)), left, "a WebSocket frame").catch(
        () => {},
      );
    }
  }

  /** The next `count` frames, Engine.IO pings excluded. */
  async nextPackets(count, { timeout = WAIT_MS } = {}) {
    const deadline = Date.now() + timeout;
    const packets = [];
    while (packets.length < count) {
      packets.push(await this.next({ timeout: Math.max(1, deadline - Date.now()), skipPings: true }));
    }
    return packets;
  }

  /** Resolves with { code, reason } once the connection is closed (bounded). */
  closed(timeout = WAIT_MS) {
    return withTimeout(this.closePromise, timeout, `the server to close WebSocket ${this.url}`);
  }

  send(data) {
    this.ws.send(data);
  }

  terminate() {
    if (!this.closeInfo) this.ws.terminate();
  }
}

export function openWs(base, query) {
  return new WsClient(`${WS_BASE_URL}${base}?${query}`);
}

/** New WebSocket-only session; resolves once the Engine.IO open packet was received. */
export async function wsSession(base) {
  const ws = openWs(base, "EIO=4&transport=websocket");
  const open = await ws.next();
  if (typeof open !== "string" || !open.startsWith("0")) {
    throw new Error(`expected the Engine.IO open packet, got ${JSON.stringify(open)}`);
  }
  return ws;
}

/** Closes every WebSocket and aborts every HTTP request a test left open. */
export function cleanup() {
  for (const ws of openSockets) ws.terminate();
  openSockets.clear();
  for (const req of pendingRequests) req.destroy();
  pendingRequests.clear();
}

/** Checks an Engine.IO open packet ("0{...}") the way both official suites do. */
export function parseOpenPacket(assert, packet, expectedUpgrades) {
  assert.equal(typeof packet, "string", "the open packet must be a text packet");
  assert.ok(packet.startsWith("0"), `expected an open packet, got ${JSON.stringify(packet)}`);
  const value = JSON.parse(packet.substring(1));
  assert.deepEqual(Object.keys(value).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
  assert.equal(typeof value.sid, "string");
  assert.deepEqual(value.upgrades, expectedUpgrades);
  assert.equal(value.pingInterval, PING_INTERVAL);
  assert.equal(value.pingTimeout, PING_TIMEOUT);
  assert.equal(value.maxPayload, MAX_PAYLOAD);
  return value;
}

/**
 * A WebSocket request the server must refuse: it must not open an Engine.IO session
 * (no open packet) and the connection must end. Either the upgrade is refused with
 * HTTP 400, or (what Node's engine.io does for a bad EIO: it completes the WebSocket
 * handshake, then writes an HTTP error on the upgraded socket) the socket is closed
 * without a single Engine.IO packet.
 */
export async function assertWsRefused(assert, base, query) {
  const ws = openWs(base, query);
  await ws.closed();
  assert.deepEqual(ws.frames, [], `no Engine.IO packet expected for ?${query}`);
  const unexpected = /Unexpected server response: (\d+)/.exec(ws.error?.message ?? "");
  if (unexpected) {
    assert.equal(Number(unexpected[1]), 400, `?${query}: the upgrade must be refused with HTTP 400`);
  }
}
