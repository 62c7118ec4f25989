// Namespaces: static (/custom), protected by a middleware (/admin), dynamic (/dyn-*), unknown,
// and several namespaces multiplexed over one Engine.IO connection.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager, io } from "socket.io-client";
import {
  startServer,
  connect,
  settleConnect,
  emitWithAck,
  lastDisconnect,
  once,
  closeAll,
  TRANSPORT_MODES,
} from "../lib/server.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

for (const mode of TRANSPORT_MODES) {
  describe(`namespaces [${mode.name}]`, () => {
    const open = (nsp = "", opts = {}) =>
      connect(server.url + nsp, { ...mode.options, ...opts }, { upgrade: mode.upgrade });

    it("/custom: whoami reports the namespace, echo and acks work there", async () => {
      const socket = await open("/custom");
      try {
        const me = await emitWithAck(socket, "whoami");
        assert.deepEqual(me, { id: socket.id, nsp: "/custom", transport: mode.transport, auth: {}, rooms: [socket.id] });
        const got = once(socket, "echo");
        socket.emit("echo", "in custom", Buffer.from([7]));
        assert.deepEqual(await got, ["in custom", Buffer.from([7])]);
        assert.equal(await emitWithAck(socket, "echo-ack", "ack in custom"), "ack in custom");
      } finally {
        closeAll(socket);
      }
    });

    it("/admin with the good token connects and sees its auth", async () => {
      const socket = await open("/admin", { auth: { token: "secret" } });
      try {
        const me = await emitWithAck(socket, "whoami");
        assert.deepEqual(me, {
          id: socket.id,
          nsp: "/admin",
          transport: mode.transport,
          auth: { token: "secret" },
          rooms: [socket.id],
        });
      } finally {
        closeAll(socket);
      }
    });

    for (const [label, auth] of [
      ["a bad token", { token: "wrong" }],
      ["no token", undefined],
    ]) {
      it(`/admin with ${label} gets connect_error "unauthorized" with data {reason:"bad token"}`, async () => {
        const err = await open("/admin", auth ? { auth } : {}).then(
          (s) => {
            closeAll(s);
            assert.fail("connected to /admin without the right token");
          },
          (e) => e,
        );
        assert.equal(err.message, "unauthorized");
        assert.deepEqual(err.data, { reason: "bad token" });
      });
    }

    it('an unknown namespace gets connect_error "Invalid namespace"', async () => {
      const err = await open("/no-such-namespace").then(
        (s) => {
          closeAll(s);
          assert.fail("connected to an unknown namespace");
        },
        (e) => e,
      );
      assert.equal(err.message, "Invalid namespace");
      assert.equal(err.data, undefined);
    });

    it('a dynamic namespace /dyn-42 connects and receives hello "/dyn-42"', async () => {
      const socket = io(server.url + "/dyn-42", {
        forceNew: true,
        reconnection: false,
        ...mode.options,
      });
      // listen before the connection completes: hello is emitted on connection
      const hello = once(socket, "hello");
      try {
        await settleConnect(socket, { upgrade: mode.upgrade });
        assert.deepEqual(await hello, ["/dyn-42"]);
        const me = await emitWithAck(socket, "whoami");
        assert.equal(me.nsp, "/dyn-42");
        assert.equal(me.id, socket.id);
        assert.equal(await emitWithAck(socket, "echo-ack", "dyn"), "dyn");
      } finally {
        closeAll(socket);
      }
    });

    it("several namespaces are multiplexed over ONE Engine.IO connection", async () => {
      const manager = new Manager(server.url, { reconnection: false, ...mode.options });
      const root = manager.socket("/");
      const custom = manager.socket("/custom");
      const admin = manager.socket("/admin", { auth: { token: "secret" } });
      const dyn = manager.socket("/dyn-7");
      const dynHello = once(dyn, "hello");
      const bad = manager.socket("/admin-nope");
      const all = [root, custom, admin, dyn, bad];
      try {
        const upgraded = mode.upgrade ? once(manager.engine, "upgrade", 5000) : null;
        const badResult = settleConnect(bad);
        badResult.catch(() => {});
        await Promise.all([root, custom, admin, dyn].map((s) => settleConnect(s)));
        const err = await badResult.then(
          () => assert.fail("connected to an unknown namespace"),
          (e) => e,
        );
        assert.equal(err.message, "Invalid namespace");
        if (upgraded) await upgraded;
        assert.deepEqual(await dynHello, ["/dyn-7"]);

        const engineId = manager.engine.id;
        assert.ok(engineId);
        for (const s of [root, custom, admin, dyn]) assert.equal(s.io.engine.id, engineId);

        const mes = await Promise.all([root, custom, admin, dyn].map((s) => emitWithAck(s, "whoami")));
        assert.deepEqual(
          mes.map((m) => m.nsp),
          ["/", "/custom", "/admin", "/dyn-7"],
        );
        assert.deepEqual(
          mes.map((m) => m.id),
          [root.id, custom.id, admin.id, dyn.id],
        );
        assert.equal(new Set(mes.map((m) => m.id)).size, 4, "each namespace has its own socket id");
        for (const m of mes) assert.equal(m.transport, mode.transport);
        assert.deepEqual(mes[2].auth, { token: "secret" });

        // the failed namespace did not break the others; events stay in their namespace
        const echoes = [root, custom, admin, dyn].map((s) => once(s, "echo"));
        root.emit("echo", "root");
        custom.emit("echo", "custom");
        admin.emit("echo", "admin");
        dyn.emit("echo", "dyn");
        assert.deepEqual(await Promise.all(echoes), [["root"], ["custom"], ["admin"], ["dyn"]]);

        // leaving one namespace keeps the connection and the other namespaces
        const meCustomId = custom.id;
        const customGone = once(custom, "disconnect");
        custom.disconnect();
        assert.deepEqual(await customGone, ["io client disconnect", undefined]);
        assert.equal(await emitWithAck(root, "echo-ack", "still"), "still");
        assert.equal(manager.engine.id, engineId);
        // reconnect /custom on the same connection: a new socket id, and /custom remembers the old one
        const oldCustomId = meCustomId;
        custom.connect();
        await settleConnect(custom);
        assert.notEqual(custom.id, oldCustomId);
        assert.equal(custom.io.engine.id, engineId);
        assert.deepEqual(await lastDisconnect(custom, oldCustomId), { reason: "client namespace disconnect", rooms: [] });
        // last-disconnect is per namespace: /admin has no record of the /custom socket
        assert.equal(await emitWithAck(admin, "last-disconnect", oldCustomId), null);
      } finally {
        closeAll(all);
        manager.engine?.close();
      }
    });
  });
}
