// Broker namespaces (issue 3, section 1): only the configured namespaces accept a CONNECT, a name ending
// in `*` is a prefix pattern whose every matching name is its own namespace with the pattern's policy.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startBroker, ask, record, barrier, sorted, metric } from "./lib/broker.mjs";
import { settleConnect, waitFor } from "../lib/server.mjs";

let broker;
before(async () => {
  broker = await startBroker({
    namespaces: [
      { name: "/", client_publish: "joined" },
      { name: "/chat", client_publish: "none" },
      { name: "/tenant-*", client_publish: "any" },
      { name: "/org/*", client_join: false },
    ],
  });
});
after(async () => {
  assert.deepEqual(await broker?.stop(), { code: 0, signal: null });
});
afterEach(() => broker.closeClients());

describe("namespaces", () => {
  for (const nsp of ["/nope", "/tenant", "/tenan", "/org", "/chat/sub", "/Chat"]) {
    it(`unlisted ${nsp} gets connect_error "Invalid namespace"`, async () => {
      const err = await broker.connectError(nsp);
      assert.equal(err.message, "Invalid namespace");
    });
  }

  it("an unlisted namespace does not hurt the connection's other namespaces (one Engine.IO connection)", async () => {
    const manager = new Manager(broker.url, { reconnection: false, transports: ["websocket"] });
    try {
      const main = await settleConnect(manager.socket("/"));
      const bad = manager.socket("/nope");
      const err = await settleConnect(bad).then(
        () => assert.fail("connected to /nope"),
        (e) => e,
      );
      assert.equal(err.message, "Invalid namespace");
      assert.ok(main.connected);
      assert.deepEqual(await ask(main, "join", "ns-still"), { ok: true, rooms: ["ns-still"] });
      const chat = await settleConnect(manager.socket("/chat"));
      assert.ok(chat.connected);
      assert.equal(chat.io.engine, main.io.engine);
      // the earlier tests' connections close asynchronously: bounded poll until only this one is left
      await waitFor(async () => (await broker.ok("/api/v1/stats")).connections === 1, {
        what: "one Engine.IO connection for both namespaces",
      });
    } finally {
      manager.engine?.close();
    }
  });

  it("/tenant-* matches /tenant-42 with the pattern's policy (publish = any)", async () => {
    const member = await broker.connect("/tenant-42");
    const inbox = record(member, ["msg", "barrier"]);
    const sender = await broker.connect("/tenant-42");
    assert.deepEqual(await ask(member, "join", "t-room"), { ok: true, rooms: ["t-room"] });
    // the sender is in no room: allowed by "any" (the "/" namespace's "joined" would refuse)
    assert.deepEqual(await ask(sender, "publish", "t-room", "msg", "to tenant 42"), { ok: true });
    const got = await inbox.wait((i) => i.event === "msg");
    assert.deepEqual(got.args, ["to tenant 42"]);
    const s = await broker.ok(`/api/v1/sockets/${member.id}?namespace=${encodeURIComponent("/tenant-42")}`);
    assert.equal(s.namespace, "/tenant-42");
  });

  it("/org/* matches /org/a with its policy (client_join = false)", async () => {
    const socket = await broker.connect("/org/a");
    const reply = await ask(socket, "join", "o-room");
    assert.equal(reply.ok, false);
    assert.match(reply.error, /join/);
  });

  it("a static namespace keeps its own policy (/chat: publish = none)", async () => {
    const socket = await broker.connect("/chat");
    await ask(socket, "join", "c-room");
    const reply = await ask(socket, "publish", "c-room", "msg", "x");
    assert.equal(reply.ok, false);
  });

  it("each name matching a pattern is its own namespace: rooms do not cross", async () => {
    const in42 = await broker.connect("/tenant-42");
    const in43 = await broker.connect("/tenant-43");
    const inRoot = await broker.connect("/");
    const inboxes = [in42, in43, inRoot].map((s) => record(s, ["msg", "barrier"]));
    for (const s of [in42, in43, inRoot]) await ask(s, "join", "shared-name");
    const sender = await broker.connect("/tenant-43");
    assert.deepEqual(await ask(sender, "publish", "shared-name", "msg", "43 only"), { ok: true });
    await barrier(broker, [inboxes[0]], { namespace: "/tenant-42" });
    await barrier(broker, [inboxes[1]], { namespace: "/tenant-43" });
    await barrier(broker, [inboxes[2]], { namespace: "/" });
    assert.deepEqual(
      inboxes.map((i) => i.of("msg")),
      [[], [["43 only"]], []],
    );

    const stats = await broker.ok("/api/v1/stats");
    const byName = Object.fromEntries(stats.namespaces.map((n) => [n.name, n]));
    assert.ok(byName["/tenant-42"] && byName["/tenant-43"], JSON.stringify(stats));
    assert.equal(byName["/tenant-43"].sockets, 2);
    assert.equal(byName["/tenant-43"].rooms, 1);
    const rooms42 = await broker.ok(`/api/v1/rooms?namespace=${encodeURIComponent("/tenant-42")}`);
    assert.deepEqual(rooms42, { rooms: [{ name: "shared-name", sockets: 1 }], total: 1 });
    const listed = await broker.ok(`/api/v1/sockets?namespace=${encodeURIComponent("/tenant-43")}`);
    assert.deepEqual(sorted(listed.sockets.map((s) => s.id)), sorted([in43.id, sender.id]));
  });
});

describe("namespace limits", () => {
  it('past max_dynamic_namespaces a new name under a pattern gets connect_error "Too many namespaces" (server limit), counted; an emptied one frees its place', async () => {
    const limited = await startBroker({
      limits: { max_dynamic_namespaces: 3 },
      namespaces: [{ name: "/" }, { name: "/t-*" }],
    });
    try {
      const held = [];
      for (const n of [1, 2, 3]) held.push(await limited.connect(`/t-${n}`));
      const err = await limited.connectError("/t-4");
      assert.equal(err.message, "Too many namespaces");
      assert.deepEqual(err.data, { reason: "server limit" });
      // an existing dynamic namespace and the static ones still take new sockets
      assert.ok((await limited.connect("/t-1")).connected);
      assert.ok((await limited.connect("/")).connected);
      const m = await limited.metrics();
      assert.equal(metric(m.values, "roomcast_namespace_refusals_total", { limit: "server limit" }), 1);
      assert.equal(metric(m.values, "roomcast_dynamic_namespaces"), 3);
      // /t-2 empties: it is removed, and /t-4 can be created
      held[1].disconnect();
      await waitFor(async () => metric((await limited.metrics()).values, "roomcast_dynamic_namespaces") === 2, {
        what: "/t-2 removed",
      });
      assert.ok((await limited.connect("/t-4")).connected);
    } finally {
      limited.closeClients();
      assert.deepEqual(await limited.stop(), { code: 0, signal: null });
    }
  });

  it("/metrics sums a pattern's namespaces under the pattern: no series per client-chosen name, none left once they are gone", async () => {
    const broker2 = await startBroker({ namespaces: [{ name: "/" }, { name: "/t-*" }] });
    try {
      const sockets = [];
      for (let n = 0; n < 30; n++) sockets.push(await broker2.connect(`/t-${n}`));
      await ask(sockets[0], "join", "r");
      const during = await broker2.metrics();
      assert.equal(metric(during.values, "roomcast_sockets", { namespace: "/t-*" }), 30);
      assert.equal(metric(during.values, "roomcast_rooms", { namespace: "/t-*" }), 1);
      assert.doesNotMatch(during.text, /namespace="\/t-\d/);
      for (const s of sockets) s.disconnect();
      const after = await waitFor(
        async () => {
          const m = await broker2.metrics();
          return metric(m.values, "roomcast_dynamic_namespaces") === 0 && m;
        },
        { what: "the /t-* namespaces removed" },
      );
      assert.doesNotMatch(after.text, /namespace="\/t-/);
      assert.equal(metric(after.values, "roomcast_sockets", { namespace: "/" }), 0);
    } finally {
      broker2.closeClients();
      assert.deepEqual(await broker2.stop(), { code: 0, signal: null });
    }
  });

  it('past max_namespaces_per_connection one connection gets connect_error "Too many namespaces" (connection limit); other connections are not affected', async () => {
    const limited = await startBroker({
      limits: { max_namespaces_per_connection: 2 },
      namespaces: [{ name: "/" }, { name: "/a" }, { name: "/b" }],
    });
    const manager = new Manager(limited.url, { reconnection: false, transports: ["websocket"] });
    try {
      await settleConnect(manager.socket("/"));
      await settleConnect(manager.socket("/a"));
      const err = await settleConnect(manager.socket("/b")).then(
        () => assert.fail("a third namespace on one connection"),
        (e) => e,
      );
      assert.equal(err.message, "Too many namespaces");
      assert.deepEqual(err.data, { reason: "connection limit" });
      // another connection still joins /b
      assert.ok((await limited.connect("/b")).connected);
      const m = await limited.metrics();
      assert.equal(metric(m.values, "roomcast_namespace_refusals_total", { limit: "connection limit" }), 1);
    } finally {
      manager.engine?.close();
      limited.closeClients();
      assert.deepEqual(await limited.stop(), { code: 0, signal: null });
    }
  });
});
