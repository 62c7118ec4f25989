// Heartbeat (Engine.IO v4: the server pings, the client pongs) with --ping-interval 200 --ping-timeout 300.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import {
  startServer,
  connect,
  emitWithAck,
  lastDisconnect,
  once,
  closeAll,
  TRANSPORT_MODES,
} from "../lib/server.mjs";

const PING_INTERVAL = 200;
const PING_TIMEOUT = 300;

let server;
before(async () => {
  server = await startServer({ pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT });
});
after(async () => {
  await server?.stop();
});

for (const mode of TRANSPORT_MODES) {
  describe(`heartbeat [${mode.name}]`, () => {
    it("the handshake announces the configured ping interval and timeout", async () => {
      const s = await connect(server.url, { ...mode.options }, { upgrade: mode.upgrade });
      try {
        assert.equal(s.io.engine._pingInterval, PING_INTERVAL);
        assert.equal(s.io.engine._pingTimeout, PING_TIMEOUT);
      } finally {
        closeAll(s);
      }
    });

    it("a client answering pings stays connected across several ping cycles", async () => {
      const s = await connect(server.url, { ...mode.options }, { upgrade: mode.upgrade });
      try {
        const id = s.id;
        const engineId = s.io.engine.id;
        const disconnects = [];
        s.on("disconnect", (reason) => disconnects.push(reason));
        const PINGS = 6; // 6 * 200 ms = 1.2 s, well beyond ping interval + ping timeout (500 ms)
        let pings = 0;
        const started = Date.now();
        await new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`only ${pings} pings within 5000 ms (disconnects: ${disconnects})`)),
            5000,
          );
          s.io.engine.on("ping", () => {
            pings++;
            if (pings === PINGS) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        const elapsed = Date.now() - started;
        // pings are paced by the interval, not sent in a burst
        assert.ok(elapsed >= (PINGS - 1) * PING_INTERVAL * 0.8, `${PINGS} pings in ${elapsed} ms`);
        assert.deepEqual(disconnects, []);
        assert.equal(s.connected, true);
        assert.equal(s.id, id);
        assert.equal(s.io.engine.id, engineId);
        const me = await emitWithAck(s, "whoami");
        assert.equal(me.id, id);
        assert.equal(me.transport, mode.transport);
      } finally {
        closeAll(s);
      }
    });
  });
}

describe("heartbeat: pong never arrives", () => {
  let observer;
  before(async () => {
    observer = await connect(server.url, {});
  });
  after(() => closeAll(observer));

  it('a raw WebSocket client that never answers "2" is disconnected with server reason "ping timeout"', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    try {
      const frames = [];
      let onFrame = () => {};
      ws.on("message", (data, isBinary) => {
        frames.push(isBinary ? data : data.toString());
        onFrame();
      });
      const nextFrame = (pred, what) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const f = frames.find(pred);
            if (f !== undefined) {
              clearTimeout(timer);
              onFrame = () => {};
              resolve(f);
            }
          };
          const timer = setTimeout(() => reject(new Error(`no ${what} frame; got ${JSON.stringify(frames)}`)), 5000);
          onFrame = check;
          check();
        });
      const closed = once(ws, "close", 5000);
      const open = await nextFrame((f) => typeof f === "string" && f.startsWith("0"), "open");
      const handshake = JSON.parse(open.slice(1));
      assert.equal(handshake.pingInterval, PING_INTERVAL);
      assert.equal(handshake.pingTimeout, PING_TIMEOUT);
      assert.deepEqual(handshake.upgrades, []);
      ws.send("40");
      const connected = await nextFrame((f) => typeof f === "string" && f.startsWith("40"), "CONNECT");
      const sid = JSON.parse(connected.slice(2)).sid;
      assert.equal(typeof sid, "string");
      const connectedAt = Date.now();
      // never answer the pings; the server must close the connection
      await closed;
      const elapsed = Date.now() - connectedAt;
      assert.ok(frames.includes("2"), `the server sent no ping before closing: ${JSON.stringify(frames)}`);
      assert.ok(elapsed >= (PING_INTERVAL + PING_TIMEOUT) * 0.8, `closed after only ${elapsed} ms`);
      assert.deepEqual(await lastDisconnect(observer, sid), { reason: "ping timeout", rooms: [] });
    } finally {
      ws.terminate();
    }
  });

  it('a raw polling client that stops polling is disconnected with server reason "ping timeout"', async () => {
    const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
    const res = await fetch(base, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200);
    const open = await res.text();
    assert.ok(open.startsWith("0"), open);
    const engineSid = JSON.parse(open.slice(1)).sid;
    const url = `${base}&sid=${encodeURIComponent(engineSid)}`;
    const post = await fetch(url, { method: "POST", body: "40", signal: AbortSignal.timeout(5000) });
    assert.equal(post.status, 200);
    assert.equal(await post.text(), "ok");
    const get = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = await get.text();
    const connectPacket = body.split("\x1e").find((p) => p.startsWith("40"));
    assert.ok(connectPacket, body);
    const sid = JSON.parse(connectPacket.slice(2)).sid;
    // no more GETs, so the ping is never even read, let alone answered
    assert.deepEqual(await lastDisconnect(observer, sid), { reason: "ping timeout", rooms: [] });
    // the session is gone
    const after = await fetch(url, { signal: AbortSignal.timeout(5000) });
    assert.equal(after.status, 400);
    assert.deepEqual(await after.json(), { code: 1, message: "Session ID unknown" });
  });
});
