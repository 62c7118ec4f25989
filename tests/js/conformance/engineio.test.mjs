// Engine.IO v4 conformance: our own port of every case of the official
// socketio/engine.io-protocol test-suite (run against the Engine.IO echo server at
// /engine.io/), plus extra wire-level cases the official suite lacks.
//
// Run: node --test --test-concurrency=1 tests/js/conformance/
// (ROOMCAST_REFERENCE=1 runs the same tests against the Node reference server.)

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_URL,
  MAX_PAYLOAD,
  NODE_REFERENCE,
  PING_INTERVAL,
  PING_TIMEOUT,
  assertWsRefused,
  handshake,
  openWs,
  parkPoll,
  parseOpenPacket,
  poll,
  push,
  request,
  serverForThisFile,
  sleep,
  startPoll,
  wsSession,
} from "./_util.mjs";

const EIO = "/engine.io/";
const URL_EIO = `${BASE_URL}${EIO}`;
const T = { timeout: 15000 };

serverForThisFile();

/** Polling session upgraded to WebSocket; resolves once the upgrade is known to be complete. */
async function upgradedSession() {
  const sid = await handshake(EIO);
  const ws = openWs(EIO, `EIO=4&transport=websocket&sid=${sid}`);
  await ws.opened();
  ws.send("2probe");
  ws.send("5");
  assert.equal(await ws.next(), "3probe");
  // "4hello" is processed after "5" on the same WebSocket: its echo on the WebSocket
  // proves that the server has completed the upgrade.
  ws.send("4hello");
  assert.equal(await ws.next({ skipPings: true }), "4hello");
  return { sid, ws };
}

describe("Engine.IO protocol", () => {
  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("successfully opens a session", T, async () => {
        const res = await request("GET", `${URL_EIO}?EIO=4&transport=polling`).response;
        assert.equal(res.status, 200);
        parseOpenPacket(assert, res.body, ["websocket"]);
      });

      it("fails with an invalid 'EIO' query parameter", T, async () => {
        const res = await request("GET", `${URL_EIO}?transport=polling`).response;
        assert.equal(res.status, 400);
        const res2 = await request("GET", `${URL_EIO}?EIO=abc&transport=polling`).response;
        assert.equal(res2.status, 400);
      });

      it("fails with an invalid 'transport' query parameter", T, async () => {
        const res = await request("GET", `${URL_EIO}?EIO=4`).response;
        assert.equal(res.status, 400);
        const res2 = await request("GET", `${URL_EIO}?EIO=4&transport=abc`).response;
        assert.equal(res2.status, 400);
      });

      it("fails with an invalid request method", T, async () => {
        const res = await request("POST", `${URL_EIO}?EIO=4&transport=polling`).response;
        assert.equal(res.status, 400);
        const res2 = await request("PUT", `${URL_EIO}?EIO=4&transport=polling`).response;
        assert.equal(res2.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("successfully opens a session", T, async () => {
        const ws = openWs(EIO, "EIO=4&transport=websocket");
        parseOpenPacket(assert, await ws.next(), []);
        ws.terminate();
      });

      it("fails with an invalid 'EIO' query parameter", T, async () => {
        await assertWsRefused(assert, EIO, "transport=websocket");
        await assertWsRefused(assert, EIO, "EIO=abc&transport=websocket");
      });

      it("fails with an invalid 'transport' query parameter", T, async () => {
        await assertWsRefused(assert, EIO, "EIO=4");
        await assertWsRefused(assert, EIO, "EIO=4&transport=abc");
      });
    });
  });

  describe("message", () => {
    describe("HTTP long-polling", () => {
      it("sends and receives a payload containing one plain text packet", T, async () => {
        const sid = await handshake(EIO);
        const pushed = await push(EIO, sid, "4hello");
        assert.equal(pushed.status, 200);
        assert.equal(pushed.body, "ok");
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "4hello");
      });

      it("sends and receives a payload containing several plain text packets", T, async () => {
        const sid = await handshake(EIO);
        const pushed = await push(EIO, sid, "4test1\x1e4test2\x1e4test3");
        assert.equal(pushed.status, 200);
        assert.equal(pushed.body, "ok");
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "4test1\x1e4test2\x1e4test3");
      });

      it("sends and receives a payload containing plain text and binary packets", T, async () => {
        const sid = await handshake(EIO);
        const pushed = await push(EIO, sid, "4hello\x1ebAQIDBA==");
        assert.equal(pushed.status, 200);
        assert.equal(pushed.body, "ok");
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "4hello\x1ebAQIDBA==");
      });

      it("closes the session upon invalid packet format", T, async () => {
        const sid = await handshake(EIO);
        try {
          const pushed = await push(EIO, sid, "abc");
          // The official suite asks for 400 but swallows that assertion together with a
          // network error (its try/catch). Node answers 200 "ok" and closes the session;
          // a clean server answers 400. Anything else is wrong.
          assert.ok([200, 400].includes(pushed.status), `unexpected HTTP ${pushed.status} for an invalid payload`);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          // the server destroyed the connection: accepted, like the official suite
        }
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 400);
      });

      it("closes the session upon duplicate poll requests", T, async () => {
        const sid = await handshake(EIO);
        const first = startPoll(EIO, sid);
        await first.sent;
        const second = startPoll(EIO, sid, "&t=burst");
        const responses = await Promise.all([first.response, second.response]);
        // The parked poll is released with a close packet, the overlapping one is refused
        // (the official suite accepts 400 or 500). Which request the server saw first is up
        // to the network, so the check does not depend on the order.
        const released = responses.filter((r) => r.status === 200);
        const refused = responses.filter((r) => r.status !== 200);
        assert.equal(released.length, 1, `expected exactly one HTTP 200, got ${responses.map((r) => r.status)}`);
        assert.equal(released[0].body, "1");
        assert.ok([400, 500].includes(refused[0].status), `overlapping poll got HTTP ${refused[0].status}`);
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("sends and receives a plain text packet", T, async () => {
        const ws = openWs(EIO, "EIO=4&transport=websocket");
        await ws.opened();
        assert.ok((await ws.next()).startsWith("0")); // handshake
        ws.send("4hello");
        assert.equal(await ws.next(), "4hello");
        ws.terminate();
      });

      it("sends and receives a binary packet", T, async () => {
        const ws = await wsSession(EIO);
        ws.send(Uint8Array.from([1, 2, 3, 4]));
        const frame = await ws.next();
        assert.ok(Buffer.isBuffer(frame), `expected a binary frame, got ${JSON.stringify(frame)}`);
        assert.deepEqual([...frame], [1, 2, 3, 4]);
        ws.terminate();
      });

      it("closes the session upon invalid packet format", T, async () => {
        const ws = await wsSession(EIO);
        ws.answerPings(); // so that only the invalid packet can be what closes the session
        ws.send("abc");
        await ws.closed();
      });
    });
  });

  describe("heartbeat", () => {
    describe("HTTP long-polling", () => {
      it("sends ping/pong packets", T, async () => {
        const sid = await handshake(EIO);
        for (let i = 0; i < 3; i++) {
          const polled = await poll(EIO, sid);
          assert.equal(polled.status, 200);
          assert.equal(polled.body, "2");
          const pushed = await push(EIO, sid, "3");
          assert.equal(pushed.status, 200);
        }
      });

      it("closes the session upon ping timeout", T, async () => {
        const sid = await handshake(EIO);
        // deliberate wait for the server's timers: ping after pingInterval, then no pong
        // for pingTimeout -> the session must be gone
        await sleep(PING_INTERVAL + PING_TIMEOUT);
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("sends ping/pong packets", T, async () => {
        const ws = await wsSession(EIO);
        for (let i = 0; i < 3; i++) {
          assert.equal(await ws.next(), "2");
          ws.send("3");
        }
        ws.terminate();
      });

      it("closes the session upon ping timeout", T, async () => {
        const ws = openWs(EIO, "EIO=4&transport=websocket");
        await ws.closed();
        // the server opened the session and pinged before giving up
        assert.ok(ws.frames.length >= 1 && String(ws.frames[0]).startsWith("0"), "no open packet before the close");
        assert.ok(ws.frames.includes("2"), "the server closed the session without sending a ping first");
      });
    });
  });

  describe("close", () => {
    describe("HTTP long-polling", () => {
      it("forcefully closes the session", T, async () => {
        const sid = await handshake(EIO);
        const parked = await parkPoll(EIO, sid);
        const [polled] = await Promise.all([parked.response, push(EIO, sid, "1")]);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "6");
        const polled2 = await poll(EIO, sid);
        assert.equal(polled2.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("forcefully closes the session", T, async (t) => {
        const ws = await wsSession(EIO);
        if (NODE_REFERENCE) {
          // Known deviation of Node's engine.io 6.6: a close packet received over
          // WebSocket is ignored, the session only ends by ping timeout (which is all the
          // official suite waits for). Under the reference we keep the official check.
          t.diagnostic("Node reference: close packet over WebSocket ignored, session ends by ping timeout");
        } else {
          ws.answerPings(); // the close packet, not the heartbeat, must end the session
        }
        ws.send("1");
        await ws.closed();
      });
    });
  });

  describe("upgrade", () => {
    it("successfully upgrades from HTTP long-polling to WebSocket", T, async () => {
      const sid = await handshake(EIO);
      const ws = openWs(EIO, `EIO=4&transport=websocket&sid=${sid}`);
      await ws.opened();
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");
      const polled = await poll(EIO, sid);
      assert.equal(polled.status, 200);
      assert.equal(polled.body, "6"); // noop to end the long-polling request cleanly
      ws.send("5");
      ws.send("4hello");
      assert.equal(await ws.next(), "4hello");
      ws.terminate();
    });

    it("ignores HTTP requests with same sid after upgrade", T, async () => {
      const { sid, ws } = await upgradedSession();
      const polled = await poll(EIO, sid);
      assert.equal(polled.status, 400);
      ws.send("4hello");
      assert.equal(await ws.next({ skipPings: true }), "4hello");
      ws.terminate();
    });

    it("ignores WebSocket connection with same sid after upgrade", T, async () => {
      const { sid, ws } = await upgradedSession();
      const ws2 = openWs(EIO, `EIO=4&transport=websocket&sid=${sid}`);
      await ws2.closed();
      assert.deepEqual(ws2.frames, [], "the second WebSocket must not receive any packet");
      ws.send("4hello");
      assert.equal(await ws.next({ skipPings: true }), "4hello");
      ws.terminate();
    });
  });
});

describe("Engine.IO protocol (extras)", () => {
  describe("upgrade", () => {
    it("a GET sent right after 2probe and 5, without waiting for 3probe, gets 400 (as the official suite does it; 20 times)", T, async () => {
      for (let i = 0; i < 20; i++) {
        const sid = await handshake(EIO);
        const ws = openWs(EIO, `EIO=4&transport=websocket&sid=${sid}`);
        await ws.opened();
        ws.send("2probe");
        ws.send("5");
        const polled = await poll(EIO, sid);
        assert.equal(polled.status, 400, `attempt ${i}: ${polled.body}`);
        ws.terminate();
      }
    });

    it("answers every polling GET made during an upgrade with a noop and delivers the packets queued meanwhile over the WebSocket, in order", T, async () => {
      const sid = await handshake(EIO);
      // a GET parked before the WebSocket even exists
      const parked = startPoll(EIO, sid);
      await parked.sent;
      const ws = openWs(EIO, `EIO=4&transport=websocket&sid=${sid}`);
      await ws.opened();
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");

      const first = await parked.response;
      assert.equal(first.status, 200);
      assert.equal(first.body, "6", "the GET parked before the probe must be released with a noop");

      // a new GET after "3probe"
      const second = await poll(EIO, sid);
      assert.equal(second.status, 200);
      assert.equal(second.body, "6", "a GET made after the probe must be answered with a noop");

      // the server queues the echoes while no GET is pending...
      const pushed = await push(EIO, sid, "4one\x1e4two\x1e4three");
      assert.equal(pushed.status, 200);

      // ...and delivers them over the WebSocket once the upgrade completes
      ws.send("5");
      ws.send("4four");
      assert.deepEqual(await ws.nextPackets(4), ["4one", "4two", "4three", "4four"]);
      ws.terminate();
    });
  });

  describe("HTTP long-polling", () => {
    it("rejects a POST larger than maxPayload with 413", T, async () => {
      const sid = await handshake(EIO);
      const body = "4" + "a".repeat(MAX_PAYLOAD + 10);
      const pushed = await push(EIO, sid, body);
      assert.equal(pushed.status, 413);
    });

    it("rejects a POST with Content-Type application/octet-stream with 400", T, async (t) => {
      const sid = await handshake(EIO);
      const pending = request("POST", `${URL_EIO}?EIO=4&transport=polling&sid=${sid}`, {
        body: "4hello",
        headers: { "Content-Type": "application/octet-stream" },
        timeout: NODE_REFERENCE ? 1000 : 3000,
      }).response;
      if (!NODE_REFERENCE) {
        const pushed = await pending;
        assert.equal(pushed.status, 400);
        return;
      }
      // Known deviation of Node's engine.io 6.6: it closes the session ("invalid content")
      // but never answers the request. Under the reference we document that behaviour
      // instead: no answer other than 400, and the session is gone.
      t.diagnostic("Node reference: engine.io leaves an application/octet-stream POST unanswered");
      try {
        const pushed = await pending;
        assert.equal(pushed.status, 400);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
      }
      const polled = await poll(EIO, sid);
      assert.equal(polled.status, 400);
    });
  });

  describe("error responses", () => {
    function assertError(res, code, message) {
      assert.equal(res.status, 400);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.equal(res.body, JSON.stringify({ code, message }));
    }

    it("answers an unknown sid with 400 Session ID unknown", T, async () => {
      const res = await poll(EIO, "this-sid-does-not-exist");
      assertError(res, 1, "Session ID unknown");
      assert.equal(res.body, '{"code":1,"message":"Session ID unknown"}');
    });

    it("answers an unknown transport with 400 Transport unknown", T, async () => {
      const res = await request("GET", `${URL_EIO}?EIO=4&transport=abc`).response;
      assertError(res, 0, "Transport unknown");
    });

    it("answers an unsupported EIO version with 400 Unsupported protocol version", T, async () => {
      const res = await request("GET", `${URL_EIO}?EIO=3&transport=polling`).response;
      assertError(res, 5, "Unsupported protocol version");
    });

    it("answers a POST handshake with 400 Bad handshake method", T, async () => {
      const res = await request("POST", `${URL_EIO}?EIO=4&transport=polling`, { body: "" }).response;
      assertError(res, 2, "Bad handshake method");
    });

    it("answers polling after the upgrade with 400 Bad request", T, async () => {
      const { sid, ws } = await upgradedSession();
      const res = await poll(EIO, sid);
      assertError(res, 3, "Bad request");
      ws.terminate();
    });
  });

  describe("CORS", () => {
    it("answers a preflight OPTIONS with 204 and Access-Control-Allow-Origin: *", T, async () => {
      const res = await request("OPTIONS", `${URL_EIO}?EIO=4&transport=polling`, {
        headers: {
          Origin: "http://example.com",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type",
        },
      }).response;
      assert.equal(res.status, 204);
      assert.equal(res.headers["access-control-allow-origin"], "*");
    });
  });

  describe("WebSocket", () => {
    it("closes the connection when a text frame exceeds maxPayload", T, async () => {
      const ws = await wsSession(EIO);
      ws.answerPings();
      ws.send("4" + "a".repeat(MAX_PAYLOAD + 10));
      await ws.closed(5000);
      assert.ok(
        !ws.frames.some((f) => typeof f === "string" && f.startsWith("4a")),
        "the oversized message must not be echoed",
      );
    });
  });
});
