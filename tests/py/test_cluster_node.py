"""python-socketio in a mixed cluster (issue 10): a roomcast broker and a Node.js socket.io 4.8 server
with @socket.io/redis-adapter 8.3 (the benchmark's reference server, benches/reference/server.mjs,
run with --redis-url) on one throwaway redis-server. Both speak the same client room API (join,
publish), so python clients on either join one room and receive each other's publishes exactly once,
never their own, in every transport mode.

Order within a sender: each member's publishes leave its server on one Redis connection and arrive in
that order, so when every member has seen every other member's closing "barrier" publish, whatever
those members published before it has arrived too (a duplicate would have arrived before it as well).

redis-server and the Node server are started here on free ports and stopped by PID; a missing one is
an error, never a skip (scripts/test.sh installs redis-server and the reference server's packages).
"""

import shutil
import tempfile

import pytest
import socketio

from helpers import WAIT, Inbox, wait_until
from test_broker import Broker, free_port
from test_cluster import REPO_ROOT, Process, redis_command, start_redis


def numsub(port, channel):
    reply = redis_command(port, "PUBSUB", "NUMSUB", channel)
    return int(reply.rsplit(b":", 1)[1].split(b"\r\n")[0])


def start_node_server(redis_port):
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found: the test command runs with Node.js 20")
    port = free_port()
    script = REPO_ROOT / "benches" / "reference" / "server.mjs"
    args = [node, str(script), "--port", str(port), "--redis-url", f"redis://127.0.0.1:{redis_port}/0"]
    return Process(args, port, tempfile.TemporaryDirectory(prefix="roomcast-py-node-"))


@pytest.fixture(scope="module")
def mixed():
    redis = start_redis()
    broker, node = None, None
    try:
        url = f"redis://127.0.0.1:{redis.port}/0"
        broker = Broker(
            {
                "server": {"shutdown_timeout_ms": 3000},
                "cluster": {"adapter": "redis", "redis_url": url},
                "namespaces": [{"name": "/", "client_publish": "joined"}],
            }
        )
        node = start_node_server(redis.port)
        # "/"'s adapter (and its subscriptions) is made on first use: one client makes it
        warmup = socketio.Client(reconnection=False)
        warmup.connect(broker.url, transports=["websocket"], wait_timeout=WAIT)
        wait_until(lambda: numsub(redis.port, "socket.io-request#/#") == 2, timeout=10, what="both servers subscribed")
        wait_until(lambda: any("publisher connected" in line for line in broker.log), what="the broker's publisher")
        warmup.disconnect()
        yield {"roomcast": broker.url, "node": f"http://127.0.0.1:{node.port}"}
    finally:
        if node is not None:
            node.stop()
        code = broker.stop() if broker is not None else 0
        redis.stop()
    assert code == 0, "the broker exits 0 on SIGTERM"


@pytest.fixture
def members():
    made = []

    def new(url, transports):
        sio = socketio.Client(reconnection=False)
        inbox = Inbox()
        inbox.listen(sio, "msg")
        sio.connect(url, transports=transports, wait_timeout=WAIT)
        made.append(sio)
        return {"sio": sio, "inbox": inbox}

    yield new
    for sio in made:
        if sio.connected:
            wait_until(lambda: sio.eio.queue.unfinished_tasks == 0, what="the client's send queue to drain")
            sio.eio.disconnect()


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None], ids=["polling", "websocket", "upgrade"])
def test_python_clients_on_roomcast_and_on_node_receive_each_others_publishes(mixed, members, transports):
    room = f"py-mixed-{'-'.join(transports or ['upgrade'])}"
    group = [
        members(mixed["roomcast"], transports),
        members(mixed["node"], transports),
        members(mixed["roomcast"], transports),
        members(mixed["node"], transports),
    ]
    for m in group:
        reply = m["sio"].call("join", room, timeout=WAIT)
        assert reply["ok"] is True and room in reply["rooms"]
    for n, m in enumerate(group):
        assert m["sio"].call("publish", (room, "msg", {"from": n}), timeout=WAIT) == {"ok": True}
    for n, m in enumerate(group):
        assert m["sio"].call("publish", (room, "msg", {"barrier": n}), timeout=WAIT) == {"ok": True}
    for n, m in enumerate(group):
        others = [k for k in range(len(group)) if k != n]
        for k in others:
            m["inbox"].wait_for(lambda ev, args, k=k: args[0].get("barrier") == k, what=f"client {n}: barrier {k}")
        got = sorted(args[0]["from"] for ev, args in m["inbox"].snapshot() if "from" in args[0])
        where = "roomcast" if n % 2 == 0 else "Node"
        assert got == others, f"client {n} (on {where}) got publishes from {got}"
        barriers = sorted(args[0]["barrier"] for ev, args in m["inbox"].snapshot() if "barrier" in args[0])
        assert barriers == others, f"client {n} (on {where}): its own publish came back, or one came twice"
