// Rooms and every broadcast form of `emit-to`, asserting exactly who received and who did not.
//
// Non-delivery is asserted without sleeping: after the broadcast under test, the same sender broadcasts a
// barrier to everyone; the server handles one connection's packets in order and each recipient's
// connection delivers in order, so once a client got the barrier, anything the first broadcast sent it has
// already arrived.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, connect, emitWithAck, closeAll, TRANSPORT_MODES } from "../lib/server.mjs";
import { Inbox } from "../lib/inbox.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

for (const mode of TRANSPORT_MODES) {
  describe(`rooms and broadcasts [${mode.name}]`, () => {
    const open = (nsp = "") => connect(server.url + nsp, { ...mode.options }, { upgrade: mode.upgrade });

    let clients; // name -> socket
    let inboxes; // name -> Inbox
    let step = 0;

    // A in r1, B in r2, C in r1 and r2, D in no room.
    before(async () => {
      const [A, B, C, D] = await Promise.all([open(), open(), open(), open()]);
      clients = { A, B, C, D };
      inboxes = Object.fromEntries(Object.entries(clients).map(([k, s]) => [k, new Inbox(s, ["msg"])]));
      assert.deepEqual(await emitWithAck(A, "join", "r1"), ["r1", A.id].sort());
      assert.deepEqual(await emitWithAck(B, "join", ["r2"]), ["r2", B.id].sort());
      assert.deepEqual(await emitWithAck(C, "join", ["r1", "r2"]), ["r1", "r2", C.id].sort());
      assert.deepEqual((await emitWithAck(D, "whoami")).rooms, [D.id]);
    });
    after(() => closeAll(Object.values(clients ?? {})));

    /**
     * Broadcasts `spec` (event "msg" with a unique tag) from `sender`, then a barrier to everyone from the
     * same sender, and checks each client got the tagged message exactly once (expected) or never.
     */
    async function check(senderName, spec, expected, extraArgs = []) {
      step++;
      const tag = `${mode.name}-step-${step}`;
      const barrier = `${tag}-barrier`;
      const sender = clients[senderName];
      assert.equal(await emitWithAck(sender, "emit-to", { ...spec, event: "msg", args: [tag, ...extraArgs] }), true);
      assert.equal(await emitWithAck(sender, "emit-to", { event: "msg", args: [barrier] }), true);
      const got = {};
      for (const [name, inbox] of Object.entries(inboxes)) {
        const barrierIdx = await inbox.waitFor((i) => i.args[0] === barrier, 5000, `${name} barrier ${barrier}`);
        const hits = inbox.items.map((item, idx) => ({ item, idx })).filter(({ item }) => item.args[0] === tag);
        for (const { idx, item } of hits) {
          assert.ok(idx < barrierIdx, `${name}: ${tag} arrived after the barrier`);
          assert.deepEqual(item.args, [tag, ...extraArgs]);
        }
        got[name] = hits.length;
      }
      const want = Object.fromEntries(Object.keys(clients).map((n) => [n, expected.includes(n) ? 1 : 0]));
      assert.deepEqual(got, want, `who received ${JSON.stringify(spec)} from ${senderName}`);
    }

    it("no rooms: everyone, the sender included", async () => {
      await check("D", {}, ["A", "B", "C", "D"]);
      await check("A", { rooms: [] }, ["A", "B", "C", "D"]);
    });

    it("one room: only its members (the sender is not a member)", async () => {
      await check("D", { rooms: ["r1"] }, ["A", "C"]);
      await check("D", { rooms: ["r2"] }, ["B", "C"]);
    });

    it("one room: a sending member receives too unless exclude_self", async () => {
      await check("A", { rooms: ["r1"] }, ["A", "C"]);
      await check("A", { rooms: ["r1"], exclude_self: true }, ["C"]);
    });

    it("union of two rooms: a socket in both receives once", async () => {
      await check("D", { rooms: ["r1", "r2"] }, ["A", "B", "C"]);
    });

    it("everyone except a room", async () => {
      await check("D", { except: ["r2"] }, ["A", "D"]);
      await check("B", { except: ["r1"] }, ["B", "D"]);
    });

    it("a room except another room", async () => {
      await check("D", { rooms: ["r1"], except: ["r2"] }, ["A"]);
      await check("D", { rooms: ["r1", "r2"], except: ["r1"] }, ["B"]);
    });

    it("everyone excluding the sender", async () => {
      await check("C", { exclude_self: true }, ["A", "B", "D"]);
      await check("C", { rooms: ["r1", "r2"], except: ["r2"], exclude_self: true }, ["A"]);
    });

    it("a room nobody is in reaches nobody", async () => {
      await check("D", { rooms: ["nobody-here"] }, []);
    });

    it("a room named like a socket id reaches that socket", async () => {
      await check("D", { rooms: [clients.B.id] }, ["B"]);
    });

    it("broadcasts carry binary to every recipient", async () => {
      await check("D", { rooms: ["r1", "r2"] }, ["A", "B", "C"], [Buffer.from([0, 1, 2, 255]), { b: Buffer.from("x") }]);
    });

    it("leave: a socket that left a room no longer receives its broadcasts", async () => {
      const { C } = clients;
      assert.deepEqual(await emitWithAck(C, "leave", "r1"), ["r2", C.id].sort());
      await check("D", { rooms: ["r1"] }, ["A"]);
      await check("D", { rooms: ["r2"] }, ["B", "C"]);
      assert.deepEqual(await emitWithAck(C, "join", "r1"), ["r1", "r2", C.id].sort());
      await check("D", { rooms: ["r1"] }, ["A", "C"]);
      // leaving a room one is not in changes nothing
      assert.deepEqual(await emitWithAck(clients.D, "leave", "r1"), [clients.D.id]);
    });

    it("rooms are per namespace: a broadcast to r1 in another namespace does not reach / members of r1", async () => {
      const nsp = `/dyn-rooms-${mode.name}`;
      const other = await open(nsp);
      try {
        const otherInbox = new Inbox(other, ["msg"]);
        assert.deepEqual(await emitWithAck(other, "join", "r1"), ["r1", other.id].sort());
        const tag = `${mode.name}-other-nsp-r1`;
        assert.equal(await emitWithAck(other, "emit-to", { rooms: ["r1"], event: "msg", args: [tag] }), true);
        await otherInbox.waitFor((i) => i.args[0] === tag, 5000, "own broadcast in the other namespace");
        // barrier in "/" (sent by D to everyone in "/"), then nobody in "/" has seen the other namespace's message
        await check("D", {}, ["A", "B", "C", "D"]);
        for (const [name, inbox] of Object.entries(inboxes)) {
          assert.equal(inbox.withTag(tag).length, 0, `${name} in / received a broadcast of ${nsp}`);
        }
        assert.deepEqual(await emitWithAck(other, "count"), { sockets: 1, rooms: 1 });
      } finally {
        closeAll(other);
      }
    });
  });
}
