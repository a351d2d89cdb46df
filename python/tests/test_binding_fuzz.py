"""Wrong arguments never crash the interpreter: every socket method and module function that
cannot wait is called with every combination of odd values (up to two arguments), in a child
process; each call may raise any Exception, and the child must end normally."""
import subprocess
import sys
import unittest

CHILD = r'''
import itertools
import upysock._upysock as u
ODD = [None, 0, -1, 2**70, True, 1.5, float("nan"), "", "x" * 300, b"\x00", bytearray(3), (), ["a", 1],
       ("127.0.0.1",), ("127.0.0.1", 1, 2), ("localhost", 1), ("127.0.0.1", 2**40), object(), u.uselect.poll()]

def hammer(fn):
    calls = 0
    for n in range(3):
        for args in itertools.product(ODD, repeat=n):
            try:
                fn(*args)
            except Exception:
                pass
            calls += 1
    return calls

total = 0
s = u.usocket.socket()
s.setblocking(False)  # nothing may wait
udp = u.usocket.socket(u.usocket.AF_INET, u.usocket.SOCK_DGRAM)
udp.setblocking(False)
for sock in (s, udp):
    for name in ("bind", "listen", "accept", "connect", "send", "sendall", "sendto", "recv", "recvfrom",
                 "setsockopt", "settimeout", "makefile", "fileno", "read", "readinto", "readline", "write",
                 "do_handshake"):
        total += hammer(getattr(sock, name))
        sock.setblocking(False)  # settimeout/setblocking may have been hammered back to blocking
    total += hammer(lambda *a: u.ussl.wrap_socket(sock, *a))
    for kw in ("keyfile", "certfile", "server_side", "cert_reqs", "ssl_version", "ca_certs", "server_hostname",
               "saved_session", "timeout"):
        total += hammer(lambda *a: u.ussl.wrap_socket(sock, **{kw: a[0]}) if a else None)
    sock.close()
for fn in (u.usocket.socket, u.usocket.getaddrinfo, u.ussl.save_session, u.utime.ticks_add, u.utime.ticks_diff,
           u.utime.ticks_ms, u.utime.time, u._thread.stack_size, u._thread.get_ident, u.configure, u.OSError,
           lambda *a: str(u.OSError(*a)), u.set_thread_excepthook, u.uselect.poll().register,
           u.uselect.poll().unregister, u.uselect.poll().modify, lambda *a: u.uselect.select(*(a + ([], [], []))[:3], 0)):
    total += hammer(fn)
u.usocket.dnsserver(0, "")
u.usocket.dnsserver(1, "")
u.set_thread_excepthook(None)
print("calls", total)
'''


class Fuzz(unittest.TestCase):
    def test_odd_arguments_raise_but_never_crash(self):
        p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertRegex(p.stdout, r"calls \d+")


if __name__ == "__main__":
    unittest.main()
