// engine.write_delay_ms (opt-in WebSocket write coalescing, issue 4): a packet for a WebSocket written
// less than the delay ago opens a window of the delay, and everything queued by its end goes out in the
// same write, complete and in order; a packet for a WebSocket that has been quiet for longer goes out
// at once.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBroker, ask, record } from "./lib/broker.mjs";

const DELAY_MS = 300;
const BURST = 20;

describe("engine.write_delay_ms", () => {
  it(`= ${DELAY_MS}: a burst right after a write waits ${DELAY_MS} ms and arrives together, complete and in order; a quiet WebSocket's next packet goes out at once`, async () => {
    const broker = await startBroker({ engine: { write_delay_ms: DELAY_MS } });
    try {
      const pub = await broker.connect("/", { transports: ["websocket"] });
      const sub = await broker.connect("/", { transports: ["websocket"] });
      const inbox = record(sub, ["msg"]);
      // client_publish = "joined" (the default): the publisher joins too.
      assert.equal((await ask(pub, "join", "coalesced")).ok, true);
      // The join's ack is a write to the subscriber: the burst below comes right after it.
      assert.equal((await ask(sub, "join", "coalesced")).ok, true);
      const sentAt = performance.now();

      const acks = Promise.all(
        Array.from({ length: BURST }, (_, i) => ask(pub, "publish", "coalesced", "msg", i)),
      );
      // Paced one write per delay each, the burst would take BURST * DELAY_MS (6 s): wait longer
      // than that, so that case fails on the assertion below rather than on this wait.
      await inbox.wait((i) => i.args[0] === BURST - 1, BURST * DELAY_MS + 4000, "the burst's last message");
      const burstAfter = performance.now() - sentAt;
      assert.deepEqual(
        inbox.of("msg").map((args) => args[0]),
        Array.from({ length: BURST }, (_, i) => i),
        "every message, in order, once",
      );
      assert.ok(burstAfter >= DELAY_MS - 5, `the burst waited for its window (${burstAfter.toFixed(1)} ms)`);
      assert.ok(burstAfter < 3 * DELAY_MS, `the burst went out in one window (${burstAfter.toFixed(1)} ms)`);
      for (const ack of await acks) assert.deepEqual(ack, { ok: true });

      // Quiet for longer than the delay (the behaviour under test is about time passing).
      await new Promise((resolve) => setTimeout(resolve, 2 * DELAY_MS));
      const sent = performance.now();
      assert.deepEqual(await ask(pub, "publish", "coalesced", "msg", "after a pause"), { ok: true });
      await inbox.wait((i) => i.args[0] === "after a pause", 5000, "the message after the pause");
      const quietAfter = performance.now() - sent;
      assert.ok(quietAfter < DELAY_MS - 50, `a quiet WebSocket writes at once (${quietAfter.toFixed(1)} ms)`);
    } finally {
      assert.deepEqual(await broker.stop(), { code: 0, signal: null }, broker.logs.slice(-3000));
    }
  });
});
