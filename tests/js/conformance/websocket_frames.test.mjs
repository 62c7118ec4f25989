// WebSocket framing as RFC 6455 and the `ws` server behind Node's engine.io handle it: fragmented
// messages, control frames between fragments, and the close codes for bad frames. Run against the
// Engine.IO echo server at /engine.io/ (roomcast's direct WebSocket I/O, or with ROOMCAST_EMBEDDED=1
// its actix-ws path, or with ROOMCAST_REFERENCE=1 the Node reference).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_PAYLOAD, serverForThisFile, withTimeout, wsSession } from "./_util.mjs";

const EIO = "/engine.io/";
const T = { timeout: 15000 };

serverForThisFile();

/** Resolves with the payload of the next pong the server sends (bounded). */
function nextPong(client) {
  return withTimeout(new Promise((resolve) => client.ws.once("pong", resolve)), 3000, "a pong frame");
}

describe("WebSocket framing (extras)", () => {
  it("a text message sent in three fragments arrives as one packet", T, async () => {
    const client = await wsSession(EIO);
    client.ws.send("4hel", { fin: false });
    client.ws.send("lo wo", { fin: false });
    client.ws.send("rld", { fin: true });
    assert.equal(await client.next({ skipPings: true }), "4hello world");
  });

  it("a binary message sent in two fragments arrives whole", T, async () => {
    const client = await wsSession(EIO);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true, fin: false });
    client.ws.send(Buffer.from([4, 5]), { binary: true, fin: true });
    const frame = await client.next({ skipPings: true });
    assert.ok(Buffer.isBuffer(frame), `expected a binary frame, got ${JSON.stringify(frame)}`);
    assert.deepEqual([...frame], [1, 2, 3, 4, 5]);
  });

  it("a ping frame is answered with a pong carrying its payload, also between two fragments", T, async () => {
    const client = await wsSession(EIO);
    let pong = nextPong(client);
    client.ws.ping(Buffer.from("abc"));
    assert.equal((await pong).toString(), "abc");

    client.ws.send("4split ", { fin: false });
    pong = nextPong(client);
    client.ws.ping(Buffer.from("between"));
    client.ws.send("message", { fin: true });
    assert.equal((await pong).toString(), "between");
    assert.equal(await client.next({ skipPings: true }), "4split message");
  });

  it("the client's close code is echoed in the server's close frame", T, async () => {
    const client = await wsSession(EIO);
    client.answerPings();
    client.ws.close(4000, "bye");
    assert.equal((await client.closed()).code, 4000);
  });

  it("a text frame that is not UTF-8 closes the WebSocket with 1007", T, async () => {
    const client = await wsSession(EIO);
    client.answerPings(); // so that only the bad frame can be what closes it
    client.ws.send(Buffer.from([0x34, 0xff, 0xfe]), { binary: false });
    assert.equal((await client.closed()).code, 1007);
  });

  it("an unmasked client frame closes the WebSocket with 1002", T, async () => {
    const client = await wsSession(EIO);
    client.answerPings();
    client.ws.send("4unmasked", { mask: false });
    assert.equal((await client.closed()).code, 1002);
  });

  it("fragments that add up to more than maxPayload close the WebSocket with 1009", T, async () => {
    const client = await wsSession(EIO);
    client.answerPings();
    const half = "x".repeat(Math.ceil(MAX_PAYLOAD / 2) + 1000);
    client.ws.send(`4${half}`, { fin: false });
    client.ws.send(half, { fin: true });
    assert.equal((await client.closed(5000)).code, 1009);
  });
});
