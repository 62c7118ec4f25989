// The broker's admin HTTP API (issue 3, section 4) with fetch, against sockets of real socket.io-client
// clients: health/readiness, Prometheus metrics, the OpenAPI document, bearer-token auth, stats, room and
// socket listings, emit (with and without acknowledgements) and bulk join / leave / disconnect, and the
// error body of every failure.
//
// Tests that assert exact counts start their own broker, so nothing left over from another test (a
// connection the server is still closing) can change the numbers.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startBroker, runBroker, ask, record, barrier, sorted, metric, ADMIN_TOKEN } from "./lib/broker.mjs";
import { settleConnect, waitFor, once } from "../lib/server.mjs";

const NAMESPACES = [{ name: "/" }, { name: "/other" }];

/** Runs `fn(broker)` against a fresh broker, always stopping it (and checking it exits 0). */
async function withBroker(fn, config = {}, opts = {}) {
  const broker = await startBroker({ namespaces: NAMESPACES, ...config }, opts);
  try {
    await fn(broker);
  } finally {
    const r = await broker.stop();
    assert.deepEqual(r, { code: 0, signal: null }, `broker exit\n${broker.logs.slice(-3000)}`);
  }
}

function assertError(res, status, code) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(Object.keys(res.body ?? {}), ["error"], res.text);
  assert.deepEqual(Object.keys(res.body.error).sort(), ["code", "message"]);
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.message.length > 0);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const API_ROUTES = [
  ["GET", "/api/v1/stats"],
  ["GET", "/api/v1/rooms"],
  ["GET", "/api/v1/sockets"],
  ["GET", "/api/v1/sockets/AAAAAAAAAAAAAAAAAAAA"],
  ["POST", "/api/v1/emit", { event: "e" }],
  ["POST", "/api/v1/sockets/join", { add: ["r"] }],
  ["POST", "/api/v1/sockets/leave", { remove: ["r"] }],
  ["POST", "/api/v1/sockets/disconnect", {}],
];

describe("admin API: public endpoints and auth", () => {
  let broker;
  before(async () => {
    // the token comes from the ROOMCAST_ADMIN_TOKEN override, not from the file
    broker = await startBroker({ namespaces: NAMESPACES, admin: { token: "" } }, {
      env: { ROOMCAST_ADMIN_TOKEN: ADMIN_TOKEN },
      token: ADMIN_TOKEN,
    });
  });
  after(async () => {
    assert.deepEqual(await broker?.stop(), { code: 0, signal: null });
  });
  afterEach(() => broker.closeClients());

  it('GET /health -> 200 {"status":"ok"} and GET /ready -> 200 {"status":"ready"}, no token needed', async () => {
    const health = await broker.api("/health", { token: null });
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: "ok" });
    const ready = await broker.api("/ready", { token: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ready" });
  });

  it("GET /api/v1/openapi.json is an OpenAPI 3 JSON document of the API, no token needed", async () => {
    const res = await broker.api("/api/v1/openapi.json", { token: null });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /json/);
    assert.ok(res.body, "valid JSON");
    assert.match(res.body.openapi, /^3\.\d+\.\d+$/);
    assert.equal(typeof res.body.info?.title, "string");
    for (const [, route] of API_ROUTES) {
      const templated = route.replace("AAAAAAAAAAAAAAAAAAAA", "{id}");
      assert.ok(res.body.paths[templated], `documents ${templated}`);
    }
    for (const route of ["/health", "/ready", "/metrics"]) assert.ok(res.body.paths[route], `documents ${route}`);
  });

  it("GET /metrics is Prometheus text with connections by transport, sockets, rooms, deliveries and disconnects by reason", async () => {
    const ws = await broker.connect("/", { transports: ["websocket"] });
    const polling = await broker.connect("/", { transports: ["polling"] });
    const inbox = record(polling, ["msg", "barrier"]);
    await ask(ws, "join", "m-room");
    await ask(polling, "join", "m-room");
    const before = await broker.metrics();
    assert.equal(before.status, 200);
    assert.match(before.contentType, /^text\/plain/);
    assert.match(before.text, /^# TYPE roomcast_deliveries_total counter$/m);
    assert.equal(metric(before.values, "roomcast_connections", { transport: "websocket" }), 1);
    assert.equal(metric(before.values, "roomcast_connections", { transport: "polling" }), 1);
    assert.equal(metric(before.values, "roomcast_sockets", { namespace: "/" }), 2);
    assert.equal(metric(before.values, "roomcast_sockets", { namespace: "/other" }), 0);
    assert.equal(metric(before.values, "roomcast_rooms", { namespace: "/" }), 1);
    assert.ok(metric(before.values, "roomcast_packets_in_total") > 0);
    assert.ok(metric(before.values, "roomcast_packets_out_total") > 0);

    assert.deepEqual(await ask(ws, "publish", "m-room", "msg", 1), { ok: true });
    await inbox.wait((i) => i.event === "msg");
    const afterPublish = await broker.metrics();
    const d = (name) => metric(afterPublish.values, name) - (metric(before.values, name) ?? 0);
    assert.equal(d("roomcast_deliveries_total"), 1, "one recipient");
    assert.equal(d("roomcast_broadcasts_total"), 1);
    assert.ok(metric(afterPublish.values, "roomcast_admin_requests_total", { route: "/metrics" }) >= 1);

    // a client leaving is counted by reason (the server processes it on its side: bounded poll)
    // (earlier tests on this broker may have counted some already: wait for one more)
    const reason = { reason: "client namespace disconnect" };
    const leftBefore = metric(afterPublish.values, "roomcast_disconnects_total", reason) ?? 0;
    ws.disconnect();
    // (a scrape is not an atomic snapshot: wait until both show the departure)
    const disc = await waitFor(async () => {
      const m = await broker.metrics();
      const counted = metric(m.values, "roomcast_disconnects_total", reason) >= leftBefore + 1;
      return counted && metric(m.values, "roomcast_sockets", { namespace: "/" }) === 1 && m;
    }, { what: 'one more roomcast_disconnects_total{reason="client namespace disconnect"} and roomcast_sockets 1' });
    assert.match(disc.text, /^# TYPE roomcast_disconnects_total counter$/m);
    await barrier(broker, [inbox]);
  });

  for (const [method, route, body] of API_ROUTES) {
    it(`${method} ${route}: no token or a wrong token -> 401 unauthorized; the right one passes`, async () => {
      for (const token of [null, "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN.slice(0, -1), ""]) {
        const res = await broker.api(route, { method, body, token });
        assertError(res, 401, "unauthorized");
      }
      const basic = await broker.api(route, { method, body, token: null, headers: { authorization: `Basic ${ADMIN_TOKEN}` } });
      assertError(basic, 401, "unauthorized");
      const ok = await broker.api(route, { method, body });
      assert.notEqual(ok.status, 401, ok.text);
      assert.notEqual(ok.status, 403, ok.text);
    });
  }

  it("an unknown route is 404 not_found with the error body", async () => {
    assertError(await broker.api("/api/v1/nope"), 404, "not_found");
  });

  it("a body over 1 MiB is 413 payload_too_large with the error body, and the API keeps serving", async () => {
    const big = JSON.stringify({ event: "e", args: ["x".repeat(1 << 20)] });
    for (const route of ["/api/v1/emit", "/api/v1/sockets/join"]) {
      assertError(await broker.api(route, { rawBody: big }), 413, "payload_too_large");
    }
    assert.equal((await broker.api("/api/v1/stats")).status, 200);
  });

  it("the token is checked before anything else: wrong body shape, malformed JSON, bad query, wrong method or unknown route without it -> 401", async () => {
    const probes = [];
    for (const [method, route] of API_ROUTES) {
      probes.push({ method, route, body: { unexpected: [1, 2], namespace: 7 } });
      probes.push({ method, route, rawBody: "{not json" });
      probes.push({ method: method === "GET" ? "POST" : "GET", route });
      probes.push({ method: "DELETE", route });
      probes.push({ method, route: `${route}?limit=abc&zzz=1` });
    }
    probes.push({ method: "GET", route: "/api/v1/nope" });
    probes.push({ method: "PUT", route: "/api/v1/sockets/join/extra", rawBody: "x" });
    for (const { method, route, body, rawBody } of probes) {
      // (fetch sends no body with GET)
      const sent = method === "GET" ? {} : { body, rawBody };
      for (const token of [null, "wrong-token"]) {
        const res = await broker.api(route, { method, ...sent, token });
        assert.equal(res.status, 401, `${method} ${route} ${JSON.stringify(body ?? rawBody ?? "")} token ${token}: ${res.text}`);
        assertError(res, 401, "unauthorized");
      }
    }
  });

  it("a known route asked with a method it does not serve -> 405 method_not_allowed with Allow", async () => {
    for (const [method, route] of API_ROUTES) {
      const wrong = method === "GET" ? "POST" : "GET";
      const res = await broker.api(route, { method: wrong, ...(wrong === "POST" ? { body: {} } : {}) });
      assertError(res, 405, "method_not_allowed");
      assert.equal(res.headers.get("allow"), method, route);
    }
    for (const route of ["/health", "/ready", "/metrics", "/api/v1/openapi.json"]) {
      const res = await broker.api(route, { method: "POST", body: {}, token: null });
      assertError(res, 405, "method_not_allowed");
      assert.equal(res.headers.get("allow"), "GET", route);
    }
  });

  it("/metrics counts every admin route under its own pattern, and every metric family has # HELP", async () => {
    const calls = [
      ["POST", "/api/v1/sockets/join", { add: ["r"] }],
      ["POST", "/api/v1/sockets/leave", { remove: ["r"] }],
      ["POST", "/api/v1/sockets/disconnect", { sockets: ["AAAAAAAAAAAAAAAAAAAA"] }],
      ["GET", "/api/v1/sockets/AAAAAAAAAAAAAAAAAAAA"],
    ];
    const before = await broker.metrics();
    for (const [method, route, body] of calls) {
      const res = await broker.api(route, { method, body });
      assert.notEqual(res.status, 401, res.text);
    }
    const after = await broker.metrics();
    const count = (m, route) => metric(m.values, "roomcast_admin_requests_total", { route }) ?? 0;
    for (const [, route] of calls) {
      const pattern = route.endsWith("AAAA") ? "/api/v1/sockets/{id}" : route;
      assert.equal(count(after, pattern) - count(before, pattern), 1, `${route} counted under ${pattern}`);
    }
    const families = [...after.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    assert.ok(families.length >= 10, after.text);
    for (const family of families) {
      assert.match(after.text, new RegExp(`^# HELP ${family} \\S`, "m"), `${family} has no # HELP`);
    }
  });
});

describe("admin API: token configuration", () => {
  it("no token configured -> every /api/v1 route answers 403 forbidden; /health, /ready, /metrics, the OpenAPI document still work", async () => {
    await withBroker(
      async (broker) => {
        for (const [method, route, body] of API_ROUTES) {
          for (const token of [null, "anything"]) {
            assertError(await broker.api(route, { method, body, token }), 403, "forbidden");
          }
        }
        for (const route of ["/health", "/ready", "/metrics", "/api/v1/openapi.json"]) {
          assert.equal((await broker.api(route, { token: null })).status, 200, route);
        }
        // refused before the body, the method or the route is looked at
        assertError(await broker.api("/api/v1/sockets/disconnect", { rawBody: "{not json", token: null }), 403, "forbidden");
        assertError(await broker.api("/api/v1/stats", { method: "DELETE", token: null }), 403, "forbidden");
      },
      { admin: { token: "" } },
    );
  });

  it("the token may come from the variable token_env names", async () => {
    await withBroker(
      async (broker) => {
        assert.equal((await broker.api("/api/v1/stats")).status, 200);
        assertError(await broker.api("/api/v1/stats", { token: "nope" }), 401, "unauthorized");
      },
      { admin: { token: "", token_env: "TEST_ROOMCAST_ADMIN" } },
      { env: { TEST_ROOMCAST_ADMIN: "from-env-token" }, token: "from-env-token" },
    );
  });
});

describe("admin API: stats and listings", () => {
  it("GET /api/v1/stats counts connections, sockets and each namespace's sockets and named rooms", async () => {
    await withBroker(async (broker) => {
      const empty = await broker.ok("/api/v1/stats");
      assert.equal(typeof empty.node_id, "string");
      // the version is the binary's, and the OpenAPI document's
      const version = (await runBroker(["--version"])).stdout.trim();
      assert.equal(`roomcast ${empty.version}`, version);
      assert.equal((await broker.api("/api/v1/openapi.json", { token: null })).body.info.version, empty.version);
      assert.ok(empty.node_id.length > 0);
      assert.ok(Number.isInteger(empty.uptime_s) && empty.uptime_s >= 0);
      assert.equal(empty.connections, 0);
      assert.equal(empty.sockets, 0);

      const a = await broker.connect("/", { transports: ["websocket"] });
      const b = await broker.connect("/", { transports: ["polling"] });
      const manager = new Manager(broker.url, { reconnection: false, transports: ["websocket"] });
      try {
        const c = await settleConnect(manager.socket("/"));
        const d = await settleConnect(manager.socket("/other"));
        await ask(a, "join", ["s-1", "s-2"]);
        await ask(b, "join", "s-1");
        await ask(d, "join", "s-other");
        assert.ok(c.connected);
        const stats = await broker.ok("/api/v1/stats");
        assert.deepEqual(
          { ...stats, node_id: "-", uptime_s: 0 },
          {
            version: empty.version,
            node_id: "-",
            nodes: 1,
            uptime_s: 0,
            connections: 3,
            sockets: 4,
            namespaces: [
              { name: "/", sockets: 3, rooms: 2 },
              { name: "/other", sockets: 1, rooms: 1 },
            ],
          },
        );
        assert.equal(stats.node_id, empty.node_id, "the node id is stable");
      } finally {
        manager.engine?.close();
      }
    });
  });

  it("GET /api/v1/rooms lists named rooms with socket counts (no id rooms), with limit/offset", async () => {
    await withBroker(async (broker) => {
      const a = await broker.connect();
      const b = await broker.connect();
      const c = await broker.connect(); // in no room: its id room must not be listed
      await ask(a, "join", ["r-b", "r-a"]);
      await ask(b, "join", ["r-a", "r-c"]);
      assert.ok(c.connected);
      const all = await broker.ok("/api/v1/rooms?namespace=/");
      assert.deepEqual(sorted(all.rooms.map((r) => JSON.stringify(r))), [
        JSON.stringify({ name: "r-a", sockets: 2 }),
        JSON.stringify({ name: "r-b", sockets: 1 }),
        JSON.stringify({ name: "r-c", sockets: 1 }),
      ]);
      assert.deepEqual(await broker.ok("/api/v1/rooms"), all, "namespace defaults to /");
      const names = all.rooms.map((r) => r.name);
      assert.deepEqual((await broker.ok("/api/v1/rooms?limit=2")).rooms.map((r) => r.name), names.slice(0, 2));
      assert.deepEqual((await broker.ok("/api/v1/rooms?limit=2&offset=2")).rooms.map((r) => r.name), names.slice(2));
      assert.deepEqual((await broker.ok("/api/v1/rooms?offset=10")).rooms, []);
      assert.deepEqual(await broker.ok("/api/v1/rooms?namespace=/other"), { rooms: [], total: 0 });
      // total counts every match whatever the page, so a client pages until offset >= total
      assert.equal(all.total, 3);
      assert.equal((await broker.ok("/api/v1/rooms?limit=1&offset=1")).total, 3);
      const paged = [];
      for (let offset = 0, total = Infinity; offset < total && paged.length < 100; offset += 2) {
        const page = await broker.ok(`/api/v1/rooms?limit=2&offset=${offset}`);
        total = page.total;
        paged.push(...page.rooms.map((r) => r.name));
      }
      assert.deepEqual(paged, names);
      assertError(await broker.api("/api/v1/rooms?namespace=/nope"), 404, "not_found");
      assertError(await broker.api("/api/v1/rooms?limit=0"), 400, "bad_request");
      assertError(await broker.api("/api/v1/rooms?limit=many"), 400, "bad_request");
      assertError(await broker.api("/api/v1/rooms?offset=-1"), 400, "bad_request");
    });
  });

  it("GET /api/v1/sockets lists every socket (all fields), by room, with limit/offset; GET /api/v1/sockets/{id} shows one", async () => {
    await withBroker(async (broker) => {
      const t0 = Date.now();
      const ws = await broker.connect("/", { transports: ["websocket"] });
      const polling = await broker.connect("/", { transports: ["polling"] });
      const other = await broker.connect("/other");
      await ask(ws, "join", ["l-1", "l-2"]);
      await ask(polling, "join", "l-1");

      const all = await broker.ok("/api/v1/sockets?namespace=/");
      assert.equal(all.sockets.length, 2);
      const byId = Object.fromEntries(all.sockets.map((s) => [s.id, s]));
      for (const [client, transport, rooms] of [
        [ws, "websocket", ["l-1", "l-2"]],
        [polling, "polling", ["l-1"]],
      ]) {
        const s = byId[client.id];
        assert.ok(s, `socket ${client.id} listed`);
        assert.deepEqual(Object.keys(s).sort(), ["address", "connected_at", "data", "id", "namespace", "node", "rooms", "transport"]);
        assert.equal(s.node, (await broker.ok("/api/v1/stats")).node_id, "held by this node");
        assert.equal(s.namespace, "/");
        assert.deepEqual(sorted(s.rooms), rooms);
        assert.equal(s.transport, transport);
        assert.match(s.address, /^127\.0\.0\.1(:\d+)?$/);
        assert.match(s.connected_at, RFC3339);
        const at = Date.parse(s.connected_at);
        assert.ok(at >= Math.floor(t0 / 1000) * 1000 - 1000 && at <= Date.now() + 1000, `connected_at ${s.connected_at}`);
        assert.deepEqual(s.data, {});
        // the single-socket route answers the same bare object
        assert.deepEqual(await broker.ok(`/api/v1/sockets/${client.id}?namespace=/`), s);
        assert.deepEqual(await broker.ok(`/api/v1/sockets/${client.id}`), s, "namespace defaults to /");
      }
      assert.deepEqual(await broker.ok("/api/v1/sockets"), all, "namespace defaults to /");

      const inRoom = await broker.ok("/api/v1/sockets?namespace=/&room=l-2");
      assert.deepEqual(inRoom.sockets.map((s) => s.id), [ws.id]);
      const inL1 = await broker.ok("/api/v1/sockets?room=l-1");
      assert.deepEqual(sorted(inL1.sockets.map((s) => s.id)), sorted([ws.id, polling.id]));
      assert.deepEqual(await broker.ok("/api/v1/sockets?room=no-such-room"), { sockets: [], total: 0 });
      assert.deepEqual(await broker.ok("/api/v1/sockets?room="), { sockets: [], total: 0 });
      assert.equal(all.total, 2);
      assert.equal(inL1.total, 2);
      assert.equal((await broker.ok("/api/v1/sockets?limit=1&offset=1")).total, 2);
      const ids = all.sockets.map((s) => s.id);
      assert.deepEqual((await broker.ok("/api/v1/sockets?limit=1")).sockets.map((s) => s.id), ids.slice(0, 1));
      assert.deepEqual((await broker.ok("/api/v1/sockets?limit=1&offset=1")).sockets.map((s) => s.id), ids.slice(1, 2));
      assert.deepEqual((await broker.ok("/api/v1/sockets?offset=2")).sockets, []);
      assertError(await broker.api("/api/v1/sockets?limit=0"), 400, "bad_request");

      const others = await broker.ok("/api/v1/sockets?namespace=/other");
      assert.deepEqual(others.sockets.map((s) => s.id), [other.id]);
      assertError(await broker.api(`/api/v1/sockets/${other.id}?namespace=/`), 404, "not_found");
      assertError(await broker.api("/api/v1/sockets/AAAAAAAAAAAAAAAAAAAA?namespace=/"), 404, "not_found");
      assertError(await broker.api("/api/v1/sockets/not-an-id"), 404, "not_found");
      assertError(await broker.api(`/api/v1/sockets/${ws.id}?namespace=/nope`), 404, "not_found");
      assertError(await broker.api("/api/v1/sockets?namespace=/nope"), 404, "not_found");
    });
  });
});

describe("admin API: emit", () => {
  let broker;
  before(async () => {
    broker = await startBroker({ namespaces: NAMESPACES });
  });
  after(async () => {
    assert.deepEqual(await broker?.stop(), { code: 0, signal: null });
  });
  afterEach(() => broker.closeClients());

  it("POST /api/v1/emit to a room reaches its members only and reports the recipients", async () => {
    const a = await broker.connect();
    const b = await broker.connect("/", { transports: ["polling"] });
    const c = await broker.connect();
    const inboxes = [a, b, c].map((s) => record(s, ["news", "barrier"]));
    await ask(a, "join", "e-1");
    await ask(b, "join", ["e-1", "e-2"]);
    await ask(c, "join", "e-2");
    const args = ["x", { y: 1, z: [true, null] }, 2.5];
    assert.deepEqual(await broker.ok("/api/v1/emit", { namespace: "/", event: "news", args, rooms: ["e-1"] }), {
      ok: true,
      recipients: 2,
    });
    // rooms union, each socket once; except removes sockets in those rooms
    assert.deepEqual(await broker.ok("/api/v1/emit", { event: "news", args: ["union"], rooms: ["e-1", "e-2"] }), {
      ok: true,
      recipients: 3,
    });
    assert.deepEqual(await broker.ok("/api/v1/emit", { event: "news", args: ["except"], rooms: ["e-1", "e-2"], except: ["e-1"] }), {
      ok: true,
      recipients: 1,
    });
    await barrier(broker, inboxes);
    assert.deepEqual(
      inboxes.map((i) => i.of("news")),
      [
        [args, ["union"]],
        [args, ["union"]],
        [["union"], ["except"]],
      ],
    );
  });

  it("POST /api/v1/emit with no rooms reaches every socket of the namespace (namespace defaults to /)", async () => {
    await waitFor(async () => (await broker.ok("/api/v1/stats")).sockets === 0, { what: "no sockets left from earlier tests" });
    const a = await broker.connect();
    const b = await broker.connect();
    const o = await broker.connect("/other");
    const inboxes = [a, b, o].map((s) => record(s, ["hello"]));
    assert.deepEqual(await broker.ok("/api/v1/emit", { event: "hello", args: [] }), { ok: true, recipients: 2 });
    assert.deepEqual(await broker.ok("/api/v1/emit", { namespace: "/other", event: "hello", args: ["o"] }), {
      ok: true,
      recipients: 1,
    });
    await inboxes[0].wait((i) => i.event === "hello");
    await inboxes[1].wait((i) => i.event === "hello");
    await inboxes[2].wait((i) => i.event === "hello");
    assert.deepEqual(inboxes.map((i) => i.of("hello")), [[[]], [[]], [["o"]]]);
    assert.deepEqual(await broker.ok("/api/v1/emit", { event: "hello", rooms: ["nobody-here"] }), { ok: true, recipients: 0 });
  });

  it("with ack_timeout_ms it answers as soon as every recipient acked, with each socket's ack arguments", async () => {
    const clients = [await broker.connect(), await broker.connect("/", { transports: ["polling"] })];
    for (const s of clients) {
      await ask(s, "join", "ack-room");
      s.on("question", (n, cb) => cb({ from: s.id, got: n }, "second"));
    }
    const t0 = Date.now();
    const res = await broker.ok("/api/v1/emit", { event: "question", args: [41], rooms: ["ack-room"], ack_timeout_ms: 10000 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 5000, `answered after ${elapsed} ms: it must not wait for the 10 s timeout`);
    assert.equal(res.ok, true);
    assert.equal(res.recipients, 2);
    assert.equal(res.timed_out, 0);
    assert.deepEqual(
      sorted(res.responses.map((r) => JSON.stringify(r))),
      sorted(clients.map((s) => JSON.stringify({ id: s.id, args: [{ from: s.id, got: 41 }, "second"] }))),
    );
  });

  it("with ack_timeout_ms and a client that never acks: timed_out 1, answered at the timeout (not later)", async () => {
    const acker = await broker.connect();
    const silent = await broker.connect();
    await ask(acker, "join", "ack-some");
    await ask(silent, "join", "ack-some");
    acker.on("question", (cb) => cb("yes"));
    const asked = once(silent, "question"); // receives it, never calls the callback
    const before = await broker.metrics();
    const TIMEOUT = 1000;
    const t0 = Date.now();
    const res = await broker.ok("/api/v1/emit", { event: "question", rooms: ["ack-some"], ack_timeout_ms: TIMEOUT });
    const elapsed = Date.now() - t0;
    await asked;
    assert.deepEqual(res, { ok: true, recipients: 2, responses: [{ id: acker.id, args: ["yes"] }], timed_out: 1, complete: false });
    assert.ok(elapsed >= TIMEOUT - 50, `answered after ${elapsed} ms, before the ${TIMEOUT} ms timeout`);
    assert.ok(elapsed < TIMEOUT + 1500, `answered after ${elapsed} ms, long after the ${TIMEOUT} ms timeout`);
    const afterM = await broker.metrics();
    assert.equal(
      metric(afterM.values, "roomcast_ack_timeouts_total") - (metric(before.values, "roomcast_ack_timeouts_total") ?? 0),
      1,
    );
  });

  it("with ack_timeout_ms and no recipient answers at once with recipients 0", async () => {
    const t0 = Date.now();
    const res = await broker.ok("/api/v1/emit", { event: "question", rooms: ["empty-room"], ack_timeout_ms: 5000 });
    assert.deepEqual(res, { ok: true, recipients: 0, responses: [], timed_out: 0, complete: true });
    assert.ok(Date.now() - t0 < 2500);
  });

  const BAD = [
    ["malformed JSON", { rawBody: '{"event": "e", ' }],
    ["a JSON array", { rawBody: "[]" }],
    ["no event", { body: { args: [] } }],
    ["an event that is not a string", { body: { event: 5 } }],
    ["an empty event", { body: { event: "" } }],
    ["args that are not an array", { body: { event: "e", args: "x" } }],
    ["rooms that are not an array of strings", { body: { event: "e", rooms: [1] } }],
    ["an unknown field", { body: { event: "e", bogus: true } }],
    ["ack_timeout_ms = 0", { body: { event: "e", ack_timeout_ms: 0 } }],
    ["ack_timeout_ms above the maximum", { body: { event: "e", ack_timeout_ms: 3_600_000 } }],
    ["ack_timeout_ms negative", { body: { event: "e", ack_timeout_ms: -1 } }],
    ...["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"].map((e) => [
      `the reserved event "${e}"`,
      { body: { event: e } },
    ]),
  ];
  for (const [label, req] of BAD) {
    it(`POST /api/v1/emit with ${label} -> 400 bad_request, nothing emitted, the broker keeps serving`, async () => {
      const s = await broker.connect();
      const inbox = record(s, ["e", "connect", "disconnect", "barrier"]);
      assertError(await broker.api("/api/v1/emit", { method: "POST", ...req }), 400, "bad_request");
      await barrier(broker, [inbox]);
      assert.deepEqual(inbox.items.filter((i) => i.event !== "barrier"), []);
      assert.ok(s.connected);
    });
  }

  it("POST /api/v1/emit to an unknown namespace -> 404 not_found", async () => {
    assertError(await broker.api("/api/v1/emit", { body: { namespace: "/nope", event: "e" } }), 404, "not_found");
  });
});

describe("admin API: sockets join / leave / disconnect", () => {
  let broker;
  before(async () => {
    broker = await startBroker({ namespaces: NAMESPACES });
  });
  after(async () => {
    assert.deepEqual(await broker?.stop(), { code: 0, signal: null });
  });
  afterEach(() => broker.closeClients());

  const roomsOf = async (socket, nsp = "/") =>
    sorted((await broker.ok(`/api/v1/sockets/${socket.id}?namespace=${encodeURIComponent(nsp)}`)).rooms);

  it("sockets/join by room selector and by socket id: affected N and the clients' rooms change", async () => {
    const a = await broker.connect();
    const b = await broker.connect();
    const c = await broker.connect();
    await ask(a, "join", "sel");
    await ask(b, "join", "sel");
    assert.deepEqual(await broker.ok("/api/v1/sockets/join", { rooms: ["sel"], add: ["added"] }), { ok: true, affected: 2 });
    assert.deepEqual(await roomsOf(a), ["added", "sel"]);
    assert.deepEqual(await roomsOf(b), ["added", "sel"]);
    assert.deepEqual(await roomsOf(c), []);
    assert.deepEqual(
      await broker.ok("/api/v1/sockets/join", { namespace: "/", sockets: [c.id], add: ["by-id", "added"] }),
      { ok: true, affected: 1 },
    );
    assert.deepEqual(await roomsOf(c), ["added", "by-id"]);
    // the client sees it too: its own join answer lists the rooms the API added
    const reply = await ask(c, "join", "mine");
    assert.deepEqual(sorted(reply.rooms), ["added", "by-id", "mine"]);
    // and it may now publish to a room it was put in (client_publish = "joined")
    const inboxA = record(a, ["msg"]);
    assert.deepEqual(await ask(c, "publish", "by-id", "msg", "x"), { ok: true });
    assert.deepEqual(await ask(c, "publish", "added", "msg", "to added"), { ok: true });
    const got = await inboxA.wait((i) => i.event === "msg");
    assert.deepEqual(got.args, ["to added"]);
    // union of a room selector and an id: each socket once
    assert.deepEqual(await broker.ok("/api/v1/sockets/join", { rooms: ["sel"], sockets: [a.id, c.id], add: ["u"] }), {
      ok: true,
      affected: 3,
    });
    const listed = await broker.ok("/api/v1/rooms");
    assert.deepEqual(listed.rooms.find((r) => r.name === "u"), { name: "u", sockets: 3 });
  });

  it("sockets/join with both selectors empty targets every socket of the namespace; unknown ids or rooms affect none", async () => {
    await waitFor(async () => (await broker.ok("/api/v1/stats")).sockets === 0, { what: "no sockets left from earlier tests" });
    const a = await broker.connect();
    const b = await broker.connect();
    const o = await broker.connect("/other");
    assert.deepEqual(await broker.ok("/api/v1/sockets/join", { add: ["everyone"] }), { ok: true, affected: 2 });
    assert.deepEqual(await roomsOf(a), ["everyone"]);
    assert.deepEqual(await roomsOf(b), ["everyone"]);
    assert.deepEqual(await roomsOf(o, "/other"), []);
    assert.deepEqual(await broker.ok("/api/v1/sockets/join", { rooms: ["no-room"], sockets: ["AAAAAAAAAAAAAAAAAAAA"], add: ["x"] }), {
      ok: true,
      affected: 0,
    });
    assert.deepEqual(await roomsOf(a), ["everyone"]);
  });

  for (const [label, body] of [
    ["no add", {}],
    ["an empty add", { add: [] }],
    ["an empty room name", { add: [""] }],
    ["a 257-byte room name", { add: ["x".repeat(257)] }],
    ["an unknown field", { add: ["a"], bogus: 1 }],
    ["sockets that are not strings", { add: ["a"], sockets: [1] }],
  ]) {
    it(`sockets/join with ${label} -> 400 bad_request and nothing changes`, async () => {
      const s = await broker.connect();
      assertError(await broker.api("/api/v1/sockets/join", { body }), 400, "bad_request");
      assert.deepEqual(await roomsOf(s), []);
    });
  }

  it("sockets/join, leave and disconnect: malformed JSON -> 400, unknown namespace -> 404", async () => {
    for (const route of ["join", "leave", "disconnect"]) {
      assertError(await broker.api(`/api/v1/sockets/${route}`, { method: "POST", rawBody: "{nope" }), 400, "bad_request");
      const body = { namespace: "/nope", add: ["a"], remove: ["a"] };
      assertError(await broker.api(`/api/v1/sockets/${route}`, { body }), 404, "not_found");
    }
    assertError(await broker.api("/api/v1/sockets/leave", { body: { remove: [] } }), 400, "bad_request");
  });

  it("sockets/leave removes rooms from the selected sockets; a client can then no longer publish there", async () => {
    const a = await broker.connect();
    const b = await broker.connect();
    await ask(a, "join", ["lv-1", "lv-2"]);
    await ask(b, "join", ["lv-1"]);
    assert.deepEqual(await broker.ok("/api/v1/sockets/leave", { rooms: ["lv-1"], remove: ["lv-1"] }), { ok: true, affected: 2 });
    assert.deepEqual(await roomsOf(a), ["lv-2"]);
    assert.deepEqual(await roomsOf(b), []);
    assert.deepEqual(await broker.ok("/api/v1/sockets?room=lv-1"), { sockets: [], total: 0 });
    const refused = await ask(b, "publish", "lv-1", "msg", "x");
    assert.equal(refused.ok, false);
    assert.deepEqual(await broker.ok("/api/v1/sockets/leave", { sockets: [a.id], remove: ["lv-2"] }), { ok: true, affected: 1 });
    assert.deepEqual(await roomsOf(a), []);
    assert.deepEqual((await broker.ok("/api/v1/rooms")).rooms.filter((r) => r.name.startsWith("lv-")), []);
  });

  it('sockets/disconnect (close false): the selected clients see "io server disconnect", their connection stays for other namespaces', async () => {
    const manager = new Manager(broker.url, { reconnection: false, transports: ["websocket"] });
    try {
      const root = await settleConnect(manager.socket("/"));
      const other = await settleConnect(manager.socket("/other"));
      const bystander = await broker.connect();
      await ask(root, "join", "dc");
      await ask(bystander, "join", "keep");
      const gone = once(root, "disconnect");
      const res = await broker.ok("/api/v1/sockets/disconnect", { rooms: ["dc"] });
      assert.deepEqual(res, { ok: true, affected: 1 });
      const [reason] = await gone;
      assert.equal(reason, "io server disconnect");
      assert.ok(other.connected, "the /other socket on the same connection stays");
      assert.equal(manager.engine.readyState, "open");
      assert.ok(bystander.connected);
      assert.deepEqual(await ask(other, "join", "still-here"), { ok: true, rooms: ["still-here"] });
      assert.deepEqual(sorted((await ask(bystander, "join", "keep2")).rooms), ["keep", "keep2"]);
      const listed = await broker.ok("/api/v1/sockets?namespace=/");
      assert.ok(!listed.sockets.some((s) => s.id === root.id), "the disconnected socket is gone from the listing");
    } finally {
      manager.engine?.close();
    }
  });

  it('sockets/disconnect with close true: "io server disconnect" and the whole connection closes', async () => {
    const manager = new Manager(broker.url, { reconnection: false, transports: ["websocket"] });
    try {
      const root = await settleConnect(manager.socket("/"));
      const other = await settleConnect(manager.socket("/other"));
      const bystander = await broker.connect();
      const rootGone = once(root, "disconnect");
      const otherGone = once(other, "disconnect");
      const engineClosed = once(manager.engine, "close");
      const res = await broker.ok("/api/v1/sockets/disconnect", { sockets: [root.id], close: true });
      assert.deepEqual(res, { ok: true, affected: 1 });
      assert.deepEqual((await rootGone)[0], "io server disconnect");
      await otherGone;
      await engineClosed;
      assert.ok(bystander.connected);
      assert.deepEqual(await ask(bystander, "join", "alive"), { ok: true, rooms: ["alive"] });
      await waitFor(async () => {
        const s = await broker.ok("/api/v1/sockets?namespace=/other");
        return !s.sockets.some((x) => x.id === other.id);
      }, { what: "the /other socket of the closed connection to leave" });
    } finally {
      manager.engine?.close();
    }
  });

  it("sockets/disconnect with both selectors empty disconnects every socket of the namespace only", async () => {
    await waitFor(async () => (await broker.ok("/api/v1/stats")).sockets === 0, { what: "no sockets left from earlier tests" });
    const a = await broker.connect();
    const b = await broker.connect("/", { transports: ["polling"] });
    const o = await broker.connect("/other");
    const gone = [once(a, "disconnect"), once(b, "disconnect")];
    assert.deepEqual(await broker.ok("/api/v1/sockets/disconnect", { namespace: "/" }), { ok: true, affected: 2 });
    for (const g of gone) assert.equal((await g)[0], "io server disconnect");
    assert.ok(o.connected);
    const m = await broker.metrics();
    assert.ok(metric(m.values, "roomcast_disconnects_total", { reason: "server namespace disconnect" }) >= 2, m.text);
  });
});
