// The msgpack parser: socket.io-client 4.8 built with socket.io-msgpack-parser against the testbed
// started with `--parser msgpack`, in each transport mode. Every packet is then one binary Engine.IO
// message and binary travels inline; the tests check what a user sees: namespaces, the middleware's
// connect_error data, argument types, nested binary both ways, acks both ways, broadcasts, disconnects,
// and that a client speaking the other parser (or sending garbage) is dropped as Socket.IO does.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Manager, io as ioClient } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import {
  startServer,
  connect,
  settleConnect,
  emitWithAck,
  lastDisconnect,
  once,
  closeAll,
  TRANSPORT_MODES,
  IS_REFERENCE,
} from "../lib/server.mjs";
import { Inbox } from "../lib/inbox.mjs";

let server;
before(async () => {
  server = await startServer({ parser: "msgpack" });
});
after(async () => {
  await server?.stop();
});

// A packet the parser refuses closes the connection. roomcast names the sockets' reason "parse error" (with
// either parser); Node's socket.io reports its own `conn.close()` on a parser exception as "forced close".
const PARSE_ERROR = IS_REFERENCE ? "forced close" : "parse error";

const MIXED = [
  1,
  "two",
  { three: [true, null, 1.5, -7, 300, -200, 70000] },
  2 ** 40,
  -(2 ** 40),
  0.1,
  "é☃😀",
  "x".repeat(70000),
  [],
  {},
];

/** Resolves with the "disconnect" arguments of a socket that never connected; rejects if it connects. */
function dropped(socket) {
  return new Promise((resolve, reject) => {
    socket.on("connect", () => reject(new Error("connected with the other parser")));
    socket.on("connect_error", (err) => reject(new Error(`connect_error ${err.message}, expected a drop`)));
    once(socket, "disconnect").then(resolve, reject);
  });
}

for (const mode of TRANSPORT_MODES) {
  describe(`msgpack parser [${mode.name}]`, () => {
    const options = (opts = {}) => ({ parser: msgpackParser, ...mode.options, ...opts });
    const open = (nsp = "", opts = {}) => connect(server.url + nsp, options(opts), { upgrade: mode.upgrade });

    let observer; // asks the server about "/" disconnects
    before(async () => {
      observer = await open();
    });
    after(() => closeAll(observer));

    it("connects to / and /custom on one connection", async () => {
      const manager = new Manager(server.url, options({ reconnection: false }));
      const root = manager.socket("/", { auth: { n: 1 } });
      const custom = manager.socket("/custom", { auth: { token: "abc" } });
      try {
        const upgraded = mode.upgrade ? once(manager.engine, "upgrade", 5000) : null;
        await Promise.all([settleConnect(root), settleConnect(custom)]);
        if (upgraded) await upgraded;
        const [a, b] = await Promise.all([emitWithAck(root, "whoami"), emitWithAck(custom, "whoami")]);
        assert.deepEqual(a, { id: root.id, nsp: "/", transport: mode.transport, auth: { n: 1 }, rooms: [root.id] });
        assert.deepEqual(b, {
          id: custom.id,
          nsp: "/custom",
          transport: mode.transport,
          auth: { token: "abc" },
          rooms: [custom.id],
        });
      } finally {
        closeAll(root, custom);
      }
    });

    it("/admin: the middleware's connect_error carries its data; the right token connects", async () => {
      await assert.rejects(open("/admin", { auth: { token: "wrong" } }), (err) => {
        assert.equal(err.message, "unauthorized");
        assert.deepEqual(err.data, { reason: "bad token" });
        return true;
      });
      const admin = await open("/admin", { auth: { token: "secret" } });
      try {
        assert.equal((await emitWithAck(admin, "whoami")).nsp, "/admin");
      } finally {
        closeAll(admin);
      }
    });

    it("events with mixed arguments keep their types", async () => {
      const s = await open();
      try {
        const back = once(s, "echo");
        s.emit("echo", ...MIXED);
        assert.deepEqual(await back, MIXED);
      } finally {
        closeAll(s);
      }
    });

    it("binary both ways, nested anywhere, inline in one message", async () => {
      const s = await open();
      try {
        const args = [
          Buffer.from([1, 2, 3]),
          "between",
          { nested: [Buffer.from([4])], deep: { big: Buffer.alloc(70000, 7), empty: Buffer.alloc(0) } },
        ];
        const back = once(s, "echo");
        s.emit("echo", ...args);
        const got = await back;
        assert.deepEqual(got, args);
        assert.ok(Buffer.isBuffer(got[0]) && Buffer.isBuffer(got[2].deep.big));
        // a Uint8Array that is not a Buffer travels as notepack's ext type 0 (an ArrayBuffer); the bytes
        // come back (Node's server re-sends an ArrayBuffer, roomcast a Buffer: msgpack bin, as for all binary)
        const typed = once(s, "echo");
        s.emit("echo", { view: new Uint8Array([5, 6, 7]) });
        const [{ view }] = await typed;
        assert.deepEqual(Buffer.from(view), Buffer.from([5, 6, 7]));
      } finally {
        closeAll(s);
      }
    });

    it("acks both ways, binary included", async () => {
      const s = await open("/custom");
      try {
        const args = ["x", Buffer.from([9, 8]), { b: [Buffer.from([1])] }, null, 2.5];
        const reply = await new Promise((resolve) => s.emit("echo-ack", ...args, (...got) => resolve(got)));
        assert.deepEqual(reply, args);
        assert.deepEqual(await emitWithAck(s, "echo-ack", Buffer.from([3])), Buffer.from([3]));
        // the server asks, the client answers with binary, the server reports what it got
        s.once("question", (n, bin, ack) => {
          assert.equal(n, 42);
          assert.deepEqual(bin, Buffer.from([5, 6]));
          ack("answer", Buffer.from([7]), { n: Buffer.from([8]) });
        });
        const report = await emitWithAck(s, "server-ack", {
          event: "question",
          args: [42, Buffer.from([5, 6])],
          timeout_ms: 5000,
        });
        assert.deepEqual(report, { args: ["answer", Buffer.from([7]), { n: Buffer.from([8]) }] });
      } finally {
        closeAll(s);
      }
    });

    it("server-ack times out when the client never answers", async () => {
      const s = await open();
      try {
        s.on("ignored", () => {});
        const report = await emitWithAck(s, "server-ack", { event: "ignored", args: [1], timeout_ms: 200 });
        assert.deepEqual(report, { error: "timeout" });
      } finally {
        closeAll(s);
      }
    });

    it("broadcast to a room except another, with a binary argument", async () => {
      const names = ["a", "b", "c", "d"];
      const rooms = { a: ["r1"], b: ["r1", "r2"], c: ["r1"], d: ["r3"] };
      const clients = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await open()])));
      try {
        const inboxes = Object.fromEntries(names.map((n) => [n, new Inbox(clients[n], ["news"])]));
        for (const n of names) await emitWithAck(clients[n], "join", rooms[n]);
        const tag = `${mode.name}-news`;
        const extra = { pic: Buffer.from([0xff, 0, 1]) };
        const spec = { event: "news", args: [tag, extra], rooms: ["r1"], except: ["r2"] };
        assert.equal(await emitWithAck(clients.a, "emit-to", spec), true);
        // a barrier to everyone from the same sender: whoever got it has got the broadcast before it
        assert.equal(await emitWithAck(clients.a, "emit-to", { event: "news", args: ["barrier"] }), true);
        const got = {};
        for (const n of names) {
          await inboxes[n].waitFor((i) => i.args[0] === "barrier", 5000, `${n} barrier`);
          const hits = inboxes[n].withTag(tag);
          for (const hit of hits) assert.deepEqual(hit.args, [tag, extra]);
          got[n] = hits.length;
        }
        assert.deepEqual(got, { a: 1, b: 0, c: 1, d: 0 });
      } finally {
        closeAll(Object.values(clients));
      }
    });

    it("disconnect both ways", async () => {
      const s = await open();
      const id = s.id;
      const gone = once(s, "disconnect");
      s.disconnect();
      assert.deepEqual(await gone, ["io client disconnect", undefined]);
      assert.equal((await lastDisconnect(observer, id)).reason, "client namespace disconnect");

      const t = await open();
      const tid = t.id;
      const kicked = once(t, "disconnect");
      t.emit("disconnect-me", false);
      assert.deepEqual(await kicked, ["io server disconnect", undefined]);
      assert.equal((await lastDisconnect(observer, tid)).reason, "server namespace disconnect");
      closeAll(t);
    });

    for (const [what, message] of [
      ["a text message", '2["echo","text"]'],
      ["a binary message that is not msgpack", Buffer.from([0xc1])],
      ["a msgpack packet of an unknown type", Buffer.from("82a47479706505a36e7370a12f", "hex")],
    ]) {
      it(`${what} from the client: the connection is closed (reason "${PARSE_ERROR}")`, async () => {
        const s = await open();
        const id = s.id;
        try {
          const gone = once(s, "disconnect");
          s.io.engine.write(message);
          assert.equal((await gone)[0], "transport close");
          assert.equal((await lastDisconnect(observer, id)).reason, PARSE_ERROR);
        } finally {
          closeAll(s);
        }
      });
    }

    it("a client with the default parser is dropped before it connects", async () => {
      // neither "connect" nor "connect_error": the server closes the transport at the first packet
      const s = ioClient(server.url, { ...mode.options, forceNew: true, reconnection: false });
      try {
        assert.equal((await dropped(s))[0], "transport close");
      } finally {
        closeAll(s);
      }
    });
  });
}

describe("msgpack client against a server with the default parser", () => {
  let plain;
  before(async () => {
    plain = await startServer();
  });
  after(async () => {
    await plain?.stop();
  });
  for (const mode of TRANSPORT_MODES) {
    it(`is dropped before it connects [${mode.name}]`, async () => {
      const s = ioClient(plain.url, { parser: msgpackParser, ...mode.options, forceNew: true, reconnection: false });
      try {
        assert.equal((await dropped(s))[0], "transport close");
      } finally {
        closeAll(s);
      }
    });
  }
});
