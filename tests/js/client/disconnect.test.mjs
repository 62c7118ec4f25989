// Disconnections seen from both sides (client `disconnect` reasons, server reasons via `last-disconnect`),
// reconnection, and connection churn leaving no sockets or rooms behind.
//
// The server handles each connection independently, so a disconnect made on one connection is not ordered
// with a question asked on another: `lastDisconnect` / `waitFor` poll (bounded) until the server has it.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import {
  startServer,
  connect,
  settleConnect,
  emitWithAck,
  lastDisconnect,
  waitFor,
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
  describe(`disconnect [${mode.name}]`, () => {
    const open = (nsp = "", opts = {}) =>
      connect(server.url + nsp, { ...mode.options, ...opts }, { upgrade: mode.upgrade });

    let observer; // asks the server about "/" disconnects
    before(async () => {
      observer = await open();
    });
    after(() => closeAll(observer));

    it('last-disconnect is null for a socket that has not disconnected, and for an unknown id', async () => {
      const s = await open();
      try {
        assert.equal(await emitWithAck(observer, "last-disconnect", s.id), null);
        assert.equal(await emitWithAck(observer, "last-disconnect", "no-such-socket-id"), null);
      } finally {
        closeAll(s);
      }
    });

    it('client socket.disconnect(): server reason "client namespace disconnect", rooms still visible in disconnecting', async () => {
      const s = await open();
      const id = s.id;
      assert.deepEqual(await emitWithAck(s, "join", ["zeta", "alpha", "mid"]), ["alpha", "mid", "zeta", id].sort());
      const gone = once(s, "disconnect");
      s.disconnect();
      assert.deepEqual(await gone, ["io client disconnect", undefined]);
      assert.deepEqual(await lastDisconnect(observer, id), {
        reason: "client namespace disconnect",
        rooms: ["alpha", "mid", "zeta"],
      });
    });

    it('disconnect-me false: the client sees "io server disconnect", the server "server namespace disconnect"; other namespaces on the connection stay', async () => {
      const manager = new Manager(server.url, { reconnection: false, ...mode.options });
      const root = manager.socket("/");
      const custom = manager.socket("/custom");
      try {
        const upgraded = mode.upgrade ? once(manager.engine, "upgrade", 5000) : null;
        await Promise.all([settleConnect(root), settleConnect(custom)]);
        if (upgraded) await upgraded;
        const id = root.id;
        const engineId = manager.engine.id;
        await emitWithAck(root, "join", "room-x");
        const gone = once(root, "disconnect");
        root.emit("disconnect-me", false);
        assert.deepEqual(await gone, ["io server disconnect", undefined]);
        assert.equal(root.connected, false);
        // no automatic reconnection after a server-side namespace disconnect
        assert.equal(root.active, false);
        // the connection and the other namespace are still there
        assert.equal(custom.connected, true);
        assert.equal(await emitWithAck(custom, "echo-ack", "alive"), "alive");
        assert.equal(manager.engine.id, engineId);
        assert.equal(manager.engine.readyState, "open");
        assert.deepEqual(await lastDisconnect(observer, id), { reason: "server namespace disconnect", rooms: ["room-x"] });
      } finally {
        closeAll(root, custom);
      }
    });

    it('disconnect-me true: every namespace of the connection is disconnected ("io server disconnect") and the connection closes', async () => {
      const manager = new Manager(server.url, { reconnection: false, ...mode.options });
      const root = manager.socket("/");
      const custom = manager.socket("/custom");
      let customObserver;
      try {
        const upgraded = mode.upgrade ? once(manager.engine, "upgrade", 5000) : null;
        await Promise.all([settleConnect(root), settleConnect(custom)]);
        if (upgraded) await upgraded;
        customObserver = await open("/custom");
        const rootId = root.id;
        const customId = custom.id;
        const engine = manager.engine;
        const engineClosed = once(engine, "close", 5000);
        const rootGone = once(root, "disconnect");
        const customGone = once(custom, "disconnect");
        root.emit("disconnect-me", true);
        assert.deepEqual(await rootGone, ["io server disconnect", undefined]);
        assert.deepEqual(await customGone, ["io server disconnect", undefined]);
        await engineClosed;
        assert.equal(engine.readyState, "closed");
        assert.deepEqual(await lastDisconnect(observer, rootId), { reason: "server namespace disconnect", rooms: [] });
        assert.deepEqual(await lastDisconnect(customObserver, customId), {
          reason: "server namespace disconnect",
          rooms: [],
        });
      } finally {
        closeAll(root, custom, customObserver);
      }
    });

    it('closing the transport: the server sees "transport close", the client reconnects with a new id', async () => {
      const s = await open("", {
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 100,
        reconnectionAttempts: 20,
        randomizationFactor: 0,
      });
      try {
        const firstId = s.id;
        const firstEngineId = s.io.engine.id;
        await emitWithAck(s, "join", "before-reconnect");
        const gone = once(s, "disconnect");
        const back = once(s, "connect", 10000);
        s.io.engine.close();
        const [reason] = await gone;
        assert.equal(reason, "forced close");
        await back;
        assert.equal(s.connected, true);
        assert.notEqual(s.id, firstId);
        assert.notEqual(s.io.engine.id, firstEngineId);
        if (mode.upgrade) {
          if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade", 5000);
        }
        const me = await emitWithAck(s, "whoami");
        assert.equal(me.id, s.id);
        assert.equal(me.transport, mode.transport);
        // rooms do not survive a reconnection (no connection state recovery)
        assert.deepEqual(me.rooms, [s.id]);
        assert.deepEqual(await lastDisconnect(observer, firstId), { reason: "transport close", rooms: ["before-reconnect"] });
      } finally {
        closeAll(s);
      }
    });

    it("churn: 50 clients connect, join rooms and go away (3 ways); the namespace ends with no sockets or rooms", async () => {
      const nsp = `/dyn-churn-${mode.name}`;
      const watcher = await open(nsp);
      try {
        assert.deepEqual(await emitWithAck(watcher, "count"), { sockets: 1, rooms: 0 });
        const N = 50;
        const BATCH = 10;
        const ids = [];
        for (let start = 0; start < N; start += BATCH) {
          const batch = await Promise.all(
            Array.from({ length: BATCH }, async (_, k) => {
              const i = start + k;
              const s = await open(nsp);
              const rooms = await emitWithAck(s, "join", ["churn-common", `churn-${i}`]);
              assert.deepEqual(rooms, ["churn-common", `churn-${i}`, s.id].sort());
              return s;
            }),
          );
          ids.push(...batch.map((s) => s.id));
          if (start === 0) {
            // while a batch is connected the server counts it
            assert.deepEqual(await emitWithAck(watcher, "count"), { sockets: 1 + BATCH, rooms: 1 + BATCH });
          }
          await Promise.all(
            batch.map(async (s, k) => {
              const gone = once(s, "disconnect");
              switch ((start + k) % 3) {
                case 0:
                  s.disconnect(); // DISCONNECT packet
                  break;
                case 1:
                  s.io.engine.close(); // the transport goes away
                  break;
                default:
                  s.emit("disconnect-me", true); // the server disconnects it
              }
              await gone;
              closeAll(s);
            }),
          );
        }
        assert.equal(new Set(ids).size, N);
        const final = await waitFor(
          async () => {
            const c = await emitWithAck(watcher, "count");
            return c.sockets === 1 && c.rooms === 0 ? c : null;
          },
          { timeout: 10000, what: "count {sockets:1, rooms:0}" },
        ).catch(async (err) => {
          throw new Error(`${err.message}; count is ${JSON.stringify(await emitWithAck(watcher, "count"))}`);
        });
        assert.deepEqual(final, { sockets: 1, rooms: 0 });
        // every churned socket left a disconnect record with its rooms
        const expected = { 0: "client namespace disconnect", 1: "transport close", 2: "server namespace disconnect" };
        for (let i = 0; i < N; i++) {
          assert.deepEqual(await emitWithAck(watcher, "last-disconnect", ids[i]), {
            reason: expected[i % 3],
            rooms: ["churn-common", `churn-${i}`].sort(),
          });
        }
      } finally {
        closeAll(watcher);
      }
    });
  });
}
