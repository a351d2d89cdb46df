"""Tutorial 2 (a client with two non-blocking sockets and a poll thread) as the unchanged .py
file through the runner, beside its C port examples/tutorial_client: against the C tutorial
server, against the tutorial 1 .py server, and with nothing listening."""
import signal
import socket
import time
import unittest

from runner_support import (Proc, c_example, clean_env, needs_build, py_example, run, run_script,
                            runner_cmd)

CLIENTS = {
    "py": runner_cmd("--exit-when-idle", py_example("tutorial2_client.py")),
    "c": [c_example("tutorial_client")],
}
SERVERS = {
    "py": runner_cmd(py_example("tutorial1_server.py")),
    "c": [c_example("tutorial_server")],
}
IDLE = "upysock-run: every thread is blocked forever (--exit-when-idle): ending the run\n"


def remap_to(port):
    return clean_env(UPYSOCK_REMAP=f"*:6543=127.0.0.1:{port}")


@needs_build
class Tutorial2(unittest.TestCase):
    def closed_port(self):
        """A loopback port nothing listens on (bound, so no one else takes it meanwhile)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.addCleanup(s.close)
        return s.getsockname()[1]

    def client_against(self, server, client):
        """A fresh server, one client run against it: the client's (status, stdout, stderr)."""
        proc = Proc(self, SERVERS[server], env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"), log=True)
        result = run(CLIENTS[client], env=remap_to(proc.listen_port()))
        proc.wait_out("Received: b'Data to send'\n", 2)
        proc.stop()
        return result

    def test_both_sockets_get_their_number_from_either_server_as_with_the_c_client(self):
        for server in ("c", "py"):
            with self.subTest(server=server):
                status, py_out, err = self.client_against(server, "py")
                self.assertEqual((status, err), (0, IDLE))
                self.assertEqual(sorted(py_out.splitlines()), ["Data received: b'0'", "Data received: b'1'"])
                _, c_out, _ = self.client_against(server, "c")
                self.assertEqual(sorted(py_out.splitlines()), sorted(c_out.splitlines()))  # the diff

    def test_with_nothing_listening_both_sockets_see_21_and_close(self):
        port = self.closed_port()
        # The tutorial's registration and connects, printing what poll() reports for each socket.
        status, out, _ = run_script(self, """
import socket, uselect, uerrno
p = uselect.poll()
socks = [socket.socket(), socket.socket()]
for s in socks:
    s.setblocking(False)
    p.register(s, uselect.POLLIN | uselect.POLLOUT | uselect.POLLHUP | uselect.POLLERR)
for s in socks:
    try:
        s.connect(socket.getaddrinfo("192.168.0.234", 6543)[0][-1])
    except OSError as e:
        print(e)
seen = {}
while len(seen) < 2:
    for sock, event in p.poll():
        seen[sock.fileno()] = event
        p.unregister(sock)
print(sorted(seen.values()))
""", env=remap_to(port))
        self.assertEqual((status, out), (0, "[Errno 119] EINPROGRESS\n" * 2 + "[21, 21]\n"))

        self.assertEqual(run(CLIENTS["py"], env=remap_to(port)), (0, "", IDLE))
        self.assertEqual(run(CLIENTS["c"], env=remap_to(port))[:2], (0, ""))

    def test_without_exit_when_idle_the_blocked_run_is_free_until_sigterm(self):
        env = remap_to(self.closed_port())
        proc = Proc(self, runner_cmd(py_example("tutorial2_client.py")), env=env)
        # main, the runner's signal watcher and socket_thread run; both sockets are closed
        proc.wait_until("socket_thread closes both sockets",
                        lambda: proc.threads() >= 3 and proc.open_sockets() == 0)
        before = proc.cpu_seconds()
        time.sleep(2)  # the window being measured, not a wait for something to happen
        self.assertLess(proc.cpu_seconds() - before, 0.05)
        status, out, err = proc.stop(signal.SIGTERM)
        self.assertEqual((status, out), (0, ""))
        self.assertRegex(err, r"^upysock-run: soft reset: thread\(s\) still running after 1 s, "
                              r"ending anyway: socket_thread \(ident \d+\)\n$")


if __name__ == "__main__":
    unittest.main()
