// JWT auth on broker namespaces (issue 3, section 3): HS256 tokens signed here with node's crypto, the
// CONNECT_ERROR "unauthorized" with data.reason for every bad token, multiplexing after a refusal, the
// socket data {"sub"} shown by the admin API, and the `rooms` claim bounding join and publish.

import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Manager } from "socket.io-client";
import { startBroker, ask, record, barrier, jwt, nowSeconds, sorted, metric } from "./lib/broker.mjs";
import { settleConnect, waitFor } from "../lib/server.mjs";

const SECRET = "s3cret-for-tests";
const ENV_SECRET = "another-secret-from-env";
let broker;

before(async () => {
  broker = await startBroker(
    {
      namespaces: [
        { name: "/", auth: "none" },
        { name: "/secure", auth: "jwt", jwt_secret: SECRET, client_publish: "joined" },
        { name: "/secure-any", auth: "jwt", jwt_secret: SECRET, client_publish: "any" },
        { name: "/from-env", auth: "jwt", jwt_secret_env: "TEST_ROOMCAST_JWT" },
      ],
    },
    { env: { TEST_ROOMCAST_JWT: ENV_SECRET } },
  );
});
after(async () => {
  assert.deepEqual(await broker?.stop(), { code: 0, signal: null });
});
afterEach(() => broker.closeClients());

const token = (claims = {}, { secret = SECRET, alg = "HS256" } = {}) =>
  jwt({ sub: "user-1", exp: nowSeconds() + 300, ...claims }, secret, { alg });

async function socketData(socket, nsp) {
  const s = await broker.ok(`/api/v1/sockets/${socket.id}?namespace=${encodeURIComponent(nsp)}`);
  return s.data;
}

describe("JWT auth", () => {
  it('a valid HS256 token connects; the socket data is {"sub"}; an auth = "none" socket has data {}', async () => {
    const secure = await broker.connect("/secure", { auth: { token: token({ sub: "alice" }) } });
    assert.deepEqual(await socketData(secure, "/secure"), { sub: "alice" });
    const plain = await broker.connect("/");
    assert.deepEqual(await socketData(plain, "/"), {});
    const listed = await broker.ok(`/api/v1/sockets?namespace=${encodeURIComponent("/secure")}`);
    assert.deepEqual(
      listed.sockets.filter((s) => s.id === secure.id).map((s) => s.data),
      [{ sub: "alice" }],
    );
  });

  it("the secret may come from the variable jwt_secret_env names", async () => {
    const s = await broker.connect("/from-env", { auth: { token: token({ sub: "env-user" }, { secret: ENV_SECRET }) } });
    assert.deepEqual(await socketData(s, "/from-env"), { sub: "env-user" });
    const err = await broker.connectError("/from-env", { auth: { token: token({}, { secret: SECRET }) } });
    assert.equal(err.message, "unauthorized");
  });

  const now = nowSeconds();
  const cases = [
    ["no auth payload", undefined, /missing/i],
    ["an auth payload without token", {}, /missing/i],
    ["a token that is not a string", { token: 42 }, /missing|token/i],
    ["a malformed token", { token: "not.a.jwt" }, /malformed/i],
    ["garbage", { token: "garbage" }, /malformed/i],
    ["a wrong signature", { token: token({}, { secret: "wrong-secret" }) }, /signature/i],
    ["an expired token", { token: jwt({ sub: "u", exp: now - 10 }, SECRET) }, /expired/i],
    ["an HS384 token", { token: token({}, { alg: "HS384" }) }, /algorithm/i],
    ["an HS512 token", { token: token({}, { alg: "HS512" }) }, /algorithm/i],
    ['an alg "none" token', { token: token({}, { alg: "none" }) }, /algorithm/i],
    ["a token without sub", { token: jwt({ exp: now + 300 }, SECRET) }, /sub/],
    ["a token without exp", { token: jwt({ sub: "u" }, SECRET) }, /exp/],
    ["a token whose sub is not a string", { token: jwt({ sub: 5, exp: now + 300 }, SECRET) }, /sub|string|claim/i],
  ];
  for (const [label, auth, reason] of cases) {
    it(`${label} -> connect_error "unauthorized" with data.reason`, async () => {
      const err = await broker.connectError("/secure", auth === undefined ? {} : { auth });
      assert.equal(err.message, "unauthorized");
      assert.equal(typeof err.data?.reason, "string", `data: ${JSON.stringify(err.data)}`);
      assert.match(err.data.reason, reason);
    });
  }

  it("each refused login leaves a log line (namespace, reason, address) and counts roomcast_auth_failures_total by reason", async () => {
    const failures = async () => {
      const m = await broker.metrics();
      const get = (reason) => metric(m.values, "roomcast_auth_failures_total", { reason }) ?? 0;
      return { missing: get("missing"), expired: get("expired"), bad_signature: get("bad_signature"), malformed: get("malformed") };
    };
    const before = await failures();
    const refusals = [
      [{}, "missing", /missing token/],
      [{ auth: { token: jwt({ sub: "u", exp: nowSeconds() - 10 }, SECRET) } }, "expired", /token expired/],
      [{ auth: { token: token({}, { secret: "wrong-secret" }) } }, "bad_signature", /invalid signature/],
      [{ auth: { token: "garbage" } }, "malformed", /malformed token/],
    ];
    const logsBefore = broker.logs.length;
    for (const [opts] of refusals) {
      const err = await broker.connectError("/secure", opts);
      assert.equal(err.message, "unauthorized");
    }
    const refusedLines = () => broker.logs.slice(logsBefore).split("\n").filter((l) => l.includes("login refused"));
    const logged = await waitFor(() => refusedLines().length >= refusals.length && refusedLines(), {
      what: `${refusals.length} "login refused" log lines`,
    });
    assert.equal(logged.length, refusals.length, logged.join("\n"));
    refusals.forEach(([, kind, text], i) => {
      assert.match(logged[i], text, kind);
      assert.match(logged[i], /namespace=\/secure/);
      assert.match(logged[i], /address=127\.0\.0\.1/);
    });
    const after = await failures();
    for (const [, kind] of refusals) {
      assert.equal(after[kind] - before[kind], 1, `roomcast_auth_failures_total{reason="${kind}"}`);
    }
  });

  it("after a refusal the same Engine.IO connection still serves another namespace, and the namespace itself with a good token", async () => {
    const manager = new Manager(broker.url, { reconnection: false, transports: ["websocket"] });
    try {
      // a socket on "/" first: socket.io-client closes a manager's engine when its last socket goes away
      const root = await settleConnect(manager.socket("/"));
      const engine = manager.engine;
      const secure = manager.socket("/secure", { auth: { token: token({}, { secret: "wrong" }) } });
      const err = await settleConnect(secure).then(
        () => assert.fail("connected with a bad token"),
        (e) => e,
      );
      assert.equal(err.message, "unauthorized");
      assert.match(err.data.reason, /signature/);
      assert.equal(engine.readyState, "open", "the engine connection stays open after the refusal");
      assert.ok(root.connected);
      assert.deepEqual(await ask(root, "join", "mux"), { ok: true, rooms: ["mux"] });
      const again = manager.socket("/secure-any", { auth: { token: token({ sub: "bob" }) } });
      await settleConnect(again);
      assert.equal(manager.engine, engine, "the same engine connection");
      assert.deepEqual(await socketData(again, "/secure-any"), { sub: "bob" });
      const a = await broker.ok(`/api/v1/sockets/${root.id}?namespace=/`);
      const b = await broker.ok(`/api/v1/sockets/${again.id}?namespace=/secure-any`);
      assert.equal(a.address, b.address, "both sockets come from one TCP connection");
    } finally {
      manager.engine?.close();
    }
  });

  it("the rooms claim bounds join: allowed patterns join, any other room is refused and nothing changes", async () => {
    const s = await broker.connect("/secure", { auth: { token: token({ rooms: ["chat:*", "lobby"] }) } });
    assert.deepEqual(await ask(s, "join", "chat:1"), { ok: true, rooms: ["chat:1"] });
    const lobby = await ask(s, "join", ["lobby", "chat:"]);
    assert.equal(lobby.ok, true);
    assert.deepEqual(sorted(lobby.rooms), ["chat:", "chat:1", "lobby"]);
    for (const bad of ["news", "lobby2", "xchat:1", ["chat:2", "news"]]) {
      const r = await ask(s, "join", bad);
      assert.equal(r.ok, false, `join ${JSON.stringify(bad)}: ${JSON.stringify(r)}`);
      assert.match(r.error, /not allowed by token/);
    }
    assert.deepEqual(sorted((await broker.ok(`/api/v1/sockets/${s.id}?namespace=/secure`)).rooms), ["chat:", "chat:1", "lobby"]);
  });

  it('the rooms claim bounds publish (client_publish = "any"): a room outside the claim is refused, nothing delivered', async () => {
    const member = await broker.connect("/secure-any", { auth: { token: token({ sub: "m" }) } });
    const inbox = record(member, ["msg", "barrier"]);
    await ask(member, "join", ["news", "chat:9"]);
    const sender = await broker.connect("/secure-any", { auth: { token: token({ sub: "s", rooms: ["chat:*"] }) } });
    const refused = await ask(sender, "publish", "news", "msg", "refused");
    assert.equal(refused.ok, false);
    assert.match(refused.error, /not allowed by token/);
    const mixed = await ask(sender, "publish", ["chat:9", "news"], "msg", "refused too");
    assert.equal(mixed.ok, false);
    assert.deepEqual(await ask(sender, "publish", "chat:9", "msg", "allowed"), { ok: true });
    await barrier(broker, [inbox], { namespace: "/secure-any" });
    assert.deepEqual(inbox.of("msg"), [["allowed"]]);
  });

  it('the rooms claim bounds publish even to a room the admin API put the socket in (client_publish = "joined")', async () => {
    const member = await broker.connect("/secure", { auth: { token: token({ sub: "m2" }) } });
    const inbox = record(member, ["msg", "barrier"]);
    await ask(member, "join", "vip");
    const sender = await broker.connect("/secure", { auth: { token: token({ sub: "s2", rooms: ["chat:*"] }) } });
    const joined = await broker.ok("/api/v1/sockets/join", { namespace: "/secure", sockets: [sender.id], add: ["vip"] });
    assert.equal(joined.affected, 1);
    const r = await ask(sender, "publish", "vip", "msg", "x");
    assert.equal(r.ok, false);
    assert.match(r.error, /not allowed by token/);
    await barrier(broker, [inbox], { namespace: "/secure" });
    assert.deepEqual(inbox.of("msg"), []);
  });
});
