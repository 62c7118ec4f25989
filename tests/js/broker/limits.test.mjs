// Broker limits and bad input (issue 3, sections 1 and "Done when"): max_connections answers further
// handshakes with HTTP 503 (counted in the metrics) while the others keep working, an oversized message
// costs only its sender the connection, and an invalid configuration stops the binary with one line on
// stderr naming the key.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { startBroker, runBroker, ask, record, barrier, metric } from "./lib/broker.mjs";
import { once, waitFor } from "../lib/server.mjs";

async function withBroker(config, fn) {
  const broker = await startBroker(config);
  try {
    await fn(broker);
  } finally {
    assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
  }
}

/** Opens a raw WebSocket handshake; resolves "open" or the HTTP status of the refusal. */
function rawWebSocket(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket");
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error("raw websocket handshake: no answer within 5 s"));
    }, 5000);
    ws.once("open", () => {
      clearTimeout(timer);
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode);
      ws.terminate();
    });
    ws.once("error", () => {});
  });
}

describe("max_connections", () => {
  it("= 2: a third handshake (polling or websocket) gets HTTP 503, the two connected clients keep working", async () => {
    await withBroker({ limits: { max_connections: 2 } }, async (broker) => {
      const a = await broker.connect("/", { transports: ["websocket"] });
      const b = await broker.connect("/", { transports: ["polling"] });
      const inboxB = record(b, ["msg"]);

      const polling = await fetch(`${broker.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(5000) });
      assert.equal(polling.status, 503);
      await polling.text();
      assert.equal(await rawWebSocket(broker.url), 503);
      const err = await broker.connectError("/", { transports: ["polling"] });
      assert.ok(err instanceof Error, "socket.io-client reports a connect_error");

      // the two existing clients are unaffected
      await ask(a, "join", "cap");
      await ask(b, "join", "cap");
      assert.deepEqual(await ask(a, "publish", "cap", "msg", "still served"), { ok: true });
      assert.deepEqual((await inboxB.wait((i) => i.event === "msg")).args, ["still served"]);
      assert.equal((await broker.ok("/api/v1/stats")).connections, 2);
      const m = await broker.metrics();
      assert.ok(metric(m.values, "roomcast_refused_connections_total") >= 3, "refusals are counted");

      // once one leaves, a new client is accepted (the server processes the close asynchronously)
      const gone = once(a, "disconnect");
      a.disconnect();
      await gone;
      await waitFor(async () => (await broker.ok("/api/v1/stats")).connections === 1, { what: "the connection count to drop" });
      const c = await broker.connect("/", { transports: ["websocket"] });
      assert.ok(c.connected);
    });
  });
});

describe("closed connections", () => {
  it("a polling session its client closed (close packet POSTed, no GET parked) stops counting: stats and max_connections", async () => {
    await withBroker({ limits: { max_connections: 1 } }, async (broker) => {
      const base = `${broker.url}/socket.io/?EIO=4&transport=polling`;
      const open = await fetch(base, { signal: AbortSignal.timeout(5000) });
      assert.equal(open.status, 200);
      const sid = JSON.parse((await open.text()).slice(1)).sid;
      const close = await fetch(`${base}&sid=${sid}`, { method: "POST", body: "1", signal: AbortSignal.timeout(5000) });
      assert.equal(close.status, 200);
      await close.text();
      await broker.waitForLog(new RegExp(`connection closed sid=${sid} reason=transport close`));
      // the server has logged the close: the connection must not count any more (bounded poll)
      await waitFor(async () => (await broker.ok("/api/v1/stats")).connections === 0, {
        timeout: 3000,
        what: `stats.connections to drop to 0 after the client closed ${sid}`,
      });
      const next = await fetch(base, { signal: AbortSignal.timeout(5000) });
      assert.equal(next.status, 200, `a new handshake at max_connections = 1 after the only client left: ${await next.text()}`);
    });
  });
});

describe("oversized messages", () => {
  for (const transport of ["websocket", "polling"]) {
    it(`a ${transport} client sending more than max_payload_bytes loses its connection; everyone else keeps being served`, async () => {
      await withBroker({ engine: { max_payload_bytes: 1024 } }, async (broker) => {
        const big = await broker.connect("/", { transports: [transport] });
        const peer = await broker.connect("/", { transports: ["websocket"] });
        const inbox = record(peer, ["msg", "barrier"]);
        await ask(big, "join", "ov");
        await ask(peer, "join", "ov");
        // under the limit: delivered
        assert.deepEqual(await ask(big, "publish", "ov", "msg", "x".repeat(500)), { ok: true });
        await inbox.wait((i) => i.event === "msg");
        const gone = once(big, "disconnect");
        big.emit("publish", "ov", "msg", "y".repeat(5000));
        const [reason] = await gone;
        assert.match(reason, /^transport (close|error)$/);
        await barrier(broker, [inbox]);
        assert.deepEqual(inbox.of("msg").map((a) => a[0].length), [500], "the oversized publish was not delivered");
        assert.ok(peer.connected);
        const late = await broker.connect();
        assert.deepEqual(await ask(late, "join", "ov"), { ok: true, rooms: ["ov"] });
      });
    });
  }
});

describe("invalid configuration", () => {
  it("the binary exits non-zero with one line on stderr naming the key (file and environment override)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "roomcast-badcfg-"));
    try {
      const file = path.join(dir, "config.toml");
      writeFileSync(file, '[server]\nbind = "127.0.0.1:0"\n\n[[namespaces]]\nname = "/"\nclient_publish = "everyone"\n');
      const bad = await runBroker(["--config", file]);
      assert.notEqual(bad.code, 0);
      const lines = bad.stderr.split("\n").filter((l) => l.trim());
      assert.equal(lines.length, 1, `one stderr line, got ${JSON.stringify(bad.stderr)}`);
      assert.match(lines[0], /client_publish/);

      writeFileSync(file, '[server]\nbind = "127.0.0.1:0"\n[admin]\nbind = "127.0.0.1:0"\n');
      const env = await runBroker(["--config", file], { env: { ROOMCAST_LIMITS_MAX_CONNECTIONS: "lots" } });
      assert.notEqual(env.code, 0);
      const envLines = env.stderr.split("\n").filter((l) => l.trim());
      assert.equal(envLines.length, 1, `one stderr line, got ${JSON.stringify(env.stderr)}`);
      assert.match(envLines[0], /ROOMCAST_LIMITS_MAX_CONNECTIONS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("room limits", () => {
  it("admin sockets/join keeps max_rooms_per_socket: a socket at its limit is not affected and joins nothing", async () => {
    await withBroker({ limits: { max_rooms_per_socket: 2 } }, async (broker) => {
      const full = await broker.connect();
      const roomy = await broker.connect();
      assert.deepEqual(await ask(full, "join", ["a", "b"]), { ok: true, rooms: ["a", "b"] });
      const r = await broker.ok("/api/v1/sockets/join", { sockets: [full.id, roomy.id], add: ["c"] });
      assert.deepEqual(r, { ok: true, affected: 1 });
      const rooms = async (s) => (await broker.ok(`/api/v1/sockets/${s.id}`)).rooms.sort();
      assert.deepEqual(await rooms(full), ["a", "b"]);
      assert.deepEqual(await rooms(roomy), ["c"]);
    });
  });

  it("max_memberships bounds memberships over all sockets: a join past it is refused, a leave or a disconnect frees room", async () => {
    await withBroker({ limits: { max_memberships: 3 } }, async (broker) => {
      const a = await broker.connect();
      const b = await broker.connect();
      assert.deepEqual(await ask(a, "join", ["r1", "r2"]), { ok: true, rooms: ["r1", "r2"] });
      assert.deepEqual(await ask(b, "join", "r1"), { ok: true, rooms: ["r1"] });
      const refused = await ask(b, "join", "r2");
      assert.equal(refused.ok, false);
      assert.match(refused.error, /server room limit reached \(at most 3 memberships\)/);
      // the admin API is bound by the same budget
      assert.deepEqual(await broker.ok("/api/v1/sockets/join", { sockets: [b.id], add: ["r3"] }), { ok: true, affected: 0 });
      const gauge = async () => metric((await broker.metrics()).values, "roomcast_memberships");
      assert.equal(await gauge(), 3);
      assert.deepEqual(await ask(a, "leave", "r2"), { ok: true, rooms: ["r1"] });
      assert.deepEqual(await ask(b, "join", "r2"), { ok: true, rooms: ["r1", "r2"] });
      a.disconnect();
      await waitFor(async () => (await gauge()) === 2, { what: "a's membership released" });
      assert.deepEqual(await ask(b, "join", "r3"), { ok: true, rooms: ["r1", "r2", "r3"] });
    });
  });
});

describe("the open-files limit", () => {
  it("under a limit of 200 open files the broker lowers max_connections and answers 503 past it, never 'Too many open files'", { timeout: 60000 }, async () => {
    const broker = await startBroker({}, { openFiles: 200 });
    const sockets = [];
    try {
      assert.match(broker.logs, /max_connections lowered to what the open-files limit allows/);
      const budget = Number(/max_connections=(\d+)/.exec(broker.logs)?.[1]);
      assert.ok(budget > 100 && budget < 200, `budget ${budget}`);
      const outcomes = [];
      for (let i = 0; i < 200; i++) {
        const ws = new WebSocket(broker.url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket");
        ws.on("error", () => {});
        sockets.push(ws);
        outcomes.push(
          await new Promise((resolve) => {
            const timer = setTimeout(() => resolve("timeout"), 5000);
            ws.once("message", () => (clearTimeout(timer), resolve("open")));
            ws.once("unexpected-response", (_req, res) => {
              clearTimeout(timer);
              res.resume();
              resolve(res.statusCode);
            });
          }),
        );
      }
      const count = (v) => outcomes.filter((o) => o === v).length;
      assert.equal(count("open"), budget, JSON.stringify(outcomes));
      assert.equal(count(503), 200 - budget);
      assert.doesNotMatch(broker.logs, /Too many open files/);
      // the connected clients are still served
      const s = await broker.connect("/", { transports: ["polling"] }).catch((e) => e);
      assert.ok(s instanceof Error, "a new session is refused while the budget is used");
    } finally {
      for (const ws of sockets) ws.terminate();
      broker.closeClients();
      assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
    }
  });
});
