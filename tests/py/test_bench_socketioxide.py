"""The socketioxide reference server of `roomcast-load compare` (benches/socketioxide/) keeps the room API of
the Node reference (benches/reference/server.mjs): the acks, the refusals and their texts, and publish
reaching every socket in the rooms but the sender, once, with exactly the published arguments.

The expectations are the Node reference's own (these tests pass against `node server.mjs` too). The server is
`<target>/debug/roomcast-bench-socketioxide` (`cargo build --workspace`); a missing binary is an error, never a
skip.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import socketio

from helpers import WAIT

REPO_ROOT = Path(__file__).resolve().parents[2]


def binary():
    target = os.environ.get("CARGO_TARGET_DIR")
    target = (REPO_ROOT / target) if target else (REPO_ROOT / "target")
    name = "roomcast-bench-socketioxide" + (".exe" if sys.platform == "win32" else "")
    path = target / "debug" / name
    if not path.exists():
        raise RuntimeError(f"{path} not found: build it with `cargo build --workspace`")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url():
    port = free_port()
    proc = subprocess.Popen(
        [str(binary()), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        line = proc.stdout.readline().strip()
        assert line == f"LISTENING {port}", f"first line {line!r}"
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture
def connect(url):
    clients = []

    def new():
        got = []
        sio = socketio.Client(reconnection=False)
        sio.on("*", lambda event, *args: got.append((event, args)))
        sio.connect(url, transports=["websocket"], wait_timeout=WAIT)
        clients.append(sio)
        return sio, got

    yield new
    for sio in clients:
        sio.disconnect()


def test_join_and_leave_answer_the_rooms_and_refuse_bad_names(connect):
    a, _ = connect()
    joined = a.call("join", ["r1", "r2"], timeout=WAIT)
    assert joined["ok"] is True and sorted(joined["rooms"]) == ["r1", "r2"]
    assert a.call("leave", "r1", timeout=WAIT) == {"ok": True, "rooms": ["r2"]}
    assert a.call("join", [], timeout=WAIT) == {"ok": False, "error": "no room given"}
    assert a.call("join", "", timeout=WAIT) == {"ok": False, "error": "bad room name"}
    assert a.call("join", [1], timeout=WAIT) == {"ok": False, "error": "bad room name"}
    assert a.call("join", "x" * 257, timeout=WAIT) == {"ok": False, "error": "room name too long"}
    assert a.call("join", "é" * 128, timeout=WAIT)["ok"] is True  # 256 bytes


def test_publish_reaches_the_rooms_but_the_sender_once(connect):
    a, got_a = connect()
    b, got_b = connect()
    c, got_c = connect()
    a.call("join", ["r1", "r2"], timeout=WAIT)
    b.call("join", "r1", timeout=WAIT)
    c.call("join", ["r1", "r2"], timeout=WAIT)
    ack = a.call("publish", (["r1", "r2"], "msg", 1, {"k": "v"}, "three"), timeout=WAIT)
    assert ack == {"ok": True}
    deadline = time.monotonic() + WAIT
    while (not got_b or not got_c) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # room for a duplicate or a delivery to the sender to show up
    assert got_b == [("msg", (1, {"k": "v"}, "three"))]
    assert got_c == [("msg", (1, {"k": "v"}, "three"))]
    assert got_a == []


def test_publish_forwards_binary_attachments_as_binary(connect):
    # The generator's `binary` scenario publishes a stamp and a binary attachment; the Node
    # reference forwards the attachment as binary, and so must this server.
    a, _ = connect()
    b, got_b = connect()
    a.call("join", "r1", timeout=WAIT)
    b.call("join", "r1", timeout=WAIT)
    blob = bytes(range(256)) * 256  # 64 KiB
    assert a.call("publish", ("r1", "msg", {"s": 1}, blob), timeout=WAIT) == {"ok": True}
    deadline = time.monotonic() + WAIT
    while not got_b and time.monotonic() < deadline:
        time.sleep(0.02)
    assert got_b == [("msg", ({"s": 1}, blob))]


def test_publish_refusals(connect):
    a, _ = connect()
    a.call("join", "r1", timeout=WAIT)
    assert a.call("publish", ("r2", "msg", 1), timeout=WAIT) == {"ok": False, "error": "not in room"}
    assert a.call("publish", ("r1", "disconnect"), timeout=WAIT) == {
        "ok": False,
        "error": "reserved event name",
    }
    assert a.call("publish", ("r1", 5), timeout=WAIT) == {"ok": False, "error": "bad event name"}
    assert a.call("publish", ([], "msg"), timeout=WAIT) == {"ok": False, "error": "no room given"}


def test_echo_acks_its_arguments_and_unknown_events_are_refused(connect):
    a, _ = connect()
    assert a.call("echo", (1, "two", [3]), timeout=WAIT) == (1, "two", [3])
    assert a.call("echo", {"x": 1}, timeout=WAIT) == {"x": 1}
    assert a.call("whatever", 1, timeout=WAIT) == {"ok": False, "error": "unknown event"}
