"""python-socketio: after the transport is lost, the client reconnects and gets a new socket id."""

import threading

import requests

from helpers import WAIT, wait_until


def _break_transport(sio, server):
    """Makes the client's transport go away without a Socket.IO disconnect, so the client reconnects."""
    if sio.transport() == "websocket":
        # close the WebSocket under the client: its read loop ends with a transport error
        sio.eio.ws.close()
    else:
        # send an Engine.IO CLOSE packet on the client's session from outside the client: the server ends
        # the session ("transport close"), the client's next poll gets HTTP 400 and it reconnects
        r = requests.post(
            f"{server.url}/socket.io/",
            params={"EIO": "4", "transport": "polling", "sid": sio.eio.sid},
            data="1",
            timeout=WAIT,
        )
        assert r.status_code == 200, r.text


def test_reconnect_gets_a_new_id(clients, server, mode):
    sio = clients.new(reconnection=True, reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0)
    connects = []
    disconnects = []
    reconnected = threading.Event()
    lost = threading.Event()

    def on_connect():
        connects.append(sio.get_sid())
        if len(connects) == 2:
            reconnected.set()

    def on_disconnect(reason):
        disconnects.append(reason)
        lost.set()

    sio.on("connect", on_connect)
    sio.on("disconnect", on_disconnect)
    clients.connect(sio)
    observer = clients.connect()

    first_sid = sio.get_sid()
    first_engine_sid = sio.eio.sid
    assert sio.call("join", "before", timeout=WAIT) == sorted(["before", first_sid])

    _break_transport(sio, server)
    assert lost.wait(WAIT), "the client did not notice the lost transport"
    assert disconnects == [sio.reason.TRANSPORT_ERROR]
    assert reconnected.wait(WAIT), "the client did not reconnect"

    new_sid = sio.get_sid()
    assert connects == [first_sid, new_sid]
    assert new_sid != first_sid
    assert sio.eio.sid != first_engine_sid
    me = sio.call("whoami", timeout=WAIT)
    assert me["id"] == new_sid
    # rooms are not restored (no connection state recovery)
    assert me["rooms"] == [new_sid]
    assert me["transport"] == mode["transport"]

    record = wait_until(lambda: observer.call("last-disconnect", first_sid, timeout=WAIT), what="last-disconnect")
    assert record["rooms"] == ["before"]
    assert record["reason"] in ("transport close", "transport error"), record
