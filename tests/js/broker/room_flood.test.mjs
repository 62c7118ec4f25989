// A bounded attack (issue 13, item 4): many sockets each joining 1,000 rooms. The server-wide
// membership bound (max_memberships) refuses the joins past it, the broker's resident memory stays
// under a stated bound, and a client publishing to its own room keeps receiving meanwhile.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record, metric, rssMb } from "./lib/broker.mjs";

const SOCKETS = 200;
const ROOMS_EACH = 1000;
const MAX_MEMBERSHIPS = 100_000; // half of what the attack asks for
const RSS_GROWTH_BOUND_MB = 150;
const CANARY_MESSAGES = 40;

describe("room membership flood", () => {
  it(`${SOCKETS} sockets x ${ROOMS_EACH} rooms against max_memberships ${MAX_MEMBERSHIPS}: the rest refused, RSS grows < ${RSS_GROWTH_BOUND_MB} MB, another client keeps receiving`, { timeout: 120000 }, async (t) => {
    const broker = await startBroker({ limits: { max_memberships: MAX_MEMBERSHIPS } });
    try {
      const sender = await broker.connect("/", { transports: ["websocket"] });
      const receiver = await broker.connect("/", { transports: ["websocket"] });
      await ask(sender, "join", "canary");
      await ask(receiver, "join", "canary");
      const inbox = record(receiver, ["tick"]);
      const before = rssMb(broker.pid);
      const attackers = [];
      for (let i = 0; i < SOCKETS; i++) attackers.push(await broker.connect("/", { transports: ["websocket"] }));
      // the room API takes at most 100 rooms per call: 10 calls per socket
      const attack = Promise.all(
        attackers.map(async (s, i) => {
          const answers = [];
          for (let c = 0; c < ROOMS_EACH / 100; c++) {
            answers.push(await ask(s, "join", Array.from({ length: 100 }, (_, r) => `a${i}-${c * 100 + r}`)));
          }
          return answers;
        }),
      );
      for (let i = 0; i < CANARY_MESSAGES; i++) {
        assert.deepEqual(await ask(sender, "publish", "canary", "tick", i), { ok: true });
      }
      const answers = (await attack).flat();
      const joined = answers.filter((a) => a.ok).length;
      const refused = answers.filter((a) => !a.ok && /server room limit reached/.test(a.error)).length;
      // the 2 canary memberships count too: the budget takes 999 calls of 100 rooms
      assert.equal(joined, Math.floor((MAX_MEMBERSHIPS - 2) / 100));
      assert.equal(joined + refused, SOCKETS * (ROOMS_EACH / 100));
      const m = await broker.metrics();
      assert.equal(metric(m.values, "roomcast_memberships"), 2 + joined * 100);
      await inbox.wait((i) => i.event === "tick" && i.args[0] === CANARY_MESSAGES - 1, 30000, "the last tick");
      assert.deepEqual(
        inbox.items.filter((i) => i.event === "tick").map((i) => i.args[0]),
        Array.from({ length: CANARY_MESSAGES }, (_, i) => i),
      );
      const after = rssMb(broker.pid);
      t.diagnostic(`broker RSS ${Math.round(before)} MB -> ${Math.round(after)} MB with ${joined * 100} memberships`);
      assert.ok(after - before < RSS_GROWTH_BOUND_MB, `broker RSS grew ${Math.round(after - before)} MB`);
    } finally {
      broker.closeClients();
      assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
    }
  });
});
