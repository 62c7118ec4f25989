// Helpers of the broker black-box tests (issue 3): start the real `roomcast` binary with a temporary
// config.toml, talk to its admin API with fetch, sign HS256 tokens.
//
// The binary is <target>/debug/roomcast (<target> = $CARGO_TARGET_DIR or <repo>/target; build it with
// `cargo build --bin roomcast`). A missing binary is an error (the test fails), never a skip.
//
// The broker logs the *configured* addresses in its "roomcast ready" line, so the tests pick free ports
// themselves (bind 127.0.0.1:0, read the port, close) and retry once with fresh ports when the broker
// could not listen.

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io as ioClient } from "socket.io-client";
import { once, settleConnect } from "../../lib/server.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "..", "..", "..", "..");
export const ADMIN_TOKEN = "test-admin-token";
export const STOP_TIMEOUT_MS = 10000;
const START_TIMEOUT_MS = 15000;

export function brokerBinary() {
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, "target");
  const binary = path.join(target, "debug", "roomcast");
  if (!existsSync(binary)) {
    throw new Error(`roomcast binary not found at ${binary}: build it with \`cargo build --bin roomcast\``);
  }
  return binary;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---- TOML ---------------------------------------------------------------------------------------

function tomlValue(v) {
  if (typeof v === "string") return JSON.stringify(v); // a JSON string is a valid TOML basic string
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(", ")}]`;
  throw new Error(`toml: unsupported value ${JSON.stringify(v)}`);
}

/**
 * Renders `{ server: {...}, engine: {...}, ..., namespaces: [{...}, ...] }` as TOML
 * (`namespaces` becomes `[[namespaces]]` tables).
 */
export function toml(config) {
  const out = [];
  for (const [section, keys] of Object.entries(config)) {
    if (section === "namespaces") continue;
    out.push(`[${section}]`);
    for (const [k, v] of Object.entries(keys)) out.push(`${k} = ${tomlValue(v)}`);
    out.push("");
  }
  for (const ns of config.namespaces ?? []) {
    out.push("[[namespaces]]");
    for (const [k, v] of Object.entries(ns)) out.push(`${k} = ${tomlValue(v)}`);
    out.push("");
  }
  return out.join("\n");
}

/** The environment of a broker: the test's, without any inherited ROOMCAST_* variable, plus `env`. */
export function brokerEnv(env = {}) {
  const clean = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ROOMCAST_")) clean[k] = v;
  return { ...clean, ...env };
}

/** Runs the binary to completion (bounded) -> { code, signal, stdout, stderr }. */
export function runBroker(args, { env = {}, timeout = 20000 } = {}) {
  const child = spawn(brokerBinary(), args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: brokerEnv(env),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (stdout = (stdout + c).slice(-20000)));
  child.stderr.setEncoding("utf8").on("data", (c) => (stderr = (stderr + c).slice(-20000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(child.pid, "SIGKILL");
      reject(new Error(`roomcast ${args.join(" ")} still running after ${timeout} ms\nstderr:\n${stderr}`));
    }, timeout);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const ANSI = /\x1b\[[0-9;]*m/g;

function spawnOnce(config, env, openFiles, shipped) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "roomcast-broker-"));
  let file = path.join(dir, "config.toml");
  if (shipped) {
    // a given file: the test's listeners and admin token as environment overrides
    file = shipped;
    env = {
      ROOMCAST_SERVER_BIND: config.server.bind,
      ROOMCAST_ADMIN_BIND: config.admin.bind,
      ROOMCAST_ADMIN_TOKEN: config.admin.token,
      ...env,
    };
  } else {
    writeFileSync(file, toml(config));
  }
  // with `openFiles`, util-linux's prlimit sets the open-files limit and execs the broker (same PID)
  const [command, args] = openFiles
    ? ["prlimit", [`--nofile=${openFiles}:${openFiles}`, "--", brokerBinary(), "--config", file]]
    : [brokerBinary(), ["--config", file]];
  const child = spawn(command, args, {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: brokerEnv(env),
  });
  const state = { stdout: "", stderr: "", code: null, signal: null };
  const exited = new Promise((resolve) => {
    child.once("close", (code, signal) => {
      state.code = code;
      state.signal = signal;
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal });
    });
  });
  child.stdout.setEncoding("utf8").on("data", (c) => (state.stdout = (state.stdout + c.replace(ANSI, "")).slice(-50000)));
  child.stderr.setEncoding("utf8").on("data", (c) => (state.stderr = (state.stderr + c.replace(ANSI, "")).slice(-50000)));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(child.pid, "SIGKILL");
      reject(new Error(`roomcast did not log "roomcast ready" within ${START_TIMEOUT_MS} ms\n${state.stderr}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      if (/roomcast ready/.test(state.stdout) || /roomcast ready/.test(state.stderr)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      const err = new Error(
        `roomcast exited before it was ready (code ${code}, signal ${signal})\nconfig:\n${toml(config)}\nstderr:\n${state.stderr}\nstdout:\n${state.stdout}`,
      );
      err.addressInUse = /in use/i.test(state.stderr);
      reject(err);
    });
  });
  return { child, state, exited, ready };
}

/**
 * Starts `roomcast --config <tmp>/config.toml` with `config` (sections as objects, `namespaces` as an
 * array; server.bind and admin.bind are set to free 127.0.0.1 ports, admin.token defaults to
 * ADMIN_TOKEN, log.level to "info") and resolves once it logged "roomcast ready".
 * `env` is added to the broker's environment (inherited ROOMCAST_* variables are removed); `token` is
 * the bearer token api() sends when it does not come from admin.token (e.g. ROOMCAST_ADMIN_TOKEN).
 * `openFiles` runs it under that open-files limit (soft and hard). `file` runs that configuration file
 * instead of one made from `config` (whose other keys then do not apply): the listeners and the admin
 * token are given as ROOMCAST_SERVER_BIND, ROOMCAST_ADMIN_BIND and ROOMCAST_ADMIN_TOKEN. `ports`
 * ({ port, adminPort }, e.g. those of a broker that exited) are used instead of free ones, to restart
 * a broker where its clients look for it.
 */
export async function startBroker(config = {}, { env = {}, token, openFiles, file, ports } = {}) {
  for (let attempt = 0; ; attempt++) {
    const [port, adminPort] = ports ? [ports.port, ports.adminPort] : [await freePort(), await freePort()];
    if (port === adminPort) continue;
    const full = {
      ...config,
      server: { shutdown_timeout_ms: 5000, ...config.server, bind: `127.0.0.1:${port}` },
      admin: { token: ADMIN_TOKEN, ...config.admin, bind: `127.0.0.1:${adminPort}` },
      log: { level: "info", ...config.log },
    };
    const proc = spawnOnce(full, env, openFiles, file);
    try {
      await proc.ready;
    } catch (err) {
      if (err.addressInUse && attempt === 0 && !ports) continue;
      throw err;
    }
    const broker = new Broker(proc, port, adminPort, full);
    if (token !== undefined) broker.token = token;
    return broker;
  }
}

export class Broker {
  constructor(proc, port, adminPort, config) {
    this.child = proc.child;
    this.pid = proc.child.pid;
    this.state = proc.state;
    this.exited = proc.exited;
    this.port = port;
    this.adminPort = adminPort;
    this.config = config;
    this.url = `http://127.0.0.1:${port}`;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.token = config.admin.token;
    this.sockets = [];
  }

  get running() {
    return this.state.code === null && this.state.signal === null;
  }

  get logs() {
    return this.state.stdout + this.state.stderr;
  }

  /** Opens a socket.io-client socket on `nsp` (forceNew, no reconnection) and resolves it once connected. */
  connect(nsp = "/", opts = {}, { timeout = 5000 } = {}) {
    const socket = ioClient(this.url + (nsp === "/" ? "" : nsp), {
      forceNew: true,
      reconnection: false,
      timeout,
      transports: ["websocket"],
      ...opts,
    });
    this.sockets.push(socket);
    return settleConnect(socket, { timeout });
  }

  /** Like connect(), but expects a connect_error and resolves with it. */
  async connectError(nsp = "/", opts = {}) {
    const err = await this.connect(nsp, opts).then(
      (s) => {
        s.disconnect();
        throw new Error(`connected to ${nsp}, expected a connect_error`);
      },
      (e) => e,
    );
    return err;
  }

  /** Closes every client this broker handed out. */
  closeClients() {
    for (const s of this.sockets) {
      s.io?.reconnection(false);
      s.disconnect();
      s.io?.engine?.close();
    }
    this.sockets = [];
  }

  /**
   * Admin API request -> { status, headers, body (parsed JSON or null), text }.
   * `token`: undefined = the broker's, null = no Authorization header.
   */
  async api(pathAndQuery, { method, body, token, rawBody, headers = {} } = {}) {
    const h = { ...headers };
    const t = token === undefined ? this.token : token;
    if (t !== null) h.authorization = `Bearer ${t}`;
    let payload;
    if (rawBody !== undefined) {
      payload = rawBody;
      h["content-type"] ??= "application/json";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      h["content-type"] = "application/json";
    }
    const res = await fetch(this.adminUrl + pathAndQuery, {
      method: method ?? (payload === undefined ? "GET" : "POST"),
      headers: h,
      body: payload,
      signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  /** GET/POST an /api/v1 route expecting 200 -> its JSON body. */
  async ok(pathAndQuery, body) {
    const res = await this.api(pathAndQuery, body === undefined ? {} : { body });
    if (res.status !== 200) throw new Error(`${pathAndQuery}: HTTP ${res.status} ${res.text}`);
    return res.body;
  }

  /** The /metrics exposition parsed into Map("name{labels}" -> number). */
  async metrics() {
    const res = await fetch(this.adminUrl + "/metrics", { signal: AbortSignal.timeout(15000) });
    const text = await res.text();
    return { status: res.status, contentType: res.headers.get("content-type"), text, values: parseMetrics(text) };
  }

  /** Resolves once the broker's log output matches `re` (bounded by `ms`). */
  waitForLog(re, ms = 5000) {
    if (re.test(this.logs)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(this.logs)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${ms} ms waiting for a log line matching ${re}\n${this.logs.slice(-3000)}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout.off("data", onData);
        this.child.stderr.off("data", onData);
      };
      // after the recording listeners (registered first), so this.logs already has the chunk
      const onData = () => setImmediate(check);
      this.child.stdout.on("data", onData);
      this.child.stderr.on("data", onData);
    });
  }

  /** Sends `signal` to the broker's PID unless it has exited (true if sent). */
  signal(signal) {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch (err) {
      if (err.code === "ESRCH") return false; // exited, not yet reaped by node
      throw err;
    }
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves with { code, signal }. */
  async stop() {
    this.closeClients();
    if (this.running) {
      this.signal("SIGTERM");
      const killer = setTimeout(() => {
        if (this.running) this.signal("SIGKILL");
      }, STOP_TIMEOUT_MS);
      const r = await this.exited;
      clearTimeout(killer);
      return r;
    }
    return this.exited;
  }
}

/** Prometheus text -> Map of "name{label="v",...}" (labels as printed) -> value. */
export function parseMetrics(text) {
  const values = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    // label values are quoted and may hold braces (route="/api/v1/sockets/{id}")
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?)\s+(\S+)/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  return values;
}

/** The value of metric `name` whose labels include every `labels` pair (undefined if absent). */
export function metric(values, name, labels = {}) {
  for (const [key, value] of values) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return value;
  }
  return undefined;
}

// ---- JWT ----------------------------------------------------------------------------------------

const b64url = (s) => Buffer.from(s).toString("base64url");

/**
 * A JWT of `claims`: HS256/HS384/HS512 signed with `secret` with node's crypto, or alg "none" (empty
 * signature).
 */
export function jwt(claims, secret, { alg = "HS256" } = {}) {
  const head = b64url(JSON.stringify({ alg, typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const input = `${head}.${body}`;
  if (alg === "none") return `${input}.`;
  const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg];
  if (!hash) throw new Error(`jwt: unsupported alg ${alg}`);
  return `${input}.${createHmac(hash, secret).update(input).digest("base64url")}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---- socket helpers -----------------------------------------------------------------------------

/** emitWithAck bounded by `ms`. */
export function ask(socket, event, ...args) {
  return socket.timeout(5000).emitWithAck(event, ...args);
}

export const sorted = (a) => [...a].sort();

/** Records every `event` a socket receives: `inbox.items` = [{ event, args }], `wait(pred)`. */
export function record(socket, events) {
  const items = [];
  const waiters = new Set();
  const push = (event, args) => {
    const item = { event, args };
    items.push(item);
    for (const w of [...waiters]) {
      if (w.pred(item)) {
        waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(item);
      }
    }
  };
  for (const e of events) socket.on(e, (...args) => push(e, args));
  return {
    items,
    of: (event) => items.filter((i) => i.event === event).map((i) => i.args),
    wait(pred, ms = 5000, what = "an event") {
      const found = items.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(items)}`));
        }, ms);
        waiters.add(w);
      });
    },
  };
}

/**
 * Barrier: the admin API emits `event` (default "barrier") with a unique tag to every socket of
 * `namespace`; resolves once each of `inboxes` (recorders listening to `event`) got it. Broadcasts
 * reach a given socket in the order they were handed to the server, so anything sent to these sockets
 * before this call (e.g. a publish whose ack the test already has) has arrived once the barrier has.
 */
let barrierSeq = 0;
export async function barrier(broker, inboxes, { namespace = "/", event = "barrier" } = {}) {
  const tag = `barrier-${++barrierSeq}`;
  const res = await broker.ok("/api/v1/emit", { namespace, event, args: [tag] });
  if (!(res.recipients >= inboxes.length)) throw new Error(`barrier reached ${res.recipients} sockets`);
  await Promise.all(inboxes.map((inbox) => inbox.wait((i) => i.event === event && i.args[0] === tag, 5000, tag)));
}

export { once };

/** Resident memory of process `pid` in MB (VmRSS from /proc), for the bounded attack tests. */
export function rssMb(pid) {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  if (!(kb > 0)) throw new Error(`VmRSS of ${pid} not readable`);
  return kb / 1024;
}
