"""python-socketio: namespaces /custom, /admin (good and bad token), unknown, dynamic, multiplexed."""

import threading

import pytest
import socketio

from helpers import WAIT, Inbox


def test_custom_namespace(clients, mode):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "echo", namespace="/custom")
    clients.connect(sio, namespaces=["/custom"])
    sid = sio.get_sid("/custom")
    assert sio.call("whoami", namespace="/custom", timeout=WAIT) == {
        "id": sid,
        "nsp": "/custom",
        "transport": mode["transport"],
        "auth": {},
        "rooms": [sid],
    }
    sio.emit("echo", ("in custom", b"\x07"), namespace="/custom")
    inbox.wait_for(lambda ev, a: True, what="echo in /custom")
    assert inbox.snapshot() == [("echo", ("in custom", b"\x07"))]


def test_admin_with_good_token(clients, mode):
    sio = clients.connect(namespaces=["/admin"], auth={"token": "secret"})
    sid = sio.get_sid("/admin")
    me = sio.call("whoami", namespace="/admin", timeout=WAIT)
    assert me == {
        "id": sid,
        "nsp": "/admin",
        "transport": mode["transport"],
        "auth": {"token": "secret"},
        "rooms": [sid],
    }


@pytest.mark.parametrize("auth", [{"token": "wrong"}, None], ids=["bad-token", "no-token"])
def test_admin_with_bad_token_is_refused(clients, auth):
    sio = clients.new()
    errors = []
    got_error = threading.Event()

    def on_connect_error(data):
        errors.append(data)
        got_error.set()

    sio.on("connect_error", on_connect_error, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        clients.connect(sio, namespaces=["/admin"], auth=auth)
    assert got_error.wait(WAIT)
    assert errors == [{"message": "unauthorized", "data": {"reason": "bad token"}}]
    assert not sio.connected


def test_unknown_namespace_is_refused(clients):
    sio = clients.new()
    errors = []
    sio.on("connect_error", lambda data: errors.append(data), namespace="/no-such-namespace")
    with pytest.raises(socketio.exceptions.ConnectionError):
        clients.connect(sio, namespaces=["/no-such-namespace"])
    assert errors == [{"message": "Invalid namespace"}]


def test_dynamic_namespace_says_hello(clients):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "hello", namespace="/dyn-42")
    clients.connect(sio, namespaces=["/dyn-42"])
    inbox.wait_for(lambda ev, a: True, what="hello")
    assert inbox.snapshot() == [("hello", ("/dyn-42",))]
    me = sio.call("whoami", namespace="/dyn-42", timeout=WAIT)
    assert me["nsp"] == "/dyn-42"
    assert me["id"] == sio.get_sid("/dyn-42")


def test_namespaces_multiplexed_over_one_connection(clients, mode):
    sio = clients.connect(namespaces=["/", "/custom", "/admin", "/dyn-7"], auth={"token": "secret"})
    engine_sid = sio.eio.sid
    names = ["/", "/custom", "/admin", "/dyn-7"]
    mes = [sio.call("whoami", namespace=n, timeout=WAIT) for n in names]
    assert [m["nsp"] for m in mes] == names
    assert [m["id"] for m in mes] == [sio.get_sid(n) for n in names]
    assert len({m["id"] for m in mes}) == 4
    assert all(m["transport"] == mode["transport"] for m in mes)
    assert sio.eio.sid == engine_sid
