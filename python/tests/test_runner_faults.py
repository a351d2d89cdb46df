"""The runner's --faults (docs/faults.md): the board's errors for the rules given, a bad rule refused
with the library's message, and a mid-stream reset as a script meets it."""
import socket
import textwrap
import unittest

from runner_support import clean_env, run_script


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def script(text):
    return textwrap.dedent(text).lstrip("\n")


class Faults(unittest.TestCase):
    def test_faults_give_the_boards_errors_and_a_bad_rule_is_refused(self):
        source = script("""
            import usocket
            try:
                usocket.getaddrinfo('broker.local', 1883)
            except OSError as e:
                print(e)
            s = usocket.socket()
            try:
                s.connect(('192.168.0.10', 1883))
            except OSError as e:
                print(e)
            """)
        status, out, _ = run_script(self, source, "--remap", "broker.local=127.0.0.1", "--faults",
                                    "seed=3; dnsfail host=broker.local; linkdown at=0s for=60s")
        self.assertEqual((status, out), (0, "[Errno 202] EAI_FAIL\n[Errno 118] EHOSTUNREACH\n"))
        status, out, err = run_script(self, "print('ran')\n", "--faults", "reset after=x",
                                      env=clean_env(UPYSOCK_FAULTS="refuse"))
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "upysock-run: ValueError: UPYSOCK_FAULTS: bad rule 'reset after=x': 'after=x': "
                              "want a number of bytes\n")

    def test_a_reset_mid_stream_is_the_boards_sticky_104(self):
        source = script("""
            import usocket, _thread, uselect
            srv = usocket.socket()
            srv.bind(('0.0.0.0', 6543))
            srv.listen(1)
            def serve():
                conn, addr = srv.accept()
                conn.send(b'hello world')
            _thread.start_new_thread(serve, ())
            c = usocket.socket()
            c.connect(('192.168.0.249', 6543))
            print(c.recv(100))
            p = uselect.poll()
            p.register(c, uselect.POLLIN | uselect.POLLHUP)
            print(p.poll(1000)[0][1])
            for i in range(2):
                try:
                    c.recv(100)
                except OSError as e:
                    print(e)
            """)
        status, out, _ = run_script(self, source, "--remap", f"*:6543=127.0.0.1:{free_port()}",
                                    "--faults", "reset *:6543 after=3 dir=recv")
        self.assertEqual((status, out), (0, "b'hel'\n17\n[Errno 104] ECONNRESET\n[Errno 104] ECONNRESET\n"))


if __name__ == "__main__":
    unittest.main()
