// Connection state recovery ([recovery], issue 11) with the official socket.io-client 4.8: a client
// whose connection drops and that comes back in time gets its socket id, rooms, data and every
// stored packet it missed, in order and once (socket.recovered === true); past the time window, past
// a bound, with a forged pid or offset, after a namespace disconnect, or with recovery off, it gets a
// new session (socket.recovered === false) and no replay.
//
// The drop is made as Socket.IO's own tests make it: the client's engine is closed under the socket
// (the server sees "transport close"); the client is reconnected by hand once the packets it is to
// miss have been emitted, so nothing here depends on reconnection timers.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io as ioClient } from "socket.io-client";
import { startBroker, ask, record, jwt, metric, sorted } from "./lib/broker.mjs";
import { TRANSPORT_MODES, settleConnect, once } from "../lib/server.mjs";

const SECRET = "recovery-secret";
const namespaces = [
  { name: "/", client_join: true, client_publish: "joined" },
  { name: "/secure", auth: "jwt", jwt_secret: SECRET, client_join: true },
];
let on; // recovery on
let expiring; // recovery on, a short window
let bounded; // recovery on, 5 stored packets at most, middlewares run on recovery
let off; // recovery off

before(async () => {
  [on, expiring, bounded, off] = await Promise.all([
    startBroker({ recovery: { enabled: true }, namespaces }),
    startBroker({ recovery: { enabled: true, max_disconnection_ms: 400 }, namespaces }),
    startBroker({
      recovery: { enabled: true, max_packets: 5, max_packets_per_namespace: 5, skip_middlewares: false },
      namespaces,
    }),
    startBroker({ namespaces }),
  ]);
});
after(async () => {
  const results = await Promise.all([on, expiring, bounded, off].map((b) => b?.stop()));
  for (const r of results) assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});
afterEach(() => [on, expiring, bounded, off].forEach((b) => b.closeClients()));

/** A connected client (reconnected by hand only) in transport mode `mode`, recording `msg`. */
async function client(broker, mode, nsp = "/", opts = {}) {
  const socket = ioClient(broker.url + (nsp === "/" ? "" : nsp), {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...mode.options,
    ...opts,
  });
  broker.sockets.push(socket);
  await settleConnect(socket, { upgrade: mode.upgrade });
  const inbox = record(socket, ["msg"]);
  return { socket, inbox };
}

/** Emits "msg" with `n` through the admin API to `rooms` of `nsp`. */
function emit(broker, n, { rooms = [], nsp = "/", volatile = false } = {}) {
  return broker.ok("/api/v1/emit", { namespace: nsp, event: "msg", args: [n], rooms, volatile });
}

/** The numbers received so far (each event's first argument). */
const numbers = (inbox) => inbox.of("msg").map((args) => args[0]);

/** Polls until the broker no longer lists socket `sid` on `nsp` (bounded). */
async function gone(broker, sid, nsp = "/") {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await broker.api(`/api/v1/sockets/${sid}?namespace=${encodeURIComponent(nsp)}`);
    if (res.status === 404) return;
    if (Date.now() > deadline) throw new Error(`socket ${sid} still listed: ${res.status} ${res.text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Drops the connection under `socket` (the server sees "transport close"), waits until the server let go. */
async function drop(broker, socket, nsp = "/") {
  const sid = socket.id;
  const disconnected = once(socket, "disconnect");
  socket.io.engine.close();
  const [reason] = await disconnected;
  assert.equal(reason, "forced close", "the client's name for its engine closed under it");
  await gone(broker, sid, nsp);
  return sid;
}

/** Reconnects `socket` by hand (with its pid and offset, as the client sends them) and resolves once connected. */
function reconnect(socket, mode) {
  socket.connect();
  return settleConnect(socket, { upgrade: mode.upgrade });
}

describe("connection state recovery", () => {
  for (const mode of TRANSPORT_MODES) {
    it(`${mode.name}: same id, rooms and data; every missed packet once, in order, then live ones`, async () => {
      const token = jwt({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
      const { socket, inbox } = await client(on, mode, "/secure", { auth: { token } });
      assert.equal(socket.recovered, false);
      assert.equal(typeof socket._pid, "string", "the CONNECT answer carries a pid");
      assert.deepEqual(await ask(socket, "join", ["r"]), { ok: true, rooms: ["r"] });
      for (const n of [1, 2]) await emit(on, n, { rooms: ["r"], nsp: "/secure" });
      await inbox.wait((i) => i.args[0] === 2);
      for (const args of inbox.of("msg")) {
        assert.equal(args.length, 2, "the offset is the last argument");
        assert.equal(typeof args[1], "string");
      }
      const sid = await drop(on, socket, "/secure");

      for (const n of [3, 4, 5]) await emit(on, n, { rooms: ["r"], nsp: "/secure" });
      await emit(on, "not-mine", { rooms: ["elsewhere"], nsp: "/secure" });
      await emit(on, "volatile", { nsp: "/secure", volatile: true });
      await emit(on, 6, { nsp: "/secure" });
      await reconnect(socket, mode);

      assert.equal(socket.recovered, true);
      assert.equal(socket.id, sid, "the same socket id");
      const described = await on.ok(`/api/v1/sockets/${sid}?namespace=%2Fsecure`);
      assert.deepEqual(sorted(described.rooms), ["r"]);
      assert.deepEqual(described.data, { sub: "alice" });
      await inbox.wait((i) => i.args[0] === 6);
      await emit(on, 7, { rooms: ["r"], nsp: "/secure" });
      await inbox.wait((i) => i.args[0] === 7);
      assert.deepEqual(numbers(inbox), [1, 2, 3, 4, 5, 6, 7]);
      const offsets = inbox.of("msg").map((args) => args.at(-1));
      assert.equal(new Set(offsets).size, offsets.length, "every packet has an offset of its own");
    });
  }

  it("a second drop recovers again; an emit to the socket itself is stored too", async () => {
    const mode = TRANSPORT_MODES[1];
    const { socket, inbox } = await client(on, mode);
    await emit(on, 1, { rooms: [socket.id] });
    await inbox.wait((i) => i.args[0] === 1);
    for (let round = 2; round <= 3; round++) {
      const sid = await drop(on, socket);
      await emit(on, round, { rooms: [sid] });
      await reconnect(socket, mode);
      assert.equal(socket.recovered, true);
      assert.equal(socket.id, sid);
      await inbox.wait((i) => i.args[0] === round);
    }
    assert.deepEqual(numbers(inbox), [1, 2, 3]);
  });

  it("binary packets are replayed with their attachments", async () => {
    const mode = TRANSPORT_MODES[0];
    const { socket, inbox } = await client(on, mode);
    const publisher = await client(on, TRANSPORT_MODES[1]);
    for (const s of [socket, publisher.socket]) assert.equal((await ask(s, "join", "bin")).ok, true);
    assert.deepEqual(await ask(publisher.socket, "publish", ["bin"], "msg", "first"), { ok: true });
    await inbox.wait((i) => i.args[0] === "first");
    await drop(on, socket);
    const bytes = Buffer.from([1, 2, 3, 250]);
    assert.deepEqual(await ask(publisher.socket, "publish", ["bin"], "msg", bytes, "tail"), { ok: true });
    await reconnect(socket, mode);
    assert.equal(socket.recovered, true);
    const item = await inbox.wait((i) => i.args[1] === "tail");
    assert.deepEqual([...new Uint8Array(item.args[0])], [1, 2, 3, 250]);
    assert.equal(item.args.length, 3, "the attachment, the string, the offset");
  });

  it("middlewares are skipped on recovery by default, and run with skip_middlewares = false", async () => {
    const mode = TRANSPORT_MODES[1];
    const token = jwt({ sub: "bob", exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
    for (const [broker, skipped] of [
      [on, true],
      [bounded, false],
    ]) {
      const { socket, inbox } = await client(broker, mode, "/secure", { auth: { token } });
      await emit(broker, 1, { rooms: [socket.id], nsp: "/secure" });
      await inbox.wait((i) => i.args[0] === 1);
      const sid = await drop(broker, socket, "/secure");
      socket.auth = { token: "not-a-token" };
      socket.connect();
      const outcome = await Promise.race([once(socket, "connect").then(() => "connect"), once(socket, "connect_error").then(() => "refused")]);
      if (skipped) {
        assert.equal(outcome, "connect");
        assert.equal(socket.recovered, true);
        assert.equal(socket.id, sid);
      } else {
        assert.equal(outcome, "refused", "the JWT middleware ran on the recovered socket");
      }
    }
  });

  it("the session is recovered once: a copied pid and offset get a new session", async () => {
    const mode = TRANSPORT_MODES[1];
    const { socket, inbox } = await client(on, mode);
    await emit(on, 1, { rooms: [socket.id] });
    await inbox.wait((i) => i.args[0] === 1);
    const claim = { pid: socket._pid, offset: socket._lastOffset };
    const sid = await drop(on, socket);
    await reconnect(socket, mode);
    assert.equal(socket.recovered, true);
    const copy = await client(on, mode, "/", { auth: claim });
    assert.notEqual(copy.socket.id, sid);
    assert.notEqual(copy.socket._pid, claim.pid);
  });
});

describe("no recovery", () => {
  const mode = TRANSPORT_MODES[1];

  it("after max_disconnection_ms: a new session, nothing replayed", async () => {
    const { socket, inbox } = await client(expiring, mode);
    await emit(expiring, 1);
    await inbox.wait((i) => i.args[0] === 1);
    const sid = await drop(expiring, socket);
    await emit(expiring, 2);
    // the window is 400 ms; waiting it out is the behaviour under test
    await new Promise((r) => setTimeout(r, 1200));
    await reconnect(socket, mode);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
    await emit(expiring, 3);
    await inbox.wait((i) => i.args[0] === 3);
    assert.deepEqual(numbers(inbox), [1, 3], "no partial replay");
  });

  it("past a bound (more missed packets than the broker keeps): a new session, nothing replayed", async () => {
    const { socket, inbox } = await client(bounded, mode);
    await emit(bounded, 1);
    await inbox.wait((i) => i.args[0] === 1);
    const before = metric((await bounded.metrics()).values, "roomcast_recovery_refused_total", { reason: "range_gone" }) ?? 0;
    const sid = await drop(bounded, socket);
    for (let n = 2; n <= 12; n++) await emit(bounded, n);
    await reconnect(socket, mode);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
    await emit(bounded, 13);
    await inbox.wait((i) => i.args[0] === 13);
    assert.deepEqual(numbers(inbox), [1, 13], "never the packets that are left, as if complete");
    const { values } = await bounded.metrics();
    assert.equal(metric(values, "roomcast_recovery_refused_total", { reason: "range_gone" }), before + 1);
    assert.ok(metric(values, "roomcast_recovery_evicted_total", { kind: "packet" }) >= 6);
    const held = metric(values, "roomcast_recovery_held", { kind: "packets" });
    assert.ok(held >= 1 && held <= 5, `the broker holds at most max_packets: ${held}`);
  });

  it("a forged pid or offset: a new session", async () => {
    const { socket, inbox } = await client(on, mode);
    await emit(on, 1, { rooms: [socket.id] });
    await inbox.wait((i) => i.args[0] === 1);
    const real = { pid: socket._pid, offset: socket._lastOffset };
    const sid = await drop(on, socket);
    const claims = [
      { pid: "AAAAAAAAAAAAAAAAAAAA", offset: real.offset },
      { pid: "not a pid", offset: real.offset },
      { pid: real.pid, offset: "999999-1" },
      { pid: real.pid, offset: real.offset.replace(/-\d+$/, "-99999999") },
      { pid: real.pid, offset: 5 },
      { pid: [real.pid], offset: real.offset },
    ];
    for (const auth of claims) {
      const other = await client(on, mode, "/", { auth });
      assert.notEqual(other.socket.id, sid, JSON.stringify(auth));
      assert.notEqual(other.socket._pid, real.pid);
    }
    // the forgeries did not spend the real session
    await reconnect(socket, mode);
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, sid);
  });

  it("a client back before the server saw its old connection go: its CONNECT waits for the session", async () => {
    const { socket, inbox } = await client(on, mode);
    assert.deepEqual(await ask(socket, "join", ["late"]), { ok: true, rooms: ["late"] });
    await emit(on, 1, { rooms: ["late"] });
    await inbox.wait((i) => i.args[0] === 1);
    const sid = socket.id;
    // The session presented by a second client while the first connection still stands, as a client
    // whose TCP connection was reset presents it before the server handled the reset; the first
    // connection is closed only once the second one's CONNECT is on its way.
    const twin = ioClient(on.url, {
      forceNew: true,
      reconnection: false,
      transports: ["websocket"],
      auth: { pid: socket._pid, offset: socket._lastOffset },
    });
    on.sockets.push(twin);
    twin.io.once("open", () => socket.io.engine.close());
    const twinInbox = record(twin, ["msg"]);
    await once(twin, "connect");
    // (socket.recovered is only true for a pid the client got itself; the server's answer is the id)
    assert.equal(twin.id, sid, "the same socket id: recovered once the old socket left");
    assert.equal(twin._pid, socket._pid);
    assert.deepEqual((await on.ok(`/api/v1/sockets/${sid}`)).rooms, ["late"]);
    await emit(on, 2, { rooms: ["late"] });
    await twinInbox.wait((i) => i.args[0] === 2);
    assert.deepEqual(numbers(twinInbox), [2]);
  });

  it("after a namespace disconnect by the client: a new session", async () => {
    const { socket, inbox } = await client(on, mode);
    await emit(on, 1, { rooms: [socket.id] });
    await inbox.wait((i) => i.args[0] === 1);
    const sid = socket.id;
    socket.disconnect();
    await gone(on, sid);
    await reconnect(socket, mode);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, sid);
  });

  it("with recovery off: no pid, no offsets, a new session", async () => {
    const { socket, inbox } = await client(off, mode);
    assert.equal(socket._pid, undefined);
    await emit(off, 1);
    await inbox.wait((i) => i.args[0] === 1);
    assert.deepEqual(inbox.of("msg")[0], [1], "no offset argument");
    const sid = await drop(off, socket);
    await emit(off, 2);
    await reconnect(socket, mode);
    assert.ok(!socket.recovered, "not recovered (the client leaves it undefined without a pid)");
    assert.notEqual(socket.id, sid);
  });
});
