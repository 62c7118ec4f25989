// Socket.IO v5 conformance: our own port of every case of the official
// socketio/socket.io-protocol test-suite (its copy of the Engine.IO cases and the
// Socket.IO cases, all against /socket.io/), plus extra wire-level cases it lacks.
//
// Run: node --test --test-concurrency=1 tests/js/conformance/
// (ROOMCAST_REFERENCE=1 runs the same tests against the Node reference server.)

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BASE_URL,
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
  wsSession,
} from "./_util.mjs";

const SIO = "/socket.io/";
const URL_SIO = `${BASE_URL}${SIO}`;
const T = { timeout: 15000 };

// The server's connectTimeout (1000 ms): a close that must be caused by something else
// has to come well before it.
const BEFORE_CONNECT_TIMEOUT_MS = 700;

const PLACEHOLDERS_2 = '{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}';

serverForThisFile();

/** WebSocket session connected to the main namespace (after the CONNECT reply and the "auth" event). */
async function initSocketIOConnection() {
  const ws = await wsSession(SIO);
  ws.send("40");
  const connect = await ws.next();
  assert.ok(connect.startsWith("40"), `expected a CONNECT reply, got ${JSON.stringify(connect)}`);
  assert.equal(await ws.next(), '42["auth",{}]');
  return ws;
}

/** Polling session upgraded to WebSocket; resolves once the upgrade is known to be complete. */
async function upgradedSession() {
  const sid = await handshake(SIO);
  const ws = openWs(SIO, `EIO=4&transport=websocket&sid=${sid}`);
  await ws.opened();
  ws.send("2probe");
  ws.send("5");
  assert.equal(await ws.next(), "3probe");
  // processed after "5" on the same WebSocket: the CONNECT reply arriving on the
  // WebSocket proves that the server has completed the upgrade
  ws.send("40");
  const connect = await ws.next({ skipPings: true });
  assert.ok(connect.startsWith("40{"), `expected a CONNECT reply on the WebSocket, got ${JSON.stringify(connect)}`);
  assert.equal(await ws.next({ skipPings: true }), '42["auth",{}]');
  return { sid, ws };
}

/** Asserts `frames` holds no packet starting with `prefix`. */
function assertNone(frames, prefix, why) {
  const found = frames.find((f) => typeof f === "string" && f.startsWith(prefix));
  assert.equal(found, undefined, why);
}

describe("Engine.IO protocol", () => {
  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("should successfully open a session", T, async () => {
        const res = await request("GET", `${URL_SIO}?EIO=4&transport=polling`).response;
        assert.equal(res.status, 200);
        parseOpenPacket(assert, res.body, ["websocket"]);
      });

      it("should fail with an invalid 'EIO' query parameter", T, async () => {
        const res = await request("GET", `${URL_SIO}?transport=polling`).response;
        assert.equal(res.status, 400);
        const res2 = await request("GET", `${URL_SIO}?EIO=abc&transport=polling`).response;
        assert.equal(res2.status, 400);
      });

      it("should fail with an invalid 'transport' query parameter", T, async () => {
        const res = await request("GET", `${URL_SIO}?EIO=4`).response;
        assert.equal(res.status, 400);
        const res2 = await request("GET", `${URL_SIO}?EIO=4&transport=abc`).response;
        assert.equal(res2.status, 400);
      });

      it("should fail with an invalid request method", T, async () => {
        const res = await request("POST", `${URL_SIO}?EIO=4&transport=polling`).response;
        assert.equal(res.status, 400);
        const res2 = await request("PUT", `${URL_SIO}?EIO=4&transport=polling`).response;
        assert.equal(res2.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("should successfully open a session", T, async () => {
        const ws = openWs(SIO, "EIO=4&transport=websocket");
        parseOpenPacket(assert, await ws.next(), []);
        ws.terminate();
      });

      it("should fail with an invalid 'EIO' query parameter", T, async () => {
        await assertWsRefused(assert, SIO, "transport=websocket");
        await assertWsRefused(assert, SIO, "EIO=abc&transport=websocket");
      });

      it("should fail with an invalid 'transport' query parameter", T, async () => {
        await assertWsRefused(assert, SIO, "EIO=4");
        await assertWsRefused(assert, SIO, "EIO=4&transport=abc");
      });
    });
  });

  describe("heartbeat", () => {
    describe("HTTP long-polling", () => {
      it("should send ping/pong packets", T, async () => {
        const sid = await handshake(SIO);
        for (let i = 0; i < 3; i++) {
          const polled = await poll(SIO, sid);
          assert.equal(polled.status, 200);
          assert.equal(polled.body, "2");
          const pushed = await push(SIO, sid, "3");
          assert.equal(pushed.status, 200);
        }
      });

      it("should close the session upon ping timeout", T, async () => {
        const sid = await handshake(SIO);
        // deliberate wait for the server's timers (ping, then pingTimeout without pong)
        await sleep(PING_INTERVAL + PING_TIMEOUT);
        const polled = await poll(SIO, sid);
        assert.equal(polled.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("should send ping/pong packets", T, async () => {
        const ws = await wsSession(SIO);
        for (let i = 0; i < 3; i++) {
          assert.equal(await ws.next(), "2");
          ws.send("3");
        }
        ws.terminate();
      });

      it("should close the session upon ping timeout", T, async () => {
        const ws = openWs(SIO, "EIO=4&transport=websocket");
        await ws.closed();
        assert.ok(ws.frames.length >= 1 && String(ws.frames[0]).startsWith("0"), "no open packet before the close");
        // Without a namespace the connectTimeout (1000 ms) would close it too, but the
        // ping timeout (pingInterval + pingTimeout = 500 ms) comes first: a ping must
        // have been sent before the close.
        assert.ok(ws.frames.includes("2"), "the server closed the session without sending a ping first");
      });
    });
  });

  describe("close", () => {
    describe("HTTP long-polling", () => {
      it("should forcefully close the session", T, async () => {
        const sid = await handshake(SIO);
        const parked = await parkPoll(SIO, sid);
        const [polled] = await Promise.all([parked.response, push(SIO, sid, "1")]);
        assert.equal(polled.status, 200);
        assert.equal(polled.body, "6");
        const polled2 = await poll(SIO, sid);
        assert.equal(polled2.status, 400);
      });
    });

    describe("WebSocket", () => {
      it("should forcefully close the session", T, async (t) => {
        const ws = await wsSession(SIO);
        if (NODE_REFERENCE) {
          // Known deviation of Node's engine.io 6.6: a close packet over WebSocket is
          // ignored; the session ends by ping timeout, which is all the official suite
          // waits for. Under the reference we keep the official check.
          t.diagnostic("Node reference: close packet over WebSocket ignored, session ends by ping timeout");
        } else {
          ws.answerPings(); // the close packet, not the heartbeat, must end the session
        }
        ws.send("1");
        await ws.closed(NODE_REFERENCE ? undefined : BEFORE_CONNECT_TIMEOUT_MS);
      });
    });
  });

  describe("upgrade", () => {
    it("should successfully upgrade from HTTP long-polling to WebSocket", T, async () => {
      const sid = await handshake(SIO);
      const ws = openWs(SIO, `EIO=4&transport=websocket&sid=${sid}`);
      await ws.opened();
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");
      ws.send("5");
      // (beyond the official case) the session now lives on the WebSocket
      ws.send("40");
      const connect = await ws.next({ skipPings: true });
      assert.ok(connect.startsWith("40{"), `expected a CONNECT reply on the WebSocket, got ${JSON.stringify(connect)}`);
      ws.terminate();
    });

    it("should ignore HTTP requests with same sid after upgrade", T, async () => {
      const { sid, ws } = await upgradedSession();
      const polled = await poll(SIO, sid);
      assert.equal(polled.status, 400);
      ws.terminate();
    });

    it("should ignore WebSocket connection with same sid after upgrade", T, async () => {
      const { sid, ws } = await upgradedSession();
      const ws2 = openWs(SIO, `EIO=4&transport=websocket&sid=${sid}`);
      await ws2.closed();
      assert.deepEqual(ws2.frames, [], "the second WebSocket must not receive any packet");
      ws.terminate();
    });
  });
});

describe("Socket.IO protocol", () => {
  describe("connect", () => {
    it("should allow connection to the main namespace", T, async () => {
      const ws = await wsSession(SIO);
      ws.send("40");
      const data = await ws.next();
      assert.ok(data.startsWith("40"), `expected a CONNECT reply, got ${JSON.stringify(data)}`);
      const handshakeData = JSON.parse(data.substring(2));
      assert.deepEqual(Object.keys(handshakeData), ["sid"]);
      assert.equal(typeof handshakeData.sid, "string");
      assert.equal(await ws.next(), '42["auth",{}]');
    });

    it("should allow connection to the main namespace with a payload", T, async () => {
      const ws = await wsSession(SIO);
      ws.send('40{"token":"123"}');
      const data = await ws.next();
      assert.ok(data.startsWith("40"), `expected a CONNECT reply, got ${JSON.stringify(data)}`);
      const handshakeData = JSON.parse(data.substring(2));
      assert.deepEqual(Object.keys(handshakeData), ["sid"]);
      assert.equal(typeof handshakeData.sid, "string");
      assert.equal(await ws.next(), '42["auth",{"token":"123"}]');
    });

    it("should allow connection to a custom namespace", T, async () => {
      const ws = await wsSession(SIO);
      ws.send("40/custom,");
      const data = await ws.next();
      assert.ok(data.startsWith("40/custom,"), `expected a CONNECT reply, got ${JSON.stringify(data)}`);
      const handshakeData = JSON.parse(data.substring(10));
      assert.deepEqual(Object.keys(handshakeData), ["sid"]);
      assert.equal(typeof handshakeData.sid, "string");
      assert.equal(await ws.next(), '42/custom,["auth",{}]');
    });

    it("should allow connection to a custom namespace with a payload", T, async () => {
      const ws = await wsSession(SIO);
      ws.send('40/custom,{"token":"abc"}');
      const data = await ws.next();
      assert.ok(data.startsWith("40/custom,"), `expected a CONNECT reply, got ${JSON.stringify(data)}`);
      const handshakeData = JSON.parse(data.substring(10));
      assert.deepEqual(Object.keys(handshakeData), ["sid"]);
      assert.equal(typeof handshakeData.sid, "string");
      assert.equal(await ws.next(), '42/custom,["auth",{"token":"abc"}]');
    });

    it("should disallow connection to an unknown namespace", T, async () => {
      const ws = await wsSession(SIO);
      ws.send("40/random");
      assert.equal(await ws.next(), '44/random,{"message":"Invalid namespace"}');
    });

    it("should disallow connection with an invalid handshake", T, async () => {
      const ws = await wsSession(SIO);
      ws.answerPings();
      ws.send("4abc");
      // well before the connectTimeout, which would close the connection anyway
      await ws.closed(BEFORE_CONNECT_TIMEOUT_MS);
    });

    it("should close the connection if no handshake is received", T, async () => {
      const ws = await wsSession(SIO);
      // pings are answered, so the connectTimeout (not the heartbeat) must close it
      ws.answerPings();
      await ws.closed();
    });
  });

  describe("disconnect", () => {
    it("should disconnect from the main namespace", T, async () => {
      const ws = await initSocketIOConnection();
      ws.send("41");
      // no reply to the DISCONNECT, the connection stays: the next packet is the ping
      assert.equal(await ws.next(), "2");
    });

    it("should connect then disconnect from a custom namespace", T, async () => {
      const ws = await initSocketIOConnection();
      assert.equal(await ws.next(), "2"); // ping (deliberately not answered)
      ws.send("40/custom");
      const connect = await ws.next();
      assert.ok(connect.startsWith("40/custom,"), `expected a CONNECT reply, got ${JSON.stringify(connect)}`);
      assert.equal(await ws.next(), '42/custom,["auth",{}]');
      ws.send("41/custom");
      ws.send('42["message","message to main namespace"]');
      assert.equal(await ws.next(), '42["message-back","message to main namespace"]');
    });
  });

  describe("message", () => {
    it("should send a plain-text packet", T, async () => {
      const ws = await initSocketIOConnection();
      ws.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await ws.next(), '42["message-back",1,"2",{"3":[true]}]');
    });

    it("should send a packet with binary attachments", T, async () => {
      const ws = await initSocketIOConnection();
      ws.send(`452-["message",${PLACEHOLDERS_2}]`);
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      const [text, bin1, bin2] = await ws.nextPackets(3);
      assert.equal(text, `452-["message-back",${PLACEHOLDERS_2}]`);
      assert.ok(Buffer.isBuffer(bin1) && Buffer.isBuffer(bin2), "the attachments must be binary frames");
      assert.deepEqual([...bin1], [1, 2, 3]);
      assert.deepEqual([...bin2], [4, 5, 6]);
      ws.terminate();
    });

    it("should send a plain-text packet with an ack", T, async () => {
      const ws = await initSocketIOConnection();
      ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await ws.next(), '43456[1,"2",{"3":[false]}]');
    });

    it("should send a packet with binary attachments and an ack", T, async () => {
      const ws = await initSocketIOConnection();
      ws.send(`452-789["message-with-ack",${PLACEHOLDERS_2}]`);
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      const [text, bin1, bin2] = await ws.nextPackets(3);
      assert.equal(text, `462-789[${PLACEHOLDERS_2}]`);
      assert.ok(Buffer.isBuffer(bin1) && Buffer.isBuffer(bin2), "the attachments must be binary frames");
      assert.deepEqual([...bin1], [1, 2, 3]);
      assert.deepEqual([...bin2], [4, 5, 6]);
      ws.terminate();
    });

    it("should close the connection upon invalid format (unknown packet type)", T, async () => {
      const ws = await initSocketIOConnection();
      ws.answerPings(); // only the invalid packet may close it
      ws.send("4abc");
      await ws.closed();
    });

    it("should close the connection upon invalid format (invalid payload format)", T, async () => {
      const ws = await initSocketIOConnection();
      ws.answerPings();
      ws.send("42{}");
      await ws.closed();
    });

    it("should close the connection upon invalid format (invalid ack id)", T, async () => {
      const ws = await initSocketIOConnection();
      ws.answerPings();
      ws.send('42abc["message-with-ack",1,"2",{"3":[false]}]');
      await ws.closed();
      assertNone(ws.frames, "43", "no ack may be sent for an invalid packet");
    });
  });
});

describe("Socket.IO protocol (extras)", () => {
  it("ignores an EVENT packet without payload (42) and keeps the connection open", T, async () => {
    const ws = await initSocketIOConnection();
    ws.answerPings();
    ws.send("42");
    ws.send('42["message",1]');
    assert.equal(await ws.next(), '42["message-back",1]');
    assert.equal(ws.closeInfo, null);
    ws.terminate();
  });

  it("closes the connection upon a second CONNECT for an already connected namespace", T, async () => {
    const ws = await initSocketIOConnection();
    ws.answerPings();
    ws.send("40");
    await ws.closed();
    assertNone(ws.frames, "40", "the second CONNECT must not be answered");
  });

  it("closes the connection upon an EVENT for a namespace that is not connected", T, async () => {
    const ws = await initSocketIOConnection();
    ws.answerPings();
    ws.send('42/custom,["message",1]');
    await ws.closed();
    assertNone(ws.frames, "42/custom,", "the event must not be handled");
  });

  it("closes the connection upon a BINARY_EVENT announcing 11 attachments", T, async () => {
    const ws = await initSocketIOConnection();
    ws.answerPings();
    const placeholders = Array.from({ length: 11 }, (_, i) => `{"_placeholder":true,"num":${i}}`).join(",");
    ws.send(`4511-["message",${placeholders}]`);
    for (let i = 0; i < 11; i++) {
      if (ws.closeInfo) break;
      ws.send(Uint8Array.from([i]));
    }
    await ws.closed();
    assertNone(ws.frames, "4511-", "the event must not be handled");
  });

  it('closes the connection upon a reserved event name (42["disconnect"])', T, async () => {
    const ws = await initSocketIOConnection();
    ws.answerPings();
    ws.send('42["disconnect"]');
    await ws.closed();
  });
});
