"""python-socketio with serializer="msgpack" against the testbed started with `--parser msgpack`: namespaces,
the /admin connect_error, mixed arguments, nested binary and acks both ways, in every transport mode."""

import threading

import pytest
import socketio

from conftest import Clients
from conftest import Testbed as MsgpackTestbed
from helpers import WAIT, Inbox


@pytest.fixture(scope="module")
def msgpack_server():
    # short ping interval: see the `server` fixture in conftest.py
    testbed = MsgpackTestbed(ping_interval=1000, ping_timeout=5000, parser="msgpack")
    yield testbed
    testbed.stop()


@pytest.fixture
def mp(msgpack_server, mode):
    c = Clients(msgpack_server, mode)
    yield c
    c.close()


def test_namespaces_and_identity(mp, mode):
    sio = mp.connect(namespaces=["/", "/custom"], auth={"n": 1}, serializer="msgpack")
    for nsp in ("/", "/custom"):
        me = sio.call("whoami", namespace=nsp, timeout=WAIT)
        sid = sio.get_sid(nsp)
        assert me == {"id": sid, "nsp": nsp, "transport": mode["transport"], "auth": {"n": 1}, "rooms": [sid]}


def test_admin_middleware_refusal_carries_its_data(mp):
    sio = mp.new(serializer="msgpack")
    errors = []
    got_error = threading.Event()

    def on_connect_error(data):
        errors.append(data)
        got_error.set()

    sio.on("connect_error", on_connect_error, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        mp.connect(sio, namespaces=["/admin"], auth={"token": "wrong"})
    assert got_error.wait(WAIT), "no connect_error"
    assert errors == [{"message": "unauthorized", "data": {"reason": "bad token"}}]
    ok = mp.connect(namespaces=["/admin"], auth={"token": "secret"}, serializer="msgpack")
    assert ok.call("whoami", namespace="/admin", timeout=WAIT)["nsp"] == "/admin"


def test_mixed_and_binary_arguments_both_ways(mp):
    sio = mp.new(serializer="msgpack")
    inbox = Inbox()
    inbox.listen(sio, "echo")
    mp.connect(sio)
    args = (
        "text",
        -7,
        2**40,
        1.5,
        None,
        True,
        b"\x01\x02\x03",
        {"nested": {"deep": [b"\xff" * 70000, {"more": b""}]}, "u": "ünïcødé ✓ 🚀"},
    )
    sio.emit("echo", args)
    inbox.wait_for(lambda ev, a: True, what="echo")
    [(_, got)] = inbox.snapshot()
    assert got == args
    assert isinstance(got[6], bytes)
    assert sio.call("echo-ack", args, timeout=WAIT) == args


def test_binary_ack_from_client(mp):
    sio = mp.new(serializer="msgpack")
    sio.on("bin-question", lambda data, obj: (data + b"\x09", {"got": obj["inner"]}))
    mp.connect(sio)
    res = sio.call(
        "server-ack",
        {"event": "bin-question", "args": [b"\x01\x02", {"inner": b"\x05\x06"}], "timeout_ms": 3000},
        timeout=WAIT,
    )
    assert res == {"args": [b"\x01\x02\x09", {"got": b"\x05\x06"}]}
