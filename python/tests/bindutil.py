"""Helpers for the binding's tests (python/tests/test_binding_*.py): no sleeps as synchronisation,
every wait bounded."""
import os
import socket as host_socket
import threading
import time
import unittest

import upysock._upysock as u

usocket, uselect, ussl, uerrno, utime, _thread = u.usocket, u.uselect, u.ussl, u.uerrno, u.utime, u._thread
JOIN = 10  # seconds any helper thread may take before the test fails
CERTS = os.environ.get("UPYSOCK_TEST_CERTS", "")


def free_port():
    """A loopback port nobody listens on (the board has no getsockname, so ask the kernel)."""
    with host_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_fds():
    return len(os.listdir("/proc/self/fd"))


class DeviceTest(unittest.TestCase):
    """Closes every device socket a test made, whatever happened."""

    def setUp(self):
        self.sockets = []

    def tearDown(self):
        for s in self.sockets:
            s.close()

    def sock(self, *args):
        s = usocket.socket(*args)
        self.sockets.append(s)
        return s

    def listener(self):
        """A listening device socket and its address."""
        addr = ("127.0.0.1", free_port())
        ls = self.sock()
        ls.bind(addr)
        ls.listen(2)
        return ls, addr

    def pair(self):
        """(client, server side) of a connected device TCP connection."""
        ls, addr = self.listener()
        c = self.sock()
        c.connect(addr)
        a, _ = ls.accept()
        self.sockets.append(a)
        return c, a

    def assertOSError(self, ctx_exc, arg, text):
        e = ctx_exc.exception
        self.assertIs(type(e), u.OSError)
        self.assertIsInstance(e, OSError)
        self.assertEqual(type(e).__name__, "OSError")
        self.assertEqual(e.args, (arg,))
        self.assertEqual(str(e), text)

    def in_thread(self, fn):
        """Run fn in a thread; returns (thread, started event, outcome list: [result] or [exc])."""
        started, outcome = threading.Event(), []

        def run():
            started.set()
            try:
                outcome.append(fn())
            except BaseException as e:  # the test inspects it
                outcome.append(e)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(started.wait(JOIN))
        return t, outcome

    def assertReleasesGil(self, blocking_call, unblock):
        """blocking_call blocks in the library until unblock() (or its own backstop timeout of a
        few seconds). While it blocks, this thread must keep running Python: a call holding the
        GIL would freeze it until the backstop, and then the call would no longer be blocked."""
        t, outcome = self.in_thread(blocking_call)
        count, end = 0, time.monotonic() + 0.3
        while time.monotonic() < end:
            count += 1
        still_blocked = t.is_alive()
        unblock()
        t.join(JOIN)
        self.assertFalse(t.is_alive(), "the blocked call did not end after unblock()")
        self.assertTrue(still_blocked, "the call ended before unblock(): the GIL was held, or it did not block")
        self.assertGreater(count, 1000)
        return outcome[0]
