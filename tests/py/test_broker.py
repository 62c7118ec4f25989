"""python-socketio against the roomcast broker binary (issue 3): the client room API (join, leave,
publish with binary), JWT auth, and the admin HTTP API (emit with acknowledgements, sockets listing)
driven with requests.

The broker is `<target>/debug/roomcast` (`<target>` = $CARGO_TARGET_DIR or `<repo>/target`; build it with
`cargo build --bin roomcast`), started with a temporary config.toml on free 127.0.0.1 ports. A missing
binary is an error, never a skip.

Non-delivery is checked with a barrier: after the publish under test was acknowledged, the admin API
emits a tagged "barrier" to every socket of the namespace; broadcasts reach each socket in the order the
server took them, so once a client got the barrier a wrongly delivered publish would have arrived too.
"""

import base64
import hashlib
import hmac
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio

from helpers import WAIT, Inbox, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "py-admin-token"
JWT_SECRET = "py-jwt-secret"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def broker_binary():
    target = os.environ.get("CARGO_TARGET_DIR")
    target = (REPO_ROOT / target) if target else (REPO_ROOT / "target")
    binary = target / "debug" / ("roomcast.exe" if sys.platform == "win32" else "roomcast")
    if not binary.exists():
        raise RuntimeError(f"roomcast binary not found at {binary}: build it with `cargo build --bin roomcast`")
    return binary


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def toml(config):
    lines = []
    for section, keys in config.items():
        if section == "namespaces":
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        lines.append("")
    for ns in config.get("namespaces", []):
        lines.append("[[namespaces]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in ns.items()]
        lines.append("")
    return "\n".join(lines)


class Broker:
    """A running `roomcast --config <tmp>` on free ports; stopped by PID."""

    def __init__(self, config):
        for attempt in range(2):
            self.port, self.admin_port = free_port(), free_port()
            full = dict(config)
            full["server"] = {**config.get("server", {}), "bind": f"127.0.0.1:{self.port}"}
            full["admin"] = {"token": ADMIN_TOKEN, **config.get("admin", {}), "bind": f"127.0.0.1:{self.admin_port}"}
            full["log"] = {"level": "info"}
            self.dir = tempfile.TemporaryDirectory(prefix="roomcast-py-")
            path = Path(self.dir.name) / "config.toml"
            path.write_text(toml(full))
            env = {k: v for k, v in os.environ.items() if not k.startswith("ROOMCAST_")}
            env["NO_COLOR"] = "1"
            self.proc = subprocess.Popen(
                [str(broker_binary()), "--config", str(path)],
                cwd=self.dir.name,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self.log = []
            self._lines = queue.Queue()
            threading.Thread(target=self._pump, daemon=True).start()
            try:
                self._wait_ready()
                break
            except RuntimeError as err:
                self.stop()
                if attempt == 0 and "in use" in str(err):
                    continue
                raise
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"

    def _pump(self):
        for line in self.proc.stdout:
            self.log.append(line)
            del self.log[:-1000]
            self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("roomcast did not log 'roomcast ready':\n" + "".join(self.log))
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=STOP_TIMEOUT)
                raise RuntimeError(f"roomcast exited (code {self.proc.returncode}):\n" + "".join(self.log))
            if "roomcast ready" in line:
                return

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        self.dir.cleanup()
        return self.proc.returncode

    def api(self, method, path, body=None, token=ADMIN_TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.request(method, self.admin_url + path, json=body, headers=headers, timeout=WAIT * 3)

    def ok(self, method, path, body=None):
        res = self.api(method, path, body)
        assert res.status_code == 200, f"{path}: {res.status_code} {res.text}"
        return res.json()


@pytest.fixture(scope="module")
def broker():
    b = Broker(
        {
            "server": {"shutdown_timeout_ms": 3000},
            "namespaces": [
                {"name": "/", "client_publish": "joined"},
                {"name": "/secure", "auth": "jwt", "jwt_secret": JWT_SECRET},
            ]
        }
    )
    yield b
    assert b.stop() == 0, "".join(b.log[-50:])


@pytest.fixture(params=[["polling"], ["websocket"]], ids=["polling", "websocket"])
def transports(request):
    return request.param


@pytest.fixture
def clients(broker, transports):
    made = []

    def new(namespace="/", auth=None, events=("msg", "barrier")):
        sio = socketio.Client(reconnection=False)
        inbox = Inbox()
        for e in events:
            inbox.listen(sio, e, namespace=namespace)
        sio.connect(broker.url, namespaces=[namespace], auth=auth, transports=transports, wait_timeout=WAIT)
        made.append(sio)
        return sio, inbox

    yield new
    for sio in made:
        # As in test_polling_clients_that_left_do_not_linger: close at the Engine.IO level once the
        # client's send queue is idle, or python-engineio may never send its close packet under CPU
        # load, and its session (still in the test's rooms) would reach the next test of this
        # module-wide broker until the ping timeout.
        if sio.connected:
            wait_until(lambda: sio.eio.queue.unfinished_tasks == 0, what="the client's send queue to drain")
            sio.eio.disconnect()
    # every session of this test is gone on the server before the next test starts
    wait_until(
        lambda: broker.ok("GET", "/api/v1/stats")["connections"] == 0,
        what="the test's connections closed on the server",
    )


_barriers = iter(range(1, 1_000_000))


def barrier(broker, inboxes, namespace="/"):
    tag = f"barrier-{next(_barriers)}"
    res = broker.ok("POST", "/api/v1/emit", {"namespace": namespace, "event": "barrier", "args": [tag]})
    assert res["recipients"] >= len(inboxes)
    for inbox in inboxes:
        inbox.wait_for(lambda ev, args: ev == "barrier" and args[0] == tag, what=tag)


def msgs(inbox):
    return [args for ev, args in inbox.snapshot() if ev == "msg"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, secret=JWT_SECRET, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), digest).digest()
    return f"{head}.{body}.{b64url(sig)}"


def test_join_leave_answer_rooms_without_own_id(clients):
    sio, _ = clients()
    reply = sio.call("join", ["py-b", "py-a"], timeout=WAIT)
    assert reply["ok"] is True and sorted(reply["rooms"]) == ["py-a", "py-b"]
    assert sio.get_sid() not in reply["rooms"]
    assert sio.call("leave", "py-a", timeout=WAIT) == {"ok": True, "rooms": ["py-b"]}
    bad = sio.call("join", "", timeout=WAIT)
    assert bad["ok"] is False and isinstance(bad["error"], str) and bad["error"]
    assert sio.call("leave", "x" * 257, timeout=WAIT)["ok"] is False
    assert sio.call("what-is-this", 1, timeout=WAIT) == {"ok": False, "error": "unknown event"}


def test_publish_reaches_other_members_once_with_binary(broker, clients):
    a, inbox_a = clients()
    b, inbox_b = clients()
    outsider, inbox_out = clients()
    sender, inbox_sender = clients()
    a.call("join", "py-r1", timeout=WAIT)
    b.call("join", ["py-r1", "py-r2"], timeout=WAIT)
    outsider.call("join", "py-elsewhere", timeout=WAIT)
    sender.call("join", ["py-r1", "py-r2"], timeout=WAIT)

    payload = {"text": "hi", "bin": b"\x00\x01\xfe\xff"}
    reply = sender.call("publish", (["py-r1", "py-r2"], "msg", "tag", payload, b"raw"), timeout=WAIT)
    assert reply == {"ok": True}
    refused = sender.call("publish", ("py-elsewhere", "msg", "nope"), timeout=WAIT)
    assert refused["ok"] is False, "joined policy: not in py-elsewhere"
    reserved = sender.call("publish", ("py-r1", "disconnect"), timeout=WAIT)
    assert reserved["ok"] is False

    inboxes = {"a": inbox_a, "b": inbox_b, "outsider": inbox_out, "sender": inbox_sender}
    barrier(broker, list(inboxes.values()))
    got = {name: msgs(inbox) for name, inbox in inboxes.items()}
    expected = ("tag", payload, b"raw")
    assert got == {"a": [expected], "b": [expected], "outsider": [], "sender": []}
    assert isinstance(got["a"][0][2], bytes)


def test_admin_emit_collects_python_acks(broker, clients):
    a, _ = clients()
    b, _ = clients()
    a.on("question", lambda n: {"from": "a", "n": n + 1})
    b.on("question", lambda n: ["b", n * 2])
    a.call("join", "py-ack", timeout=WAIT)
    b.call("join", "py-ack", timeout=WAIT)
    started = time.monotonic()
    res = broker.ok(
        "POST", "/api/v1/emit", {"event": "question", "args": [20], "rooms": ["py-ack"], "ack_timeout_ms": 10000}
    )
    assert time.monotonic() - started < 5, "answered as soon as both acked"
    assert res["ok"] is True and res["recipients"] == 2 and res["timed_out"] == 0
    by_id = {r["id"]: r["args"] for r in res["responses"]}
    assert by_id == {a.get_sid(): [{"from": "a", "n": 21}], b.get_sid(): [["b", 40]]}


def test_admin_sockets_listing_shows_transport_and_data(broker, clients, transports):
    sio, _ = clients()
    sio.call("join", "py-listed", timeout=WAIT)
    listed = broker.ok("GET", "/api/v1/sockets?namespace=/&room=py-listed")["sockets"]
    assert [s["id"] for s in listed] == [sio.get_sid()]
    s = listed[0]
    assert s["transport"] == transports[0]
    assert s["rooms"] == ["py-listed"] and s["data"] == {} and s["namespace"] == "/"
    assert broker.api("GET", "/api/v1/sockets", token=None).status_code == 401
    assert broker.api("GET", "/api/v1/sockets", token="wrong").json()["error"]["code"] == "unauthorized"


def test_jwt_valid_token_connects_with_sub_as_data(broker, clients):
    sio, _ = clients("/secure", auth={"token": jwt({"sub": "py-user", "exp": int(time.time()) + 300})})
    sid = sio.get_sid("/secure")
    s = broker.ok("GET", f"/api/v1/sockets/{sid}?namespace=/secure")
    assert s["data"] == {"sub": "py-user"}


@pytest.mark.parametrize(
    "label,auth,reason",
    [
        ("missing", None, "missing"),
        ("malformed", {"token": "abc"}, "malformed"),
        ("signature", {"token": jwt({"sub": "u", "exp": int(time.time()) + 300}, secret="nope")}, "signature"),
        ("expired", {"token": jwt({"sub": "u", "exp": int(time.time()) - 30})}, "expired"),
        ("hs384", {"token": jwt({"sub": "u", "exp": int(time.time()) + 300}, alg="HS384")}, "algorithm"),
    ],
)
def test_jwt_refusals(broker, transports, label, auth, reason):
    sio = socketio.Client(reconnection=False)
    errors = []
    got = threading.Event()

    @sio.on("connect_error", namespace="/secure")
    def on_error(data):
        errors.append(data)
        got.set()

    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            sio.connect(broker.url, namespaces=["/secure"], auth=auth, transports=transports, wait_timeout=WAIT)
        assert got.wait(WAIT)
        assert errors[0]["message"] == "unauthorized"
        assert reason in errors[0]["data"]["reason"]
    finally:
        sio.disconnect()


def test_polling_clients_that_left_do_not_linger():
    """python-engineio polling clients that disconnected must not keep counting as connections (stats,
    max_connections) nor hold the SIGTERM drain until shutdown_timeout_ms."""
    b = Broker({"server": {"shutdown_timeout_ms": 5000}})
    try:
        for i in range(5):
            sio = socketio.Client(reconnection=False)
            sio.connect(b.url, transports=["polling"], wait_timeout=WAIT)
            assert sio.call("join", f"cycle-{i}", timeout=WAIT)["ok"] is True
            # python-engineio's write loop checks its state after each POST and stops once
            # disconnect() has run, even with the close packet still queued. So close only when it
            # is idle: the join's POST has returned (its ack can arrive on the GET first), and at
            # the Engine.IO level (python-socketio's disconnect() queues `41` before the close, and
            # the loop may take `41` alone). Otherwise, under CPU load, no close is ever sent and
            # the server can only notice at the ping timeout, as Node's would.
            wait_until(lambda: sio.eio.queue.unfinished_tasks == 0, what="the client's send queue to drain")
            sio.eio.disconnect()
        try:
            wait_until(
                lambda: b.ok("GET", "/api/v1/stats")["connections"] == 0,
                timeout=3,
                what="stats.connections back to 0 after every polling client left",
            )
        except AssertionError as err:
            raise AssertionError(f"{err}\nbroker log:\n{''.join(b.log[-60:])}") from None
    finally:
        started = time.monotonic()
        code = b.stop()
        elapsed = time.monotonic() - started
    assert code == 0
    assert elapsed < 2.5, f"the drain took {elapsed:.2f} s with no client connected (shutdown_timeout_ms 5000)"
