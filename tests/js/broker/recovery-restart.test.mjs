// Connection state recovery across a restart of the same broker ([recovery] state_file, issue 11 item
// 4), with the official socket.io-client 4.8 reconnecting by itself: the broker drains on SIGTERM (its
// clients' sockets leave with "server shutting down" and keep their sessions), writes its sessions and
// stored packets to the state file, and exits 0; the same binary started again with the same
// configuration on the same ports loads the file (and removes it). Meanwhile the clients get connection
// errors and retry; once the new process listens they recover on it: same id, rooms and data, every
// packet they missed before the restart once and in order, then what is broadcast after it.
// Past max_disconnection_ms by the wall clock, or with a damaged file, they get a new session instead,
// and the broker starts all the same.

import { it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io as ioClient } from "socket.io-client";
import { startBroker, ask, record, jwt, sorted } from "./lib/broker.mjs";
import { settleConnect, once } from "../lib/server.mjs";

const SECRET = "restart-secret";
const namespaces = [{ name: "/secure", auth: "jwt", jwt_secret: SECRET, client_join: true, client_publish: "joined" }];
const running = new Set(); // brokers to stop and clients to close whatever happens
let dirs = [];

afterEach(async () => {
  for (const x of running) {
    if (!x.io) continue;
    x.io.reconnection(false);
    x.disconnect();
  }
  await Promise.all([...running].filter((x) => x.stop).map((b) => b.stop()));
  running.clear();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

/** A configuration with recovery on and a state file in a fresh temporary directory. */
function restartable(recovery = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "roomcast-restart-"));
  dirs.push(dir);
  const stateFile = path.join(dir, "recovery-state.json");
  return { stateFile, config: { recovery: { enabled: true, state_file: stateFile, ...recovery }, namespaces } };
}

async function start(config, ports) {
  const broker = await startBroker(config, { ports });
  running.add(broker);
  return broker;
}

/** SIGTERM: the broker drains, writes its state and exits 0. */
async function stop(broker) {
  assert.ok(broker.signal("SIGTERM"));
  assert.deepEqual(await broker.exited, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
  running.delete(broker);
}

/** The same binary with the same configuration, on the same ports. */
const restart = (broker) => start(broker.config, { port: broker.port, adminPort: broker.adminPort });

/** A client of /secure that reconnects by itself (quickly), recording "msg" and its connection events. */
async function client(broker, name, transports) {
  const token = jwt({ sub: name, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
  const socket = ioClient(`${broker.url}/secure`, {
    forceNew: true,
    transports,
    auth: { token },
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
    reconnectionAttempts: 200,
    timeout: 2000,
  });
  running.add(socket);
  await settleConnect(socket);
  const c = { socket, inbox: record(socket, ["msg"]), errors: 0, connects: 0 };
  socket.on("connect_error", () => c.errors++);
  socket.on("connect", () => c.connects++);
  assert.deepEqual(await ask(socket, "join", ["r"]), { ok: true, rooms: ["r"] });
  return c;
}

const emit = (broker, n, rooms = ["r"]) => broker.ok("/api/v1/emit", { namespace: "/secure", event: "msg", args: [n], rooms });
const numbers = (c) => c.inbox.of("msg").map((args) => args[0]);
const seqOf = (offset) => Number(offset.slice(offset.lastIndexOf("-") + 1));

/** Resolves once `c` connected again (bounded). */
async function reconnected(c, before, ms = 15000) {
  const deadline = Date.now() + ms;
  while (c.connects <= before) {
    assert.ok(Date.now() < deadline, `not reconnected within ${ms} ms (${c.errors} connect errors)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it("clients recover on the restarted broker: same id, rooms, data, the packets they missed, then new ones", async () => {
  const { stateFile, config } = restartable();
  const first = await start(config);
  const a = await client(first, "alice", ["websocket"]);
  const b = await client(first, "bob", ["polling"]);
  await emit(first, 1);
  await Promise.all([a, b].map((c) => c.inbox.wait((i) => i.args[0] === 1)));
  const [idA, idB] = [a.socket.id, b.socket.id];

  // alice's connection drops (she stays away for now): what follows is stored, and she misses it
  a.socket.io.reconnection(false);
  const aDown = once(a.socket, "disconnect");
  a.socket.io.engine.close();
  await aDown;
  await emit(first, 2);
  await emit(first, "not for r", ["elsewhere"]);
  const bytes = Buffer.from([0, 1, 2, 255]);
  // bob publishes to the room (not to himself); the acknowledgement says it is stored
  assert.deepEqual(await ask(b.socket, "publish", ["r"], "msg", 3, bytes), { ok: true });

  const bobDown = once(b.socket, "disconnect");
  await stop(first);
  assert.match(first.logs, /recovery state written for the next start.*sessions=2/);
  assert.ok(statSync(stateFile).size > 0, "the state file is written");
  assert.equal((await bobDown)[0], "transport close");

  // alice tries again while no broker listens: connection errors, retries
  const [aBefore, bBefore] = [a.connects, b.connects];
  a.socket.io.reconnection(true);
  a.socket.connect();
  await new Promise((resolve) => a.socket.once("connect_error", resolve));

  const second = await restart(first);
  await second.waitForLog(/recovery state loaded.*sessions=2/);
  assert.equal(existsSync(stateFile), false, "the file is removed once loaded: a session recovers once");
  await Promise.all([reconnected(a, aBefore), reconnected(b, bBefore)]);
  assert.ok(a.errors >= 1, "alice got connection errors while the broker was down");
  for (const [c, id, name] of [
    [a, idA, "alice"],
    [b, idB, "bob"],
  ]) {
    assert.equal(c.socket.recovered, true, `${name} recovered`);
    assert.equal(c.socket.id, id, `${name} has the same id`);
    const described = await second.ok(`/api/v1/sockets/${id}?namespace=%2Fsecure`);
    assert.deepEqual(sorted(described.rooms), ["r"]);
    assert.deepEqual(described.data, { sub: name });
  }
  await a.inbox.wait((i) => i.args[0] === 3, 5000, "alice's replay");
  const replayed = a.inbox.of("msg").at(-1);
  assert.deepEqual([...new Uint8Array(replayed[1])], [...bytes], "a binary packet survives the file");

  await emit(second, 4);
  await Promise.all([a, b].map((c) => c.inbox.wait((i) => i.args[0] === 4)));
  assert.deepEqual(numbers(a), [1, 2, 3, 4], "alice: what she missed once and in order, then the new one");
  assert.deepEqual(numbers(b), [1, 2, 4], "bob: nothing twice");
  const offsets = a.inbox.of("msg").map((args) => args.at(-1));
  const seqs = offsets.map(seqOf);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "offsets keep growing across the restart");
  assert.equal(new Set(offsets).size, offsets.length);
  assert.equal(new Set(offsets.map((o) => o.slice(0, o.lastIndexOf("-")))).size, 1, "one offset instance");
});

it("sessions expired by the wall clock while the broker was down are not recovered", async () => {
  const { config } = restartable({ max_disconnection_ms: 1500 });
  const first = await start(config);
  const a = await client(first, "alice", ["websocket"]);
  await emit(first, 1);
  await a.inbox.wait((i) => i.args[0] === 1);
  const idA = a.socket.id;
  const before = a.connects;
  await stop(first);
  assert.match(first.logs, /recovery state written.*sessions=1/);
  // down longer than the window (the client retrying all along): the file's deadlines pass, which
  // the new process's own clock could not tell
  await new Promise((r) => setTimeout(r, 1800));
  const second = await restart(first);
  await second.waitForLog(/recovery state loaded.*sessions=0 packets=0 expired=2/);
  await reconnected(a, before);
  assert.ok(a.errors >= 1, "connection errors while the broker was down");
  assert.equal(a.socket.recovered, false);
  assert.notEqual(a.socket.id, idA, "a new session");
});

it("a damaged state file is logged and set aside; the broker starts and clients get new sessions", async () => {
  const { stateFile, config } = restartable();
  const first = await start(config);
  const a = await client(first, "alice", ["websocket"]);
  await emit(first, 1);
  await a.inbox.wait((i) => i.args[0] === 1);
  const idA = a.socket.id;
  const before = a.connects;
  await stop(first);
  truncateSync(stateFile, Math.floor(statSync(stateFile).size / 2)); // e.g. a full disk
  const second = await restart(first);
  await second.waitForLog(/recovery state file rejected: starting with no sessions/);
  assert.match(second.logs, /not a roomcast recovery state file, or a damaged one/);
  assert.ok(readFileSync(`${stateFile}.rejected`).length > 0, "kept aside for inspection");
  await reconnected(a, before);
  assert.equal(a.socket.recovered, false);
  assert.notEqual(a.socket.id, idA);
  assert.deepEqual(await ask(a.socket, "join", ["r"]), { ok: true, rooms: ["r"] });
  await emit(second, 2);
  await a.inbox.wait((i) => i.args[0] === 2, 5000, "the new session receives");
});
