// Identity, emits, acknowledgements and binary payloads, with socket.io-client 4.8,
// in each transport mode (polling only, websocket only, polling upgraded to websocket).

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startServer,
  connect,
  emitWithAck,
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
  describe(`basic [${mode.name}]`, () => {
    const open = (nsp = "", opts = {}) =>
      connect(server.url + nsp, { ...mode.options, ...opts }, { upgrade: mode.upgrade });

    it("whoami: the server's socket id equals the client's, with namespace, transport, auth and rooms", async () => {
      const socket = await open("", { auth: { hello: "world", n: 1 } });
      try {
        assert.equal(socket.io.engine.transport.name, mode.transport);
        const me = await emitWithAck(socket, "whoami");
        assert.equal(typeof socket.id, "string");
        assert.ok(socket.id.length > 0);
        assert.deepEqual(me, {
          id: socket.id,
          nsp: "/",
          transport: mode.transport,
          auth: { hello: "world", n: 1 },
          rooms: [socket.id],
        });
        // the socket id is not the Engine.IO session id
        assert.notEqual(socket.id, socket.io.engine.id);
      } finally {
        closeAll(socket);
      }
    });

    it("whoami without auth reports an empty auth object", async () => {
      const socket = await open();
      try {
        const me = await emitWithAck(socket, "whoami");
        assert.deepEqual(me.auth, {});
        assert.equal(me.id, socket.id);
      } finally {
        closeAll(socket);
      }
    });

    it("echo: client emits, the server emits the same arguments back", async () => {
      const socket = await open();
      try {
        const args = ["text", 42, 1.5, true, false, null, { a: [1, "two", { three: 3 }] }, [], {}, "ünïcødé ✓ 🚀"];
        const got = once(socket, "echo");
        socket.emit("echo", ...args);
        assert.deepEqual(await got, args);
      } finally {
        closeAll(socket);
      }
    });

    it("echo: several emits come back in order", async () => {
      const socket = await open();
      try {
        const received = [];
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`got ${received.length} of 50 echoes`)), 5000);
          socket.on("disconnect", (reason) => {
            clearTimeout(timer);
            reject(new Error(`disconnected: ${reason}`));
          });
          socket.on("echo", (n) => {
            received.push(n);
            if (received.length === 50) {
              clearTimeout(timer);
              resolve();
            }
          });
          for (let i = 0; i < 50; i++) socket.emit("echo", i);
        });
        assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => i));
      } finally {
        closeAll(socket);
      }
    });

    it("echo-ack: the server acknowledges with the same arguments", async () => {
      const socket = await open();
      try {
        const res = await socket.timeout(5000).emitWithAck("echo-ack", "a", 1, { b: [true, null] });
        // emitWithAck resolves with the first ack argument only; use the callback form for all of them
        assert.equal(res, "a");
        const all = await new Promise((resolve, reject) => {
          socket.timeout(5000).emit("echo-ack", "a", 1, { b: [true, null] }, (err, ...ackArgs) =>
            err ? reject(err) : resolve(ackArgs),
          );
        });
        assert.deepEqual(all, ["a", 1, { b: [true, null] }]);
      } finally {
        closeAll(socket);
      }
    });

    it("echo-ack: concurrent acks are matched to their emits", async () => {
      const socket = await open();
      try {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => emitWithAck(socket, "echo-ack", { i })),
        );
        assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => ({ i })));
      } finally {
        closeAll(socket);
      }
    });

    it("server-ack: the server emits with an ack, the client answers and the server relays the answer", async () => {
      const socket = await open();
      try {
        const seen = [];
        socket.on("question", (...args) => {
          const ack = args.pop();
          assert.equal(typeof ack, "function");
          seen.push(args);
          ack("answer", args[0] + args[1], { ok: true });
        });
        const res = await emitWithAck(socket, "server-ack", { event: "question", args: [20, 22], timeout_ms: 3000 });
        assert.deepEqual(seen, [[20, 22]]);
        assert.deepEqual(res, { args: ["answer", 42, { ok: true }] });
      } finally {
        closeAll(socket);
      }
    });

    it("server-ack: the server's ack times out when the client never answers", async () => {
      const socket = await open();
      try {
        let delivered = 0;
        socket.on("unanswered", (...args) => {
          // receives the ack callback and deliberately never calls it
          assert.equal(typeof args.at(-1), "function");
          delivered++;
        });
        const started = Date.now();
        const res = await emitWithAck(socket, "server-ack", { event: "unanswered", args: ["x"], timeout_ms: 300 });
        assert.deepEqual(res, { error: "timeout" });
        assert.equal(delivered, 1);
        assert.ok(Date.now() - started >= 250, `ack timed out too early (${Date.now() - started} ms)`);
        // the connection is still usable afterwards
        assert.equal(await emitWithAck(socket, "echo-ack", "still here"), "still here");
      } finally {
        closeAll(socket);
      }
    });

    it("server-ack: the server's ack times out when the client has no handler", async () => {
      const socket = await open();
      try {
        const res = await emitWithAck(socket, "server-ack", { event: "nobody-listens", args: [], timeout_ms: 200 });
        assert.deepEqual(res, { error: "timeout" });
      } finally {
        closeAll(socket);
      }
    });

    it("binary: Buffer and Uint8Array arguments, nested and several attachments, come back equal", async () => {
      const socket = await open();
      try {
        const big = Buffer.alloc(100 * 1024);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
        const u8 = new Uint8Array([0, 1, 2, 253, 254, 255]);
        const args = [
          Buffer.from([1, 2, 3]),
          "text between",
          u8,
          { nested: { deep: [Buffer.from("héllo"), { more: Buffer.alloc(0) }] }, n: 7 },
          [big, Buffer.from([0x1e, 0x00, 0x0a])],
        ];
        const expected = [
          Buffer.from([1, 2, 3]),
          "text between",
          Buffer.from(u8),
          { nested: { deep: [Buffer.from("héllo"), { more: Buffer.alloc(0) }] }, n: 7 },
          [big, Buffer.from([0x1e, 0x00, 0x0a])],
        ];
        const got = once(socket, "echo");
        socket.emit("echo", ...args);
        assert.deepEqual(await got, expected);

        // binary through an acknowledgement
        const acked = await new Promise((resolve, reject) => {
          socket.timeout(5000).emit("echo-ack", ...args, (err, ...a) => (err ? reject(err) : resolve(a)));
        });
        assert.deepEqual(acked, expected);
      } finally {
        closeAll(socket);
      }
    });

    it("binary: the server emits binary with an ack and relays the client's binary answer", async () => {
      const socket = await open();
      try {
        socket.on("bin-question", (data, obj, ack) => {
          ack(Buffer.concat([data, Buffer.from([9])]), { got: obj.inner });
        });
        const res = await emitWithAck(socket, "server-ack", {
          event: "bin-question",
          args: [Buffer.from([1, 2]), { inner: new Uint8Array([5, 6]) }],
          timeout_ms: 3000,
        });
        assert.deepEqual(res, { args: [Buffer.from([1, 2, 9]), { got: Buffer.from([5, 6]) }] });
      } finally {
        closeAll(socket);
      }
    });
  });
}
