"""Tutorial 3 (a non-blocking TLS client) through the runner: the unchanged .py file, whose
`(p)` is not a tuple, and its `(p,)`-fixed variant, against `openssl s_server` and
examples/tls_server, beside the C port examples/tutorial_ssl_client (which is the fixed one)."""
import os
import re
import signal
import subprocess
import unittest

from runner_support import (CERTS, FLASH, OPENSSL, Proc, c_example, clean_env, needs_build,
                            py_example, run, runner_cmd)

UNCHANGED = py_example("tutorial3_ssl_client.py")
FIXED = py_example("tutorial3_ssl_client_fixed.py")
PROFILES = ("pycom-1.20.2", "pycom-1.20.0")
ECHO = "".join(f"Data received: b'{c}'\n" for c in "Data to send")


def type_error_traceback():
    """What the board prints for the tutorial's `_thread.start_new_thread(socket_thread, (p))`."""
    with open(UNCHANGED) as f:
        line = next(n for n, text in enumerate(f, 1) if text.startswith("_thread.start_new_thread("))
    return ("Traceback (most recent call last):\n"
            f'  File "tutorial3_ssl_client.py", line {line}, in <module>\n'
            "TypeError: object 'poll' isn't a tuple or list\n")


def client_env(port, profile):
    return clean_env(UPYSOCK_REMAP=f"192.168.0.234:6543=127.0.0.1:{port}", UPYSOCK_FLASH=FLASH,
                     UPYSOCK_PROFILE=profile)


@needs_build
class Tutorial3(unittest.TestCase):
    def s_server(self):
        """openssl s_server on a free loopback port, stdin kept open (it ends its connection
        when stdin ends): (Proc, port)."""
        cert = lambda name: os.path.join(CERTS, name)
        proc = Proc(self, [OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", cert("server.pem"),
                           "-key", cert("server.key"), "-CAfile", cert("ca.pem"), "-Verify", "1"],
                    stdin=subprocess.PIPE)
        self.addCleanup(proc.p.stdin.close)
        return proc, int(proc.wait_out_match(re.compile(rb"ACCEPT 127\.0\.0\.1:(\d+)\n")).group(1))

    def tls_server(self):
        proc = Proc(self, [c_example("tls_server")], log=True,
                    env=clean_env(UPYSOCK_REMAP="192.168.0.234:6543=127.0.0.1:0", UPYSOCK_FLASH=FLASH))
        return proc, proc.listen_port()

    def test_unchanged_shakes_hands_inside_connect_then_raises_the_boards_type_error(self):
        server, port = self.s_server()
        status, out, err = run(runner_cmd(UNCHANGED), env=client_env(port, "pycom-1.20.2"))
        self.assertEqual((status, out, err), (1, type_error_traceback(), ""))
        # the handshake (with the tutorial's client certificate) was done before the TypeError
        server.wait_out("CIPHER is ECDHE-ECDSA-")
        self.assertIn("subject=CN = pycom-client\n", server.out.decode())
        self.assertNotIn("Data to send", server.stop()[1])

        server, port = self.tls_server()
        status, out, _ = run(runner_cmd(UNCHANGED), env=client_env(port, "pycom-1.20.2"))
        self.assertEqual((status, out), (1, type_error_traceback()))
        self.assertNotIn("Received:", server.stop()[1])

    def test_fixed_sends_to_s_server_under_both_profiles(self):
        for profile in PROFILES:
            with self.subTest(profile=profile):
                server, port = self.s_server()
                client = Proc(self, runner_cmd(FIXED), env=client_env(port, profile))
                server.wait_out("Data to send")
                self.assertEqual(client.stop(signal.SIGTERM)[:2], (0, ""))
                server.stop()

    def test_fixed_receives_the_echo_byte_by_byte_as_the_c_port_does(self):
        for profile in PROFILES:
            with self.subTest(profile=profile):
                server, port = self.tls_server()
                status, out, _ = run(runner_cmd("--exit-when-idle", FIXED), env=client_env(port, profile))
                self.assertEqual((status, out), (0, ECHO))
                server.wait_out("Received: b'Data to send'\n")
                server.stop()

                server, port = self.tls_server()
                c_status, c_out, _ = run([c_example("tutorial_ssl_client")], env=client_env(port, profile))
                server.stop()
                self.assertEqual((c_status, c_out), (status, out))  # the diff


if __name__ == "__main__":
    unittest.main()
