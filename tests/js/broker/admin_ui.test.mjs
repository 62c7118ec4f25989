// The Socket.IO Admin UI's server side (issue 8, item 9), driven with socket.io-client exactly as the
// dashboard (@socket.io/admin-ui) drives it: it logs in on /admin with auth {username, password} and
// registers its listeners in its "connect" handler; then `session`, `config`, `server_stats` (every
// 2 s), `all_sockets`, the live socket/room/event changes of development mode, and the commands
// emit/join/leave/_disconnect acting on real client sockets. The room membership the commands cause is
// checked through the broker's admin HTTP API, not through the Admin UI's own reports.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io as ioClient } from "socket.io-client";
import { startBroker, ask, record, sorted } from "./lib/broker.mjs";
import { settleConnect, once } from "../lib/server.mjs";

/** bcrypt of "changeit", cost 4 (made with bcryptjs, the hash library Node's admin-ui uses). */
const HASH = "$2a$04$JiFCNFAZPmesR8K67hDSqepUrPDerR6YzeDh.RIiMMAH7M4ZzGJgK";
const CREDENTIALS = { username: "admin", password: "changeit" };
const ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"];
const ADMIN_EVENTS = [
  "session", "config", "server_stats", "all_sockets", "socket_connected", "socket_updated",
  "socket_disconnected", "room_joined", "room_left", "event_received", "event_sent",
];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let broker;

before(async () => {
  broker = await startBroker({
    admin_ui: { enabled: true, username: "admin", password_hash: HASH, server_id: "test-node" },
    namespaces: [{ name: "/" }, { name: "/tenant-*" }],
  });
});
after(async () => {
  const r = await broker?.stop();
  assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});
afterEach(() => broker.closeClients());

/**
 * Logs in on the admin namespace as the dashboard does: its listeners are registered in its "connect"
 * handler, so an event sent before CONNECT would be lost to them, as it is to the UI.
 */
async function login(b, auth = CREDENTIALS, { transports = ["websocket"] } = {}) {
  const socket = ioClient(b.url + "/admin", {
    forceNew: true, reconnection: false, withCredentials: true, transports, auth, timeout: 5000,
  });
  b.sockets.push(socket);
  let inbox;
  socket.once("connect", () => (inbox = record(socket, ADMIN_EVENTS)));
  await settleConnect(socket);
  return { socket, inbox };
}

/** Resolves with the connect_error of a login attempt. */
async function refusedLogin(b, auth) {
  return login(b, auth).then(
    () => assert.fail(`logged in with ${JSON.stringify(auth)}`),
    (err) => err,
  );
}

/** The socket's named rooms as the broker's admin HTTP API reports them. */
async function apiRooms(socket, nsp = "/") {
  const s = await broker.ok(`/api/v1/sockets/${socket.id}?namespace=${encodeURIComponent(nsp)}`);
  return sorted(s.rooms);
}

/** Waits for the admin event `event` whose arguments satisfy `pred`. */
function next(inbox, event, pred = () => true, ms = 5000) {
  return inbox.wait((i) => i.event === event && pred(...i.args), ms, event).then((i) => i.args);
}

/** Sums `type` (and `subType`) over every aggregatedEvents received so far. */
function total(inbox, type, subType) {
  return inbox
    .of("server_stats")
    .flatMap(([s]) => s.aggregatedEvents)
    .filter((e) => e.type === type && (subType === undefined || e.subType === subType))
    .reduce((n, e) => n + e.count, 0);
}

describe("login", () => {
  it("password login: `session` (16 hex digits) then `config` with every feature, reaching listeners registered on connect", async () => {
    const { inbox } = await login(broker);
    const [config] = await next(inbox, "config");
    assert.deepEqual(config, { supportedFeatures: ALL_FEATURES });
    const names = inbox.items.map((i) => i.event);
    assert.ok(names.includes("session"), `events: ${names}`);
    assert.ok(names.indexOf("session") < names.indexOf("config"), `events: ${names}`);
    const [session] = inbox.of("session")[0];
    assert.match(session, /^[0-9a-f]{16}$/);
  });

  it("a session id logs in again without the password and gets no new session; an unknown one is refused", async () => {
    const first = await login(broker);
    const [session] = await next(first.inbox, "session");
    const again = await login(broker, { sessionId: session });
    await next(again.inbox, "config");
    assert.deepEqual(again.inbox.of("session"), [], "config comes after session, so none was sent");
    const err = await refusedLogin(broker, { sessionId: "0123456789abcdef" });
    assert.equal(err.message, "invalid credentials");
  });

  it("a wrong password, a wrong user or no credentials get exactly `invalid credentials`", async () => {
    for (const auth of [
      { username: "admin", password: "wrong" },
      { username: "root", password: "changeit" },
      {},
    ]) {
      const err = await refusedLogin(broker, auth);
      assert.equal(err.message, "invalid credentials", JSON.stringify(auth));
    }
    await broker.waitForLog(/Admin UI login refused: invalid credentials/);
  });

  it("the admin namespace is not served the broker's room API: `join` is the dashboard's command there", async () => {
    const { socket } = await login(broker);
    // The broker's room API would answer {ok: true, rooms: ["lobby"]}; the dashboard's `join` reads
    // its first argument as a namespace.
    const reply = await ask(socket, "join", "lobby");
    assert.deepEqual(reply, { error: 'unknown namespace "lobby"' });
  });
});

describe("what the dashboard sees", () => {
  it("server_stats every 2 s: server id, pid, clients by transport, namespaces (pattern-made too), traffic per second", async () => {
    const { inbox } = await login(broker);
    const [first] = await next(inbox, "server_stats");
    assert.equal(first.serverId, "test-node");
    assert.equal(first.pid, broker.pid);
    assert.equal(typeof first.hostname, "string");
    assert.ok(first.uptime > 0);
    const polling = await broker.connect("/", { transports: ["polling"] });
    const ws = await broker.connect("/tenant-7");
    assert.equal(await ask(polling, "join", "room-a").then((r) => r.ok), true);
    polling.disconnect();
    const stats = await next(
      inbox,
      "server_stats",
      (s) => s.clientsCount === 2 && total(inbox, "rawDisconnection", "transport close") >= 1,
      8000,
    ).then(([s]) => s);
    assert.equal(stats.pollingClientsCount, 0);
    const nsps = Object.fromEntries(stats.namespaces.map((n) => [n.name, n.socketsCount]));
    assert.deepEqual(nsps, { "/": 0, "/admin": 1, "/tenant-7": 1 });
    assert.ok(total(inbox, "rawConnection") >= 2);
    for (const type of ["packetsIn", "packetsOut", "bytesIn", "bytesOut"]) {
      assert.ok(total(inbox, type) > 0, `${type} counted`);
    }
    assert.ok(total(inbox, "bytesIn") > total(inbox, "packetsIn"), "bytes are bytes, not packets");
    for (const [s] of inbox.of("server_stats")) {
      for (const e of s.aggregatedEvents) assert.equal(e.timestamp % 1000, 0, "truncated to the second");
    }
    ws.disconnect();
  });

  it("a polling client counts as polling until it upgrades, which is reported as socket_updated", async () => {
    const { inbox } = await login(broker);
    const client = await broker.connect("/", { transports: ["polling"] });
    await next(inbox, "server_stats", (s) => s.pollingClientsCount === 1, 6000);
    const upgrading = await broker.connect("/", { transports: ["polling", "websocket"] });
    const [update] = await next(inbox, "socket_updated", (u) => u.id === upgrading.id);
    assert.deepEqual(update, { id: upgrading.id, nsp: "/", transport: "websocket" });
    client.disconnect();
  });

  it("all_sockets: every socket of every namespace in the UI's SerializedSocket shape", async () => {
    const client = await broker.connect("/", { query: { tag: "t 1" } });
    await ask(client, "join", ["room-b", "room-c"]);
    const tenant = await broker.connect("/tenant-9");
    const { inbox, socket: admin } = await login(broker);
    const [all] = await next(inbox, "all_sockets");
    const byId = Object.fromEntries(all.map((s) => [s.id, s]));
    assert.ok(byId[admin.id], "the dashboard's own socket is listed, as in Node");
    assert.equal(byId[tenant.id]?.nsp, "/tenant-9");
    const s = byId[client.id];
    assert.deepEqual(Object.keys(s).sort(), ["clientId", "data", "handshake", "id", "nsp", "rooms", "transport"]);
    assert.equal(s.clientId, client.io.engine.id.slice(0, 12));
    assert.deepEqual([s.nsp, s.transport, s.data], ["/", "websocket", {}]);
    assert.deepEqual(s.rooms, [client.id, "room-b", "room-c"]);
    const h = s.handshake;
    assert.deepEqual(Object.keys(h).sort(), ["address", "headers", "issued", "query", "secure", "time", "url", "xdomain"]);
    assert.equal(h.address, "127.0.0.1");
    assert.equal(h.headers.host, `127.0.0.1:${broker.port}`);
    assert.deepEqual([h.query.EIO, h.query.transport, h.query.tag], ["4", "websocket", "t 1"]);
    assert.ok(Math.abs(h.issued - Date.now()) < 60000);
    assert.equal(new Date(h.time).getTime(), h.issued);
    assert.match(h.time, ISO);
    assert.equal(h.secure, false);
    assert.equal(h.xdomain, false);
    assert.match(h.url, /^\/socket\.io\/\?/);
    assert.match(h.url, /[?&]EIO=4&transport=websocket/);
  });

  it("live: socket_connected, event_received, room_joined, room_left, socket_disconnected as a client comes and goes", async () => {
    const { inbox } = await login(broker);
    const client = await broker.connect("/tenant-3");
    const id = client.id;
    const [serialized, at] = await next(inbox, "socket_connected", (s) => s.id === id);
    assert.deepEqual([serialized.nsp, serialized.rooms], ["/tenant-3", [id]]);
    assert.match(at, ISO);
    await ask(client, "join", "lobby");
    const received = await next(inbox, "event_received", (nsp, sid) => sid === id);
    assert.deepEqual(received.slice(0, 3), ["/tenant-3", id, ["join", "lobby"]]);
    const joined = await next(inbox, "room_joined", (nsp, room, sid) => sid === id);
    assert.deepEqual(joined.slice(0, 3), ["/tenant-3", "lobby", id]);
    await ask(client, "leave", "lobby");
    const left = await next(inbox, "room_left", (nsp, room, sid) => sid === id);
    assert.deepEqual(left.slice(0, 3), ["/tenant-3", "lobby", id]);
    client.disconnect();
    const gone = await next(inbox, "socket_disconnected", (nsp, sid) => sid === id);
    assert.deepEqual(gone.slice(0, 3), ["/tenant-3", id, "client namespace disconnect"]);
    assert.match(gone[3], ISO);
  });
});

describe("commands", () => {
  it("emit to one socket (filter = its id) and to a whole namespace", async () => {
    const { socket: admin } = await login(broker);
    const [a, b] = [await broker.connect("/"), await broker.connect("/")];
    const gotA = once(a, "notice");
    admin.emit("emit", "/", a.id, "notice", { n: 1 }, "two");
    assert.deepEqual(await gotA, [{ n: 1 }, "two"]);
    const [allA, allB] = [once(a, "everyone"), once(b, "everyone")];
    assert.deepEqual(await ask(admin, "emit", "/", null, "everyone", 3), { ok: true });
    assert.deepEqual([await allA, await allB], [[3], [3]]);
  });

  it("join and leave a room by socket id, and for a whole room at once", async () => {
    const { socket: admin, inbox } = await login(broker);
    const [a, b] = [await broker.connect("/"), await broker.connect("/")];
    admin.emit("join", "/", "vip", a.id); // as the UI sends it: no acknowledgement
    await next(inbox, "room_joined", (nsp, room, sid) => room === "vip" && sid === a.id);
    assert.deepEqual(await apiRooms(a), ["vip"]);
    assert.deepEqual(await apiRooms(b), []);
    assert.deepEqual(await ask(admin, "join", "/", "vip2", "vip"), { ok: true, count: 1 });
    assert.deepEqual(await apiRooms(a), ["vip", "vip2"]);
    assert.deepEqual(await ask(admin, "leave", "/", "vip", a.id), { ok: true, count: 1 });
    assert.deepEqual(await apiRooms(a), ["vip2"]);
    assert.deepEqual(await ask(admin, "join", "/nowhere", "x"), { error: 'unknown namespace "/nowhere"' });
  });

  it("_disconnect one socket by id; with close=true its whole connection", async () => {
    const { socket: admin } = await login(broker);
    const [a, b, c] = [await broker.connect("/"), await broker.connect("/"), await broker.connect("/")];
    const reasonA = once(a, "disconnect");
    admin.emit("_disconnect", "/", false, a.id);
    assert.equal((await reasonA)[0], "io server disconnect");
    const reasonC = once(c, "disconnect");
    assert.deepEqual(await ask(admin, "_disconnect", "/", true, c.id), { ok: true, count: 1 });
    assert.equal((await reasonC)[0], "io server disconnect");
    assert.equal(b.connected, true, "the others stay");
  });
});

describe("readonly", () => {
  it("advertises no command and refuses them all", async () => {
    const ro = await startBroker({
      admin_ui: { enabled: true, auth: "none", readonly: true, mode: "production" },
    });
    try {
      const { socket: admin, inbox } = await login(ro, {});
      const [config] = await next(inbox, "config");
      assert.deepEqual(config, { supportedFeatures: ["AGGREGATED_EVENTS"] });
      const client = await ro.connect("/");
      const refusal = { error: "the admin UI is read-only" };
      assert.deepEqual(await ask(admin, "join", "/", "vip", client.id), refusal);
      assert.deepEqual(await ask(admin, "_disconnect", "/", false, client.id), refusal);
      assert.deepEqual(await ask(admin, "emit", "/", client.id, "x"), refusal);
      const s = await ro.ok(`/api/v1/sockets/${client.id}?namespace=%2F`);
      assert.deepEqual(s.rooms, [], "the join did not happen");
      assert.equal(client.connected, true);
      const [stats] = await next(inbox, "server_stats");
      assert.equal(typeof stats.serverId, "string");
      assert.ok(stats.serverId.length > 0, "the host name by default");
      assert.deepEqual(inbox.of("all_sockets"), [], "production mode sends no socket list");
    } finally {
      ro.closeClients();
      assert.deepEqual(await ro.stop(), { code: 0, signal: null });
    }
  });
});
