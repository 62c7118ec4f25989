// engine.write_delay_ms (opt-in WebSocket write coalescing, issue 4): a packet waits for the delay
// before it is written, and whatever is queued meanwhile goes out with it, complete and in order.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record } from "./lib/broker.mjs";

const DELAY_MS = 300;
const BURST = 20;

describe("engine.write_delay_ms", () => {
  it(`= ${DELAY_MS}: a burst of ${BURST} publishes reaches a WebSocket subscriber no sooner than the delay, in one window, complete and in order`, async () => {
    const broker = await startBroker({ engine: { write_delay_ms: DELAY_MS } });
    try {
      const pub = await broker.connect("/", { transports: ["websocket"] });
      const sub = await broker.connect("/", { transports: ["websocket"] });
      const inbox = record(sub, ["msg"]);
      // client_publish = "joined" (the default): the publisher joins too.
      for (const s of [pub, sub]) assert.equal((await ask(s, "join", "coalesced")).ok, true);

      const sent = performance.now();
      const acks = Promise.all(
        Array.from({ length: BURST }, (_, i) => ask(pub, "publish", "coalesced", "msg", i)),
      );
      // Delayed one by one, the burst would take BURST * DELAY_MS (6 s): wait longer than that,
      // so that case fails on the assertion below rather than on this wait.
      await inbox.wait((i) => i.args[0] === BURST - 1, BURST * DELAY_MS + 4000, "the burst's last message");
      const elapsed = performance.now() - sent;

      assert.deepEqual(
        inbox.of("msg").map((args) => args[0]),
        Array.from({ length: BURST }, (_, i) => i),
        "every message, in order, once",
      );
      assert.ok(elapsed >= DELAY_MS - 5, `the first write waited for the delay (${elapsed.toFixed(1)} ms)`);
      assert.ok(elapsed < 10 * DELAY_MS, `the burst went out in one window, not one delay per packet (${elapsed.toFixed(1)} ms)`);
      for (const ack of await acks) assert.deepEqual(ack, { ok: true });
    } finally {
      assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
    }
  });
});
