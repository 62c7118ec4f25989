// A bounded attack (issue 13, item 1): polling POSTs of 100,000 tiny packets each. While a socket's
// mailbox is full the session must hold the rest of a POST as decoded packets (and make the next POST
// wait), not one waiting send per packet: the broker's resident memory stays under a stated bound and
// a WebSocket client in another namespace keeps receiving everything published to it meanwhile.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record, rssMb } from "./lib/broker.mjs";

const SESSIONS = 12;
const PACKETS_PER_POST = 100_000; // 8 bytes each with separators: 800 KB, under max_payload (1 MB)
const POSTS_PER_SESSION = 2;
// Measured (debug build): 1,210 MB of growth before the fix (a waiting send per packet), 22 MB after
// (each session holds its POST's body and one batch of 64 decoded packets).
const RSS_GROWTH_BOUND_MB = 120;
const CANARY_MESSAGES = 40;

async function pollingSession(broker) {
  const base = `${broker.url}/socket.io/?EIO=4&transport=polling`;
  const open = await fetch(base, { signal: AbortSignal.timeout(10000) });
  const sid = JSON.parse((await open.text()).slice(1)).sid;
  const url = `${base}&sid=${sid}`;
  const post = async (body) => {
    const res = await fetch(url, { method: "POST", body, signal: AbortSignal.timeout(60000) });
    return [res.status, await res.text()];
  };
  assert.deepEqual(await post("40"), [200, "ok"]);
  const poll = await fetch(url, { signal: AbortSignal.timeout(10000) });
  assert.match(await poll.text(), /^40\{"sid"/);
  return { post };
}

describe("polling POST flood", () => {
  it(`${SESSIONS} sessions x ${POSTS_PER_SESSION} POSTs of ${PACKETS_PER_POST} packets: RSS grows < ${RSS_GROWTH_BOUND_MB} MB, another client keeps receiving`, async (t) => {
    const broker = await startBroker({ namespaces: [{ name: "/" }, { name: "/canary" }] });
    try {
      const sender = await broker.connect("/canary", { transports: ["websocket"] });
      const receiver = await broker.connect("/canary", { transports: ["websocket"] });
      await ask(sender, "join", "c");
      await ask(receiver, "join", "c");
      const inbox = record(receiver, ["tick"]);
      const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => pollingSession(broker)));
      const before = rssMb(broker.pid);
      const body = Array(PACKETS_PER_POST).fill('42["x"]').join("\x1e");
      let peak = before;
      const sample = setInterval(() => (peak = Math.max(peak, rssMb(broker.pid))), 50);
      const attack = Promise.all(
        sessions.map(async (s) => {
          for (let i = 0; i < POSTS_PER_SESSION; i++) assert.deepEqual(await s.post(body), [200, "ok"]);
        }),
      );
      // the canary publishes throughout the attack and must receive every one of its messages
      for (let i = 0; i < CANARY_MESSAGES; i++) {
        assert.deepEqual(await ask(sender, "publish", "c", "tick", i), { ok: true });
      }
      await attack;
      clearInterval(sample);
      peak = Math.max(peak, rssMb(broker.pid));
      await inbox.wait((i) => i.event === "tick" && i.args[0] === CANARY_MESSAGES - 1, 30000, "the last tick");
      assert.deepEqual(
        inbox.items.filter((i) => i.event === "tick").map((i) => i.args[0]),
        Array.from({ length: CANARY_MESSAGES }, (_, i) => i),
      );
      t.diagnostic(`broker RSS ${Math.round(before)} MB -> peak ${Math.round(peak)} MB`);
      assert.ok(
        peak - before < RSS_GROWTH_BOUND_MB,
        `broker RSS grew ${Math.round(peak - before)} MB (from ${Math.round(before)} MB)`,
      );
    } finally {
      broker.closeClients();
      assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
    }
  });
});
