"""python-socketio in a roomcast cluster (issue 10): three brokers on a throwaway redis-server
([cluster] adapter = "redis"); python clients on two nodes receive each other's room publishes, in
every transport mode, and polling-only python clients through nginx, run from the shipped
deploy/nginx.conf (only the listen port and the brokers' addresses replaced), keep their sessions on
the node nginx sticks them to and receive publishes from the other nodes.

Which node a client is on: each broker has its own engine.ping_interval_ms (25001, 25002, 25003),
which the client reads from its handshake. Through nginx every client connects from a loopback
address of its own (127.0.x.y), as clients behind a real balancer come from many addresses, since
nginx hashes on it. "Exactly once" and non-delivery are checked with a barrier from every node: each
node's admin API emits a tagged "barrier", which leaves a node the way that node's publishes do.

redis-server and nginx are started here on free ports in temporary directories and stopped by PID;
a missing one is an error, never a skip (scripts/test.sh installs both).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
import socketio

from helpers import WAIT, Inbox, wait_until
from test_broker import Broker, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
PING_BASE = 25000
NODES = 3
# The brokers deploy/nginx.conf lists, replaced by the test's.
SHIPPED_UPSTREAMS = ["127.0.0.1:3000", "127.0.0.1:3010", "127.0.0.1:3020"]


def tool(name):
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin")
    if found is None:
        raise RuntimeError(f"{name} not found: install it (apt-get install {name}); scripts/test.sh does")
    return found


def redis_command(port, *args):
    """One RESP command -> the reply's bytes (enough for PING and CLIENT LIST)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        parts.append(f"${len(a.encode())}\r\n{a}\r\n".encode())
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"".join(parts))
        data = s.recv(65536)
        if data.startswith(b"$"):
            want = int(data[1 : data.index(b"\r\n")])
            while len(data) < data.index(b"\r\n") + 2 + want + 2:
                data += s.recv(65536)
        return data


class Process:
    """A server process in a temporary directory, waited on until `port` accepts; stopped by PID."""

    def __init__(self, args, port, directory):
        self.port, self.dir = port, directory
        self.proc = subprocess.Popen(
            args, cwd=directory.name, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def accepting():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{args[0]} exited: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        try:
            wait_until(accepting, timeout=10, what=f"{args[0]} listening on {port}")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # nginx's master takes its workers down
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.dir.cleanup()


def start_redis():
    port = free_port()
    directory = tempfile.TemporaryDirectory(prefix="roomcast-py-redis-")
    args = [tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis = Process(args + ["--dir", directory.name], port, directory)
    wait_until(lambda: redis_command(port, "PING") == b"+PONG\r\n", what="redis PONG")
    return redis


def nginx_config(port, brokers):
    text = (REPO_ROOT / "deploy" / "nginx.conf").read_text()
    pairs = [("listen 8080;", f"listen 127.0.0.1:{port};")]
    pairs += [(f"server {old} ", f"server 127.0.0.1:{b.port} ") for old, b in zip(SHIPPED_UPSTREAMS, brokers)]
    for old, new in pairs:
        assert text.count(old) == 1, f"deploy/nginx.conf: expected exactly one `{old}` (the test replaces it)"
        text = text.replace(old, new)
    return text


def start_nginx(brokers):
    port = free_port()
    directory = tempfile.TemporaryDirectory(prefix="roomcast-py-nginx-")
    os.chmod(directory.name, 0o755)  # nginx's workers (nobody, when started as root) write under it
    conf = Path(directory.name) / "nginx.conf"
    conf.write_text(nginx_config(port, brokers))
    args = [tool("nginx"), "-p", directory.name + "/", "-e", "stderr", "-c", str(conf), "-g", "daemon off;"]
    return Process(args, port, directory)


@pytest.fixture(scope="module")
def cluster():
    redis = start_redis()
    brokers, nginx = [], None
    try:
        for i in range(1, NODES + 1):
            brokers.append(
                Broker(
                    {
                        "server": {"shutdown_timeout_ms": 3000},
                        "engine": {"ping_interval_ms": PING_BASE + i},
                        "cluster": {"adapter": "redis", "redis_url": f"redis://127.0.0.1:{redis.port}/0"},
                        "namespaces": [{"name": "/", "client_publish": "joined"}],
                    }
                )
            )
        # "/"'s adapter (and its PSUBSCRIBE) is made on first use: one client per node makes it
        warmup = []
        for b in brokers:
            sio = socketio.Client(reconnection=False)
            sio.connect(b.url, transports=["websocket"], wait_timeout=WAIT)
            warmup.append(sio)
        wait_until(
            lambda: redis_command(redis.port, "CLIENT", "LIST").count(b" psub=1 ") == NODES,
            timeout=10,
            what="a PSUBSCRIBE from each node",
        )
        wait_until(lambda: all(any("publisher connected" in l for l in b.log) for b in brokers), what="publishers")
        for sio in warmup:
            sio.disconnect()
        nginx = start_nginx(brokers)
        yield {"brokers": brokers, "nginx": nginx}
    finally:
        if nginx is not None:
            nginx.stop()
        codes = [b.stop() for b in brokers]
        redis.stop()
    assert codes == [0] * NODES, "each broker exits 0 on SIGTERM"


class SourceAddress(requests.adapters.HTTPAdapter):
    """Connects from a given local address."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


_addresses = iter(f"127.0.{2 + n // 250}.{2 + n % 250}" for n in range(250 * 250))


@pytest.fixture
def clients():
    made = []

    def new(url, transports, source=False):
        kwargs = {"reconnection": False}
        if source:
            session = requests.Session()
            session.mount("http://", SourceAddress(next(_addresses)))
            kwargs["http_session"] = session
        sio = socketio.Client(**kwargs)
        inbox = Inbox()
        for e in ("msg", "barrier"):
            inbox.listen(sio, e)
        sio.connect(url, transports=transports, wait_timeout=WAIT)
        made.append(sio)
        node = round(sio.eio.ping_interval * 1000) - PING_BASE
        assert 1 <= node <= NODES, f"pingInterval {sio.eio.ping_interval} names no node"
        return {"sio": sio, "inbox": inbox, "node": node, "sid": sio.get_sid()}

    yield new
    for sio in made:
        # as in test_broker.py: close at the Engine.IO level once the client's send queue is idle
        if sio.connected:
            wait_until(lambda: sio.eio.queue.unfinished_tasks == 0, what="the client's send queue to drain")
            sio.eio.disconnect()


_barriers = iter(range(1, 1_000_000))


def barrier(brokers, members):
    for b in brokers:
        tag = f"barrier-{next(_barriers)}"
        b.ok("POST", "/api/v1/emit", {"event": "barrier", "args": [tag]})
        for m in members:
            m["inbox"].wait_for(lambda ev, args: ev == "barrier" and args[0] == tag, what=tag)


def msgs(member):
    return [args[0] for ev, args in member["inbox"].snapshot() if ev == "msg"]


def publish_round(cluster, members, room):
    """Each member publishes once; every other member gets each publish exactly once, none its own."""
    for m in members:
        assert m["sio"].call("join", room, timeout=WAIT)["ok"] is True
    for n, m in enumerate(members):
        reply = m["sio"].call("publish", (room, "msg", {"from": n, "node": m["node"]}), timeout=WAIT)
        assert reply == {"ok": True}
    barrier(cluster["brokers"], members)
    for n, m in enumerate(members):
        got = sorted(x["from"] for x in msgs(m))
        assert got == [k for k in range(len(members)) if k != n], f"client {n} (node {m['node']})"


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None], ids=["polling", "websocket", "upgrade"])
def test_python_clients_on_two_nodes_receive_each_others_publishes(cluster, clients, transports):
    one, two = cluster["brokers"][:2]
    members = [clients(one.url, transports), clients(two.url, transports), clients(two.url, transports)]
    assert [m["node"] for m in members] == [1, 2, 2]
    publish_round(cluster, members, "py-cluster")


def test_polling_only_python_clients_through_nginx_stick_to_their_nodes(cluster, clients):
    url = f"http://127.0.0.1:{cluster['nginx'].port}"
    members, nodes = [], set()
    deadline = time.monotonic() + 30
    # clients from new addresses until they are on at least two nodes (nginx decides which)
    while len(nodes) < 2 or len(members) < 4:
        assert time.monotonic() < deadline, f"nginx put every client on node(s) {nodes}"
        m = clients(url, ["polling"], source=True)
        members.append(m)
        nodes.add(m["node"])
    publish_round(cluster, members, "py-nginx")
    for m in members:
        # every request of the session reached its node: it is still the same, still polling
        assert m["sio"].connected and m["sio"].get_sid() == m["sid"]
        assert m["sio"].transport() == "polling"
