// Graceful drain on SIGTERM (issue 3, section 5): /ready turns 503, no new connections, every connection
// is closed at the transport level without a Socket.IO DISCONNECT (clients see "transport close", the
// server logs "server shutting down"), and the process exits 0 within shutdown_timeout_ms.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startBroker, ask } from "./lib/broker.mjs";
import { once } from "../lib/server.mjs";

const SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * Right after the signal: polls /ready over the already-open keep-alive connection of the admin client
 * (bounded) and returns the first answer that is not 200. A refused connection before any 503 fails.
 */
async function readyAfterSignal(broker) {
  const t0 = Date.now();
  const deadline = t0 + 2000;
  const seen = [];
  for (;;) {
    let res;
    try {
      res = await broker.api("/ready", { token: null });
    } catch (err) {
      throw new Error(
        `/ready failed before it answered 503 (${err.cause?.code ?? err.message} after ${Date.now() - t0} ms; ` +
          `answers before: ${JSON.stringify(seen)}): the admin listener went away first`,
      );
    }
    seen.push([Date.now() - t0, res.status]);
    if (res.status !== 200) return res;
    assert.deepEqual(res.body, { status: "ready" });
    if (Date.now() > deadline) throw new Error("/ready still 200 two seconds after SIGTERM");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Waits for the broker to exit; resolves { code, signal, elapsed } (elapsed since `t0`). */
async function exitOf(broker, t0, bound) {
  const timer = setTimeout(() => {
    broker.signal("SIGKILL");
  }, bound);
  const r = await broker.exited;
  clearTimeout(timer);
  return { ...r, elapsed: Date.now() - t0 };
}

/** A raw Engine.IO polling session on its own keep-alive connection (opened before the signal). */
async function rawPollingSession(broker) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (method, query, body) =>
    new Promise((resolve) => {
      const req = http.request(
        { host: "127.0.0.1", port: broker.port, path: `/socket.io/?EIO=4&transport=polling${query}`, method, agent },
        (res) => {
          let data = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (data += c));
          res.on("end", () => resolve({ status: res.statusCode, body: data }));
        },
      );
      req.setTimeout(5000, () => req.destroy(new Error("no answer within 5 s")));
      req.on("error", (err) => resolve({ error: err.code ?? err.message }));
      if (body) req.write(body);
      req.end();
    });
  const open = await request("GET", "");
  assert.equal(open.status, 200, JSON.stringify(open));
  const sid = JSON.parse(open.body.slice(1)).sid;
  assert.deepEqual(await request("POST", `&sid=${sid}`, "40"), { status: 200, body: "ok" });
  const connected = await request("GET", `&sid=${sid}`);
  const m = /^40\{"sid":"([^"]+)"\}$/.exec(connected.body);
  assert.ok(m, `CONNECT answer: ${connected.body}`);
  const poll = () => request("GET", `&sid=${sid}`);
  return {
    sid,
    socketId: m[1],
    poll,
    /** GETs (at most 3) until the close packet; every packet received, in order. */
    async pollUntilClosed() {
      const packets = [];
      for (let i = 0; i < 3 && packets.at(-1) !== "1"; i++) {
        const res = await poll();
        assert.equal(res.status, 200, `GET ${i + 1} after SIGTERM: ${JSON.stringify(res)}; packets so far ${JSON.stringify(packets)}`);
        packets.push(...res.body.split("\x1e"));
      }
      assert.equal(packets.at(-1), "1", `the Engine.IO close packet arrives: ${JSON.stringify(packets)}`);
      assert.ok(!packets.some((p) => p.startsWith("41")), `no Socket.IO DISCONNECT packet: ${JSON.stringify(packets)}`);
      return packets;
    },
    close: () => agent.destroy(),
  };
}

describe("graceful drain", () => {
  it('SIGTERM: /ready 503 draining, queued packets flushed, clients see "transport close", no new connections, exit 0 in time', async () => {
    const broker = await startBroker({ server: { shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS } });
    // A polling client that has not fetched its messages yet (no GET parked): the drain must wait for it
    // to take them, which also keeps /ready observable.
    const raw = await rawPollingSession(broker);
    try {
      const ws = await broker.connect("/", { transports: ["websocket"] });
      const polling = await broker.connect("/", { transports: ["polling"] });
      const engines = [ws.io.engine.id, polling.io.engine.id, raw.sid];
      const gone = [once(ws, "disconnect", 5000), once(polling, "disconnect", 5000)];
      await ask(ws, "join", "drain");
      await ask(polling, "join", "drain");
      assert.deepEqual(await broker.ok("/api/v1/emit", { event: "queued", args: [1], rooms: [raw.socketId] }), {
        ok: true,
        recipients: 1,
      });
      // the polling client re-issues its GET right after its answer; one admin round trip later it is
      // parked on the server. This /ready also opens the keep-alive connection polled after the signal.
      assert.equal((await broker.api("/ready", { token: null })).status, 200);

      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      const ready = await readyAfterSignal(broker);
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.body, { status: "draining" });

      const [[wsReason], [pollingReason]] = await Promise.all(gone);
      assert.equal(wsReason, "transport close", "websocket client: closed at the transport level, no DISCONNECT packet");
      assert.equal(pollingReason, "transport close", "polling client: closed at the transport level, no DISCONNECT packet");

      // no new connection is accepted any more, and the refusal says why (not "at capacity")
      const late = await fetch(`${broker.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(1000) });
      assert.equal(late.status, 503, "a handshake after SIGTERM must not open a session");
      assert.deepEqual(await late.json(), { code: 503, message: "Server is draining" });

      // the slow polling client gets what was queued, then the Engine.IO close packet, no DISCONNECT
      const packets = await raw.pollUntilClosed();
      assert.deepEqual(packets, ['42["queued",1]', "1"]);

      const exit = await exitOf(broker, t0, SHUTDOWN_TIMEOUT_MS + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null], broker.logs.slice(-3000));
      assert.ok(exit.elapsed < SHUTDOWN_TIMEOUT_MS, `exited after ${exit.elapsed} ms (shutdown_timeout_ms ${SHUTDOWN_TIMEOUT_MS})`);
      for (const sid of engines) {
        assert.match(broker.logs, new RegExp(`connection closed sid=${sid} reason=server shutting down`));
      }
    } finally {
      raw.close();
      await broker.stop();
    }
  });

  it('a polling client between two polls at SIGTERM still sees "transport close" (its close packet waits for its next GET)', async () => {
    const broker = await startBroker({ server: { shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS } });
    try {
      const polling = await broker.connect("/", { transports: ["polling"] });
      const gone = once(polling, "disconnect", SHUTDOWN_TIMEOUT_MS + 2000);
      // the signal is sent while the client handles the acknowledgement: its next GET is not yet sent
      const signalled = new Promise((resolve) => {
        polling.emit("join", "between", () => {
          process.kill(broker.pid, "SIGTERM");
          resolve();
        });
      });
      await signalled;
      const [reason, details] = await gone;
      assert.equal(reason, "transport close", `got "${reason}" (${details?.message ?? details?.description ?? ""})`);
      const exit = await exitOf(broker, Date.now(), SHUTDOWN_TIMEOUT_MS + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null]);
    } finally {
      await broker.stop();
    }
  });

  it("a polling session with no GET parked and nothing queued at SIGTERM gets the close packet on its next GET", async () => {
    const broker = await startBroker({ server: { shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS } });
    const raw = await rawPollingSession(broker);
    try {
      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      // the server has closed the session (its log line) before the client polls again
      await broker.waitForLog(new RegExp(`connection closed sid=${raw.sid} reason=server shutting down`));
      // the GET goes over the connection accepted before the listener paused
      assert.deepEqual(await raw.pollUntilClosed(), ["1"]);
      const exit = await exitOf(broker, t0, SHUTDOWN_TIMEOUT_MS + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null]);
      assert.ok(exit.elapsed < SHUTDOWN_TIMEOUT_MS, `exited after ${exit.elapsed} ms`);
    } finally {
      raw.close();
      await broker.stop();
    }
  });

  it("connections their clients already closed do not hold the drain", async () => {
    const broker = await startBroker({ server: { shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS } });
    try {
      const base = `${broker.url}/socket.io/?EIO=4&transport=polling`;
      const open = await fetch(base, { signal: AbortSignal.timeout(5000) });
      const sid = JSON.parse((await open.text()).slice(1)).sid;
      const close = await fetch(`${base}&sid=${sid}`, { method: "POST", body: "1", signal: AbortSignal.timeout(5000) });
      assert.equal(close.status, 200);
      await close.text();
      await broker.waitForLog(new RegExp(`connection closed sid=${sid} reason=transport close`));
      const ws = await broker.connect("/", { transports: ["websocket"] });
      const gone = once(ws, "disconnect", 5000);
      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      assert.equal((await gone)[0], "transport close");
      const exit = await exitOf(broker, t0, SHUTDOWN_TIMEOUT_MS + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null]);
      assert.ok(
        exit.elapsed < SHUTDOWN_TIMEOUT_MS / 2,
        `exited after ${exit.elapsed} ms although no client was connected once the websocket closed (shutdown_timeout_ms ${SHUTDOWN_TIMEOUT_MS})`,
      );
    } finally {
      await broker.stop();
    }
  });

  it("a polling session that never polls again does not hold the exit past shutdown_timeout_ms", async () => {
    const TIMEOUT = 1500;
    const broker = await startBroker({ server: { shutdown_timeout_ms: TIMEOUT } });
    const raw = await rawPollingSession(broker);
    try {
      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      const exit = await exitOf(broker, t0, TIMEOUT + 10000);
      assert.deepEqual([exit.code, exit.signal], [0, null], broker.logs.slice(-3000));
      assert.ok(exit.elapsed < TIMEOUT + 1500, `exited after ${exit.elapsed} ms (shutdown_timeout_ms ${TIMEOUT})`);
    } finally {
      raw.close();
      await broker.stop();
    }
  });
  it("a polling client that is gone holds the drain no longer than ping_timeout_ms; a live one still gets its close", async () => {
    const [TIMEOUT, PING_TIMEOUT] = [8000, 1000];
    const broker = await startBroker({
      server: { shutdown_timeout_ms: TIMEOUT },
      engine: { ping_interval_ms: 20000, ping_timeout_ms: PING_TIMEOUT },
    });
    // one client stops polling (its process went away without a word), one polls on
    const raw = await rawPollingSession(broker);
    const live = await broker.connect("/", { transports: ["polling"] });
    const liveGone = once(live, "disconnect", TIMEOUT);
    try {
      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      assert.equal((await liveGone)[0], "transport close", "the live client fetched its close packet");
      const exit = await exitOf(broker, t0, TIMEOUT + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null], broker.logs.slice(-3000));
      assert.ok(exit.elapsed < PING_TIMEOUT + 1500, `exited after ${exit.elapsed} ms (ping_timeout_ms ${PING_TIMEOUT}, shutdown_timeout_ms ${TIMEOUT})`);
      assert.doesNotMatch(broker.logs, /shutdown timeout: closing the remaining connections/);
    } finally {
      raw.close();
      await broker.stop();
    }
  });
});

describe("graceful drain flushes every queued packet", () => {
  it("a WebSocket client with packets still queued at SIGTERM (write_delay_ms = 500) receives all of them, in order, then the close", async () => {
    const COUNT = 200;
    const broker = await startBroker({
      server: { shutdown_timeout_ms: SHUTDOWN_TIMEOUT_MS },
      engine: { write_delay_ms: 500 },
    });
    try {
      const sub = await broker.connect("/", { transports: ["websocket"] });
      await ask(sub, "join", "q");
      const got = [];
      sub.on("n", (i) => got.push(i));
      const gone = once(sub, "disconnect", SHUTDOWN_TIMEOUT_MS + 2000);
      // a write just happened (the join's ack), so what follows waits for the 500 ms window
      for (let i = 0; i < COUNT; i++) {
        const r = await broker.ok("/api/v1/emit", { event: "n", args: [i], rooms: ["q"] });
        assert.equal(r.recipients, 1);
      }
      assert.ok(got.length < COUNT, `the packets are still queued at the signal (got ${got.length})`);
      const t0 = Date.now();
      process.kill(broker.pid, "SIGTERM");
      const [reason] = await gone;
      assert.equal(reason, "transport close");
      assert.deepEqual(got, Array.from({ length: COUNT }, (_, i) => i), `received ${got.length} of ${COUNT}`);
      const exit = await exitOf(broker, t0, SHUTDOWN_TIMEOUT_MS + 5000);
      assert.deepEqual([exit.code, exit.signal], [0, null]);
    } finally {
      await broker.stop();
    }
  });
});
