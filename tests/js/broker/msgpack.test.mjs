// The broker with `[engine] parser = "msgpack"`: socket.io-client built with socket.io-msgpack-parser
// uses the client room API (join, publish) with binary arguments, over WebSocket and over polling; the
// admin API's emits reach msgpack clients; ROOMCAST_ENGINE_PARSER selects the parser too; a client of
// the default parser is dropped before it connects.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import msgpackParser from "socket.io-msgpack-parser";
import { startBroker, ask, record, barrier, once } from "./lib/broker.mjs";

let broker;
before(async () => {
  broker = await startBroker({ engine: { parser: "msgpack" } });
});
after(async () => {
  const r = await broker?.stop();
  assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});
afterEach(() => broker.closeClients());

for (const transports of [["websocket"], ["polling"]]) {
  describe(`msgpack clients [${transports}]`, () => {
    const client = async (events = ["pic"]) => {
      const socket = await broker.connect("/", { parser: msgpackParser, transports });
      return { socket, inbox: record(socket, [...events, "barrier"]) };
    };

    it("join and publish with binary arguments: the other members get them as Buffers", async () => {
      const [a, b, c] = [await client(), await client(), await client()];
      assert.deepEqual(await ask(a.socket, "join", "gallery"), { ok: true, rooms: ["gallery"] });
      assert.deepEqual(await ask(b.socket, "join", ["gallery", "other"]), { ok: true, rooms: ["gallery", "other"] });
      const args = ["caption", Buffer.from([0, 1, 2, 255]), { thumb: Buffer.alloc(300, 9), n: 1.5 }];
      assert.deepEqual(await ask(a.socket, "publish", "gallery", "pic", ...args), { ok: true });
      await barrier(broker, [a.inbox, b.inbox, c.inbox]);
      assert.deepEqual(b.inbox.of("pic"), [args]);
      assert.ok(Buffer.isBuffer(b.inbox.of("pic")[0][1]));
      assert.deepEqual(a.inbox.of("pic"), [], "the publisher does not get its own publish");
      assert.deepEqual(c.inbox.of("pic"), [], "a socket outside the room gets nothing");
    });

    it("refusals and unknown events answer as with the default parser", async () => {
      const { socket } = await client();
      const refused = await ask(socket, "publish", ["not-joined"], "pic", Buffer.from([1]));
      assert.equal(refused.ok, false, JSON.stringify(refused));
      assert.match(refused.error, /not-joined/);
      assert.deepEqual(await ask(socket, "nope", Buffer.from([1])), { ok: false, error: "unknown event" });
    });
  });
}

it("a client with the default parser is dropped with transport close", async () => {
  const { io } = await import("socket.io-client");
  const socket = io(broker.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  try {
    socket.on("connect", () => assert.fail("connected with the default parser"));
    const [reason] = await once(socket, "disconnect");
    assert.equal(reason, "transport close");
  } finally {
    socket.disconnect();
  }
});

it("ROOMCAST_ENGINE_PARSER=msgpack selects the parser", async () => {
  const other = await startBroker({}, { env: { ROOMCAST_ENGINE_PARSER: "msgpack" } });
  try {
    const socket = await other.connect("/", { parser: msgpackParser });
    assert.deepEqual(await ask(socket, "join", "r"), { ok: true, rooms: ["r"] });
    other.closeClients();
  } finally {
    assert.deepEqual(await other.stop(), { code: 0, signal: null });
  }
});
