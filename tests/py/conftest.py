"""Fixtures for the python-socketio behaviour tests of the roomcast testbed (tests/TESTBED.md).

The server is the roomcast testbed binary `<target>/debug/examples/testbed` (`<target>` is
$CARGO_TARGET_DIR or `<repo>/target`), or with ROOMCAST_REFERENCE=1 the Node reference
`node tests/js/reference/testbed.mjs`. A missing binary is an error, never a skip.
"""

import atexit
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import socketio

from helpers import WAIT

REPO_ROOT = Path(__file__).resolve().parents[2]
IS_REFERENCE = os.environ.get("ROOMCAST_REFERENCE") == "1"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0

# (mode name, transports argument for Client.connect, transport expected once connected)
TRANSPORT_MODES = [
    ("polling", ["polling"], "polling"),
    ("websocket", ["websocket"], "websocket"),
    ("upgrade", None, "websocket"),
]

FLAGS = {
    "port": "--port",
    "ping_interval": "--ping-interval",
    "ping_timeout": "--ping-timeout",
    "max_payload": "--max-payload",
    "connect_timeout": "--connect-timeout",
    "outbound_queue": "--outbound-queue",
    "transports": "--transports",
    "cookie": "--cookie",
    "parser": "--parser",
}


def testbed_command():
    if IS_REFERENCE:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("ROOMCAST_REFERENCE=1 needs `node` on PATH")
        return [node, str(REPO_ROOT / "tests" / "js" / "reference" / "testbed.mjs")]
    target = os.environ.get("CARGO_TARGET_DIR")
    target = (REPO_ROOT / target) if target else (REPO_ROOT / "target")
    binary = target / "debug" / "examples" / ("testbed.exe" if sys.platform == "win32" else "testbed")
    if not binary.exists():
        raise RuntimeError(
            f"roomcast testbed binary not found at {binary}: build it with "
            "`cargo build --example testbed` (or set ROOMCAST_REFERENCE=1 to run against the Node reference)"
        )
    return [str(binary)]


_live = set()


@atexit.register
def _kill_leftovers():
    """Kills servers whose fixture teardown never ran (e.g. the test run was interrupted)."""
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()


class Testbed:
    """A running testbed process."""

    def __init__(self, **opts):
        args = testbed_command()
        for key, value in opts.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                value = ",".join(value)
            args += [FLAGS[key], str(value)]
        self.args = args
        self.proc = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _live.add(self.proc)
        self._stderr = []
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self._keep_stderr), daemon=True).start()
        try:
            self.port = self._wait_listening()
        except BaseException:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink(line)
        sink(None)

    def _keep_stderr(self, line):
        if line is not None:
            self._stderr.append(line)
            del self._stderr[:-500]

    def _wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(self._failure(f"testbed did not print LISTENING within {START_TIMEOUT} s"))
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=STOP_TIMEOUT)
                raise RuntimeError(self._failure(f"testbed exited before listening (code {self.proc.returncode})"))
            parts = line.split()
            if len(parts) == 2 and parts[0] == "LISTENING" and parts[1].isdigit():
                return int(parts[1])

    def _failure(self, message):
        return f"{message}\ncommand: {' '.join(self.args)}\nstderr:\n{''.join(self._stderr)}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        _live.discard(self.proc)


@pytest.fixture(scope="session")
def server():
    # A short ping interval bounds a python-engineio polling-client race: when `disconnect()` is called
    # while its write loop is busy with a POST, the CLOSE packet is never sent and `disconnect()` waits for
    # the parked GET, which the server only releases with its next ping (25 s by default).
    testbed = Testbed(ping_interval=1000, ping_timeout=5000)
    yield testbed
    testbed.stop()


@pytest.fixture(params=TRANSPORT_MODES, ids=[m[0] for m in TRANSPORT_MODES])
def mode(request):
    name, transports, expected = request.param
    return {"name": name, "transports": transports, "transport": expected}


class Clients:
    """Creates python-socketio clients for a test and disconnects all of them at teardown."""

    def __init__(self, server, mode):
        self.server = server
        self.mode = mode
        self.all = []

    def new(self, **client_kwargs):
        client_kwargs.setdefault("reconnection", False)
        sio = socketio.Client(**client_kwargs)
        self.all.append(sio)
        return sio

    def connect(self, sio=None, namespaces="/", auth=None, **client_kwargs):
        """Connects `sio` (or a new client) in the test's transport mode and checks the transport."""
        if sio is None:
            sio = self.new(**client_kwargs)
        sio.connect(
            self.server.url,
            namespaces=namespaces,
            auth=auth,
            transports=self.mode["transports"],
            wait_timeout=WAIT,
        )
        check_transport(sio, self.mode)
        return sio

    def close(self):
        for sio in self.all:
            try:
                sio.shutdown()
            except Exception:  # noqa: BLE001 - best effort teardown
                pass
            try:
                sio.disconnect()
            except Exception:  # noqa: BLE001
                pass


def check_transport(sio, mode):
    assert sio.transport() == mode["transport"]
    if mode["name"] == "upgrade":
        # the session was opened over polling (which offers the upgrade) and upgraded to websocket
        assert sio.eio.upgrades == ["websocket"]
    elif mode["name"] == "websocket":
        assert sio.eio.upgrades == []


@pytest.fixture
def clients(server, mode):
    c = Clients(server, mode)
    yield c
    c.close()
