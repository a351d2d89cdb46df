"""Tutorial 1 (a server with blocking sockets) as the unchanged .py file through the runner,
beside its C port examples/tutorial_server: the same clients, the same lines printed."""
import concurrent.futures
import signal
import socket
import unittest

from runner_support import (WAIT_S, Proc, c_example, clean_env, needs_build, py_example, run,
                            runner_cmd)

RECEIVED = "Received: b'Data to send'\n"
SERVERS = {
    "py": runner_cmd(py_example("tutorial1_server.py")),
    "c": [c_example("tutorial_server")],
}


def ask(port):
    """One tutorial client over CPython's own socket: send, read the answer to the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as s:
        s.sendall(b"Data to send")
        answer = b""
        while chunk := s.recv(64):
            answer += chunk
    return int(answer)


@needs_build
class Tutorial1(unittest.TestCase):
    def serve_the_clients(self, server_cmd):
        """Start a server with its LAN address remapped to a free port, serve 3 sequential, 5
        concurrent and 3 tutorial_server_peer clients; (server Proc, peer's stdout)."""
        server = Proc(self, server_cmd, env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"), log=True)
        port = server.listen_port()
        self.assertEqual(server.log.decode(), "upysock: bind 192.168.0.249:6543 -> 127.0.0.1:0\n"
                                              f"upysock: listen 192.168.0.249:6543 -> 127.0.0.1:{port}\n")
        self.assertEqual([ask(port) for _ in range(3)], [0, 1, 2])
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            self.assertEqual(sorted(pool.map(ask, [port] * 5)), [3, 4, 5, 6, 7])
        status, peer_out, _ = run([c_example("tutorial_server_peer"), "3"],
                                  env=clean_env(UPYSOCK_REMAP=f"*:6543=127.0.0.1:{port}"))
        self.assertEqual(status, 0)
        server.wait_out(RECEIVED, 11)
        return server, peer_out

    def test_the_py_server_serves_like_its_c_port(self):
        py_server, py_peer = self.serve_the_clients(SERVERS["py"])
        self.assertEqual(py_peer, "Data received: b'8'\nData received: b'9'\nData received: b'10'\n")
        # SIGTERM is the board's soft reset: the run ends cleanly, stdout holds only the script's lines.
        self.assertEqual(py_server.stop(signal.SIGTERM), (0, RECEIVED * 11, ""))

        c_server, c_peer = self.serve_the_clients(SERVERS["c"])
        _, c_out, _ = c_server.stop(signal.SIGTERM)
        self.assertEqual((py_peer, RECEIVED * 11), (c_peer, c_out))  # the diff: identical lines


if __name__ == "__main__":
    unittest.main()
