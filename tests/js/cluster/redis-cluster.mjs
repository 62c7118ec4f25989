// A throwaway Redis Cluster for the cluster tests: three masters (by default no replicas), each a redis-server with
// --cluster-enabled on a free loopback port (its cluster bus, port + 10000, free too) in a temporary
// directory, joined by `redis-cli --cluster create`; ready once every node says cluster_state:ok.
// Killed by PID. A node can be killed and started again on its port with its nodes.conf, so it takes its
// slots back, and a slot can be moved to another master. A missing redis-server or redis-cli is an error (the test fails), never a skip.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "../broker/lib/broker.mjs";
import { redisCommand, until } from "./redis.mjs";

const START_TIMEOUT_MS = 20000;

/** Whether `port` of 127.0.0.1 can be listened on now. */
function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeNodePort(taken) {
  for (let i = 0; i < 100; i++) {
    const port = await freePort();
    if (port + 10000 < 65536 && !taken.includes(port) && (await portFree(port + 10000))) return port;
  }
  throw new Error("no free port pair for a Redis Cluster node");
}

function needTool(name) {
  const found = spawnSync(name, ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0) {
    throw new Error(`${name} not found: install redis-server (apt-get install redis-server); scripts/test.sh does`);
  }
}

/** Starts one cluster-enabled redis-server on `port` with its config in `dir` -> { pid, stop(), output() }. */
async function startNode(dir, port) {
  const args = [
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir,
    "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`, "--cluster-node-timeout", "5000",
    "--save", "", "--appendonly", "no",
  ];
  const child = spawn("redis-server", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (c) => (output = (output + c).slice(-5000));
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  const exited = new Promise((resolve) => child.once("close", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
    await exited;
  };
  try {
    await until(async () => (await redisCommand(port, "PING")) === "+PONG", `redis-server on port ${port}`, START_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n${output}`);
  }
  return { pid: child.pid, stop, output: () => output };
}

/** Whether the node on `port` is a master, or a replica whose link to its master is up. */
async function replicating(port) {
  const info = await redisCommand(port, "INFO", "replication");
  return info.includes("role:master") || info.includes("master_link_status:up");
}

/** Whether the node on `port` says the cluster is ok. */
async function clusterOk(port) {
  return (await redisCommand(port, "CLUSTER", "INFO")).includes("cluster_state:ok");
}

/**
 * Starts a Redis Cluster of `masters` masters, each with `replicas` replicas -> { ports, urls, keyslot(name), ownerOf(name), kill(port),
 * restart(port), moveSlot(slot, port), stop() }. `ownerOf` answers the port of the master owning a name's slot.
 */
export async function startRedisCluster({ masters = 3, replicas = 0 } = {}) {
  needTool("redis-server");
  needTool("redis-cli");
  const dir = mkdtempSync(path.join(os.tmpdir(), "roomcast-redis-cluster-"));
  const ports = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await freeNodePort(ports));
  const nodes = new Map();
  const down = new Set();
  const live = () => ports.find((p) => !down.has(p));
  const stop = async () => {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) nodes.set(port, await startNode(dir, port));
    const create = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicas), "--cluster-yes"],
      { encoding: "utf8", timeout: START_TIMEOUT_MS },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    for (const port of ports) await until(() => clusterOk(port), `cluster_state:ok on ${port}`, START_TIMEOUT_MS);
    for (const port of ports) await until(() => replicating(port), `replication up on ${port}`, START_TIMEOUT_MS);
  } catch (err) {
    await stop();
    throw err;
  }
  const keyslot = async (name) => Number((await redisCommand(live(), "CLUSTER", "KEYSLOT", name)).slice(1));
  /** The port of the master owning `name`'s slot, from CLUSTER NODES (`<id> <ip:port@bus> <flags> ... <slots>`). */
  const ownerOf = async (name) => ownerOfSlot(await keyslot(name));
  /** The port of the master owning `slot`, as the node on `at` (default: one that is up) sees it. */
  const ownerOfSlot = async (slot, at = live()) => {
    const text = await redisCommand(at, "CLUSTER", "NODES");
    for (const line of text.trim().split("\n")) {
      const fields = line.split(" ");
      if (!fields[2].includes("master") || fields[2].includes("fail")) continue;
      for (const range of fields.slice(8)) {
        const [lo, hi = lo] = range.split("-").map(Number);
        if (slot >= lo && slot <= hi) return Number(fields[1].split(":")[1].split("@")[0]);
      }
    }
    throw new Error(`no master owns slot ${slot}`);
  };
  return {
    ports,
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    keyslot,
    ownerOf,
    /** Kills the node on `port` (SIGKILL). */
    kill: async (port) => {
      down.add(port);
      await nodes.get(port).stop();
    },
    /** Starts the node on `port` again with its nodes.conf and waits until the cluster is ok again. */
    restart: async (port) => {
      nodes.set(port, await startNode(dir, port));
      down.delete(port);
      for (const p of ports) await until(() => clusterOk(p), `cluster_state:ok on ${p}`, START_TIMEOUT_MS);
    },
    /**
     * Moves `slot` (holding no keys) to the master on port `to`, as a resharding does: IMPORTING on the
     * target, MIGRATING on the source, then NODE everywhere, target first (which bumps its config epoch).
     */
    moveSlot: async (slot, to) => {
      const ids = new Map();
      for (const port of ports) ids.set(port, await redisCommand(port, "CLUSTER", "MYID"));
      const from = await ownerOfSlot(slot);
      const ok = async (port, ...args) => {
        const reply = await redisCommand(port, "CLUSTER", "SETSLOT", String(slot), ...args);
        if (reply !== "+OK") throw new Error(`CLUSTER SETSLOT ${slot} ${args.join(" ")} on ${port}: ${reply}`);
      };
      await ok(to, "IMPORTING", ids.get(from));
      await ok(from, "MIGRATING", ids.get(to));
      for (const port of [to, from, ...ports.filter((p) => p !== to && p !== from)]) await ok(port, "NODE", ids.get(to));
      const everywhere = async () => (await Promise.all(ports.map((p) => ownerOfSlot(slot, p)))).every((o) => o === to);
      await until(everywhere, `slot ${slot} on ${to} in every node's view`, START_TIMEOUT_MS);
    },
    stop,
  };
}

/** `PUBSUB SHARDNUMSUB channel` asked of the node on `port` (the master owning the channel knows its subscribers). */
export function shardNumsubAt(port, channel) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    let data = "";
    sock.setTimeout(2000, () => sock.destroy(new Error("PUBSUB SHARDNUMSUB timed out")));
    sock.once("error", reject);
    sock.setEncoding("utf8").on("data", (chunk) => {
      data += chunk;
      const count = data.match(/\r\n:(\d+)\r\n$/);
      if (!count) return;
      sock.end();
      resolve(Number(count[1]));
    });
    sock.write(`*3\r\n$6\r\nPUBSUB\r\n$11\r\nSHARDNUMSUB\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
  });
}
