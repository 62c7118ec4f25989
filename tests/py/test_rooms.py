"""python-socketio: rooms, and a broadcast to a room received by two Python clients (and nobody else).

Non-delivery is checked with a barrier: after the broadcast under test the same sender broadcasts to
everyone; the server keeps each connection's order, so once a client got the barrier anything the first
broadcast sent it has arrived at the client. (python-socketio runs each event handler in its own thread,
so a handler of an earlier message could in theory still be running; that can only hide a wrong delivery,
never fail a correct one.)
"""

from helpers import WAIT, Inbox


def _client(clients):
    sio = clients.new()
    inbox = Inbox()
    inbox.listen(sio, "msg")
    clients.connect(sio)
    return sio, inbox


def test_broadcast_to_a_room(clients, mode):
    a, inbox_a = _client(clients)
    b, inbox_b = _client(clients)
    outsider, inbox_out = _client(clients)
    sender, inbox_sender = _client(clients)
    room = f"py-room-{mode['name']}"

    assert a.call("join", room, timeout=WAIT) == sorted([room, a.get_sid()])
    assert b.call("join", [room, "other"], timeout=WAIT) == sorted([room, "other", b.get_sid()])
    assert outsider.call("join", "elsewhere", timeout=WAIT) == sorted(["elsewhere", outsider.get_sid()])

    payload = {"text": "to the room", "bin": b"\x00\xff"}
    assert sender.call("emit-to", {"rooms": [room], "event": "msg", "args": ["tagged", payload]}, timeout=WAIT) is True
    assert sender.call("emit-to", {"event": "msg", "args": ["barrier"]}, timeout=WAIT) is True

    everyone = {"a": inbox_a, "b": inbox_b, "outsider": inbox_out, "sender": inbox_sender}
    for name, inbox in everyone.items():
        inbox.wait_for(lambda ev, args: args[0] == "barrier", what=f"barrier at {name}")
    got = {name: [args for _, args in inbox.snapshot() if args[0] == "tagged"] for name, inbox in everyone.items()}
    assert got == {
        "a": [("tagged", payload)],
        "b": [("tagged", payload)],
        "outsider": [],
        "sender": [],
    }


def test_broadcast_except_and_exclude_self(clients, mode):
    a, inbox_a = _client(clients)
    b, inbox_b = _client(clients)
    c, inbox_c = _client(clients)
    r1, r2 = f"py-r1-{mode['name']}", f"py-r2-{mode['name']}"
    a.call("join", r1, timeout=WAIT)
    b.call("join", [r1, r2], timeout=WAIT)

    # from a to r1 except r2, excluding itself: nobody (b is in r2)
    assert a.call("emit-to", {"rooms": [r1], "except": [r2], "exclude_self": True, "event": "msg", "args": ["t1"]},
                  timeout=WAIT) is True
    # from a to r1, excluding itself: b only
    assert a.call("emit-to", {"rooms": [r1], "exclude_self": True, "event": "msg", "args": ["t2"]},
                  timeout=WAIT) is True
    # to everyone except r2: a and c
    assert a.call("emit-to", {"except": [r2], "event": "msg", "args": ["t3"]}, timeout=WAIT) is True
    assert a.call("emit-to", {"event": "msg", "args": ["barrier"]}, timeout=WAIT) is True

    inboxes = {"a": inbox_a, "b": inbox_b, "c": inbox_c}
    for name, inbox in inboxes.items():
        inbox.wait_for(lambda ev, args: args[0] == "barrier", what=f"barrier at {name}")
    got = {name: sorted(args[0] for _, args in inbox.snapshot() if args[0] != "barrier") for name, inbox in inboxes.items()}
    assert got == {"a": ["t3"], "b": ["t2"], "c": ["t3"]}


def test_join_and_leave_report_rooms(clients):
    sio = clients.connect()
    sid = sio.get_sid()
    assert sio.call("join", ["b", "a"], timeout=WAIT) == sorted(["a", "b", sid])
    assert sio.call("leave", "a", timeout=WAIT) == sorted(["b", sid])
    assert sio.call("whoami", timeout=WAIT)["rooms"] == sorted(["b", sid])
