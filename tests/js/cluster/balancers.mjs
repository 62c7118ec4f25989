// nginx and HAProxy for the cluster tests, run from the shipped files deploy/nginx.conf and
// deploy/haproxy.cfg with only the listen port, the brokers' addresses (and HAProxy's health-check
// ports) replaced, so that a broken shipped setting fails the tests. Each runs in the foreground in a
// temporary directory (nginx's pid file and temporary files under its -p prefix, its errors on stderr),
// on a free loopback port, and is killed by its PID. A missing nginx or haproxy is an error (the test
// fails), never a skip: scripts/test.sh installs them.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT, freePort } from "../broker/lib/broker.mjs";
import { until } from "./redis.mjs";

/** The brokers the shipped files list, in order: [Socket.IO port, admin port]. */
export const SHIPPED_NODES = [
  [3000, 3001],
  [3010, 3011],
  [3020, 3021],
];

/** Replaces `from` (a string that must occur exactly once) with `to`. */
function replaceOnce(text, from, to, file) {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`${file}: expected exactly one \`${from}\` (the test substitutes it)`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** deploy/nginx.conf listening on 127.0.0.1:`port`, proxying to `brokers` (three, {port}). */
export function nginxConfig(port, brokers) {
  const file = "deploy/nginx.conf";
  let text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  text = replaceOnce(text, "listen 8080;", `listen 127.0.0.1:${port};`, file);
  SHIPPED_NODES.forEach(([sio], i) => {
    text = replaceOnce(text, `server 127.0.0.1:${sio} `, `server 127.0.0.1:${brokers[i].port} `, file);
  });
  return text;
}

/** deploy/haproxy.cfg bound to 127.0.0.1:`port`, balancing `brokers` (three, {port, adminPort}). */
export function haproxyConfig(port, brokers) {
  const file = "deploy/haproxy.cfg";
  let text = readFileSync(path.join(REPO_ROOT, file), "utf8");
  text = replaceOnce(text, "bind :8080", `bind 127.0.0.1:${port}`, file);
  SHIPPED_NODES.forEach(([sio, admin], i) => {
    const b = brokers[i];
    text = replaceOnce(text, ` 127.0.0.1:${sio} `, ` 127.0.0.1:${b.port} `, file);
    text = replaceOnce(text, `check port ${admin}`, `check port ${b.adminPort}`, file);
  });
  return text;
}

function requireTool(command, args, install) {
  const found = spawnSync(command, args, { encoding: "utf8" });
  if (found.error || found.status !== 0) {
    throw new Error(`${command} not found: install it (apt-get install ${install}); scripts/test.sh does`);
  }
}

function listening(port) {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

/** Spawns `command` in `dir` and resolves once `port` accepts connections -> { port, url, pid, logs, stop() }. */
async function run(name, command, args, dir, port) {
  const child = spawn(command, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const state = { logs: "" };
  const keep = (c) => (state.logs = (state.logs + c).slice(-20000));
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  // "exit", not "close": the streams stay open while a worker of nginx is alive
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    // SIGTERM: both shut down at once, nginx's master taking its workers down before it exits
    // (SIGKILL would orphan them); SIGKILL only if that takes too long
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    }, 5000);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const died = exited.then(({ code, signal }) => {
      throw new Error(`${name} exited (code ${code}, signal ${signal})`);
    });
    await Promise.race([died, until(() => listening(port), `${name} listening on ${port}`, 10000)]);
  } catch (err) {
    await stop();
    throw new Error(`${name} did not start (${err.message}):\n${state.logs}`);
  }
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    get logs() {
      return state.logs;
    },
    stop,
  };
}

function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  // nginx's workers (user nobody when started as root) write their temporary files under it
  chmodSync(dir, 0o755);
  return dir;
}

/** nginx from deploy/nginx.conf in front of `brokers`. */
export async function startNginx(brokers) {
  requireTool("nginx", ["-v"], "nginx");
  const port = await freePort();
  const dir = tempDir("roomcast-nginx-");
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(port, brokers));
  // -p: the prefix of the relative paths in the file; -e: errors on stderr, not in /var/log
  return run("nginx", "nginx", ["-p", `${dir}/`, "-e", "stderr", "-c", conf, "-g", "daemon off;"], dir, port);
}

/** HAProxy from deploy/haproxy.cfg in front of `brokers`. */
export async function startHaproxy(brokers) {
  requireTool("haproxy", ["-v"], "haproxy");
  const port = await freePort();
  const dir = tempDir("roomcast-haproxy-");
  const cfg = path.join(dir, "haproxy.cfg");
  writeFileSync(cfg, haproxyConfig(port, brokers));
  return run("haproxy", "haproxy", ["-f", cfg, "-db"], dir, port);
}

export const BALANCERS = [
  ["nginx", startNginx],
  ["HAProxy", startHaproxy],
];
