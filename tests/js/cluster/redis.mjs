// A throwaway redis-server for the cluster tests: started on a free loopback port in a temporary
// directory, without persistence, and killed by its PID. A missing redis-server is an error (the test
// fails), never a skip: scripts/test.sh installs it.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../broker/lib/broker.mjs";

const START_TIMEOUT_MS = 10000;

/**
 * Sends one command (RESP array of bulk strings; arguments are strings or Buffers) and resolves with the reply's first line (":2",
 * "+PONG", "*2"), or the string itself for a bulk string reply (CLIENT LIST).
 */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = Buffer.alloc(0);
    sock.setTimeout(2000, () => sock.destroy(new Error("redis command timed out")));
    sock.once("error", reject);
    sock.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf("\r\n");
      if (end < 0) return;
      const line = data.subarray(0, end).toString();
      const len = line.startsWith("$") ? Number(line.slice(1)) : -1;
      if (len >= 0 && data.length < end + 2 + len + 2) return;
      sock.end();
      resolve(len >= 0 ? data.subarray(end + 2, end + 2 + len).toString() : line);
    });
    const parts = args.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(a)));
    sock.write(Buffer.concat([Buffer.from(`*${parts.length}\r\n`), ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from("\r\n")])]));
  });
}

/** `PUBSUB NUMSUB channel`: how many connections SUBSCRIBE `channel` (how Node's adapter counts servers). */
export function numsub(port, channel) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    sock.setTimeout(2000, () => sock.destroy(new Error("PUBSUB NUMSUB timed out")));
    sock.once("error", reject);
    sock.setEncoding("utf8").on("data", (chunk) => {
      data += chunk;
      // *2 $<len> <channel> :<count>
      const count = data.match(/\r\n:(\d+)\r\n$/);
      if (!count) return;
      sock.end();
      resolve(Number(count[1]));
    });
    sock.write(`*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
  });
}

/** Resolves once `check()` is true, polling every 50 ms, or rejects with `what` after `ms`. */
export async function until(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts redis-server on `port` of 127.0.0.1 (default: a free one) -> { port, url, pid, stop() }.
 */
export async function startRedis({ port: wanted } = {}) {
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0) {
    throw new Error("redis-server not found: install it (apt-get install redis-server); scripts/test.sh does");
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "roomcast-redis-"));
  const port = wanted ?? (await freePort());
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  const child = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (c) => (output = (output + c).slice(-5000)));
  child.stderr.setEncoding("utf8").on("data", (c) => (output = (output + c).slice(-5000)));
  const exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => (await redisCommand(port, "PING")) === "+PONG", `redis-server on port ${port}`, START_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n${output}`);
  }
  return { port, url: `redis://127.0.0.1:${port}/0`, pid: child.pid, stop };
}

/**
 * A raw connection SUBSCRIBEd to `channel` -> { messages: Buffer[], ready: Promise, close() }:
 * every published payload, as bytes, once the subscription is confirmed.
 */
export function subscribeRaw(port, channel) {
  const sock = connect({ host: "127.0.0.1", port });
  const messages = [];
  let data = Buffer.alloc(0);
  let confirmed;
  const ready = new Promise((resolve, reject) => {
    confirmed = resolve;
    sock.once("error", reject);
  });
  // Replies are arrays of bulk strings or integers: ["subscribe", channel, 1], ["message", channel, payload].
  const parse = () => {
    for (;;) {
      const items = [];
      let at = 0;
      const line = () => {
        const end = data.indexOf("\r\n", at);
        if (end < 0) return null;
        const text = data.subarray(at, end).toString();
        at = end + 2;
        return text;
      };
      const head = line();
      if (head === null) return;
      const count = Number(head.slice(1));
      for (let i = 0; i < count; i++) {
        const l = line();
        if (l === null) return;
        if (l.startsWith("$")) {
          const len = Number(l.slice(1));
          if (data.length < at + len + 2) return;
          items.push(data.subarray(at, at + len));
          at += len + 2;
        } else items.push(l);
      }
      data = data.subarray(at);
      if (String(items[0]) === "subscribe") confirmed();
      else if (String(items[0]) === "message") messages.push(Buffer.from(items[2]));
    }
  };
  sock.on("data", (chunk) => {
    data = Buffer.concat([data, chunk]);
    parse();
  });
  sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
  return { messages, ready, close: () => sock.destroy() };
}
