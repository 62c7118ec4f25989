"""python-socketio (sync Client): identity, emits and acks both ways, binary, in every transport mode."""

import threading
import time

import pytest

from helpers import WAIT, Inbox, wait_until


def test_whoami_sid_equals_server_socket_id(clients, mode):
    sio = clients.connect(auth={"token": "abc", "n": 1})
    sid = sio.get_sid("/")
    assert isinstance(sid, str) and sid
    me = sio.call("whoami", timeout=WAIT)
    assert me == {
        "id": sid,
        "nsp": "/",
        "transport": mode["transport"],
        "auth": {"token": "abc", "n": 1},
        "rooms": [sid],
    }
    # the namespace socket id is not the Engine.IO session id
    assert sid != sio.eio.sid


def test_whoami_without_auth(clients):
    sio = clients.connect()
    me = sio.call("whoami", timeout=WAIT)
    assert me["auth"] == {}
    assert me["id"] == sio.get_sid("/")


def test_emit_both_ways_echo(clients):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "echo")
    clients.connect(sio)
    args = ("text", 42, 1.5, True, False, None, {"a": [1, "two", {"three": 3}]}, [], {}, "ünïcødé ✓ 🚀")
    sio.emit("echo", args)
    inbox.wait_for(lambda ev, a: True, what="echo")
    assert inbox.snapshot() == [("echo", args)]


def test_emits_come_back_in_order(clients):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "echo")
    clients.connect(sio)
    # 10, not more: python-engineio's polling client refuses (and drops the connection on) a payload of more
    # than 16 packets (engineio.payload.Payload.max_decode_packets), and the server may batch all the echoes
    # into one polling response
    n = 10
    for i in range(n):
        sio.emit("echo", i)
    inbox.wait_for(lambda ev, a: a == (n - 1,), what=f"echo number {n}")
    # python-socketio runs each event handler in its own thread, so arrival order at the handler is not
    # guaranteed; check that each came back exactly once
    assert sorted(a for _, a in inbox.snapshot()) == [(i,) for i in range(n)]


def test_ack_from_server_echo_ack(clients):
    sio = clients.connect()
    assert sio.call("echo-ack", "single", timeout=WAIT) == "single"
    assert sio.call("echo-ack", ("a", 1, {"b": [True, None]}), timeout=WAIT) == ("a", 1, {"b": [True, None]})

    # the callback form
    got = []
    done = threading.Event()

    def callback(*args):
        got.append(args)
        done.set()

    sio.emit("echo-ack", ("x", 2), callback=callback)
    assert done.wait(WAIT), "no ack"
    assert got == [("x", 2)]


def test_ack_from_client_server_ack(clients):
    sio = clients.new()
    seen = []

    def question(a, b):
        seen.append((a, b))
        return "answer", a + b, {"ok": True}

    sio.on("question", question)
    clients.connect(sio)
    res = sio.call("server-ack", {"event": "question", "args": [20, 22], "timeout_ms": 3000}, timeout=WAIT)
    assert seen == [(20, 22)]
    assert res == {"args": ["answer", 42, {"ok": True}]}


def test_ack_from_client_single_value_and_none(clients):
    sio = clients.new()
    sio.on("single", lambda x: x * 2)
    sio.on("nothing", lambda: None)
    clients.connect(sio)
    assert sio.call("server-ack", {"event": "single", "args": [21], "timeout_ms": 3000}, timeout=WAIT) == {
        "args": [42]
    }
    # python-socketio acknowledges with no arguments when the handler returns None
    assert sio.call("server-ack", {"event": "nothing", "args": [], "timeout_ms": 3000}, timeout=WAIT) == {
        "args": []
    }


def test_binary_both_ways(clients):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "echo")
    clients.connect(sio)
    big = bytes((i * 7 + 3) & 0xFF for i in range(100 * 1024))
    args = (
        b"\x01\x02\x03",
        "text between",
        {"nested": {"deep": [bytes("héllo", "utf-8"), {"more": b""}]}, "n": 7},
        [big, b"\x1e\x00\x0a"],
    )
    sio.emit("echo", args)
    inbox.wait_for(lambda ev, a: True, what="binary echo")
    [(event, got)] = inbox.snapshot()
    assert got == args
    assert isinstance(got[0], bytes)
    assert isinstance(got[3][0], bytes)

    # binary through the server's ack
    assert sio.call("echo-ack", args, timeout=WAIT) == args


def test_binary_ack_from_client(clients):
    sio = clients.new()
    sio.on("bin-question", lambda data, obj: (data + b"\x09", {"got": obj["inner"]}))
    clients.connect(sio)
    res = sio.call(
        "server-ack",
        {"event": "bin-question", "args": [b"\x01\x02", {"inner": b"\x05\x06"}], "timeout_ms": 3000},
        timeout=WAIT,
    )
    assert res == {"args": [b"\x01\x02\x09", {"got": b"\x05\x06"}]}


@pytest.mark.parametrize("close", [False, True])
def test_server_disconnect(clients, close):
    sio = clients.new()
    reasons = []
    gone = threading.Event()

    def on_disconnect(reason):
        reasons.append(reason)
        gone.set()

    sio.on("disconnect", on_disconnect)
    clients.connect(sio)
    observer = clients.connect()
    sid = sio.get_sid("/")
    sio.emit("disconnect-me", close)
    assert gone.wait(WAIT), "no disconnect"
    assert reasons == [sio.reason.SERVER_DISCONNECT]
    record = wait_until(lambda: observer.call("last-disconnect", sid, timeout=WAIT), what="last-disconnect")
    assert record == {"reason": "server namespace disconnect", "rooms": []}


def test_client_disconnect_is_prompt(clients, mode):
    """Client.disconnect() returns promptly. Over WebSocket, python-socketio's websocket-client waits in
    close() until the server ends the TCP connection after the closing handshake (RFC 6455 7.1.1: the server
    closes TCP first), so a server that lingers makes every disconnect slow. The bound is generous: it takes
    a few milliseconds against socket.io."""
    sio = clients.connect()
    observer = clients.connect()
    sid = sio.get_sid()
    started = time.monotonic()
    sio.disconnect()
    elapsed = time.monotonic() - started
    assert elapsed < 0.5, f"disconnect() took {elapsed:.3f} s over {mode['transport']}"
    record = wait_until(lambda: observer.call("last-disconnect", sid, timeout=WAIT), what="last-disconnect")
    # python-engineio may close the WebSocket before its write loop sent the DISCONNECT packet
    assert record["reason"] in ("client namespace disconnect", "transport close"), record
