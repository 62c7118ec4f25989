"""Helpers shared by the python-socketio tests: bounded, event-driven waits."""

import threading
import time

WAIT = 5.0  # bound for every wait on a server answer


class Inbox:
    """Records events received by a client, with bounded waits (threading.Condition)."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def handler(self, event):
        def on_event(*args):
            with self.cond:
                self.items.append((event, args))
                self.cond.notify_all()

        return on_event

    def listen(self, sio, event, namespace="/"):
        sio.on(event, self.handler(event), namespace=namespace)

    def wait_for(self, predicate, timeout=WAIT, what="a matching event"):
        """Returns the index of the first received item matching predicate(event, args)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (event, args) in enumerate(self.items):
                    if predicate(event, args):
                        return i
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; received {self.items!r}")
                self.cond.wait(remaining)

    def snapshot(self):
        with self.cond:
            return list(self.items)


def wait_until(fn, timeout=WAIT, interval=0.02, what="condition"):
    """Polls fn() (bounded) until it returns something truthy, for state with no event to wait on,
    such as a disconnect the server processes on another connection."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {value!r})")
        time.sleep(interval)
