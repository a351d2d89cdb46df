"""usocket through the binding: device results and errors, argument shapes, the GIL, close from
another thread, the finaliser and descriptor hygiene."""
import gc
import socket as host_socket
import traceback
import unittest

from bindutil import JOIN, DeviceTest, free_port, open_fds, u, uerrno, usocket


class Errors(DeviceTest):
    def test_nonblocking_connect_raises_the_boards_einprogress(self):
        s = self.sock()
        s.setblocking(False)
        with self.assertRaises(OSError) as cm:
            s.connect(("127.0.0.1", free_port()))
        self.assertOSError(cm, 119, "[Errno 119] EINPROGRESS")

    def test_a_code_uerrno_does_not_name_prints_as_a_bare_number(self):
        ls, addr = self.listener()
        s = self.sock()
        s.connect(addr)
        s.setblocking(False)
        with self.assertRaises(OSError) as cm:
            s.connect(addr)
        self.assertOSError(cm, 127, "127")

    def test_a_text_oserror_prints_its_text(self):
        with self.assertRaises(OSError) as cm:
            usocket.socket(usocket.AF_LORA, usocket.SOCK_RAW)
        self.assertOSError(cm, "Network card not available", "Network card not available")

    def test_io_after_close_is_ebadf(self):
        s = self.sock()
        s.close()
        s.close()  # idempotent
        with self.assertRaises(OSError) as cm:
            s.send(b"x")
        self.assertOSError(cm, 9, "[Errno 9] EBADF")
        self.assertEqual(s.fileno(), -1)

    def test_recv_timeout_is_the_builtin_timeouterror(self):
        c, a = self.pair()
        a.settimeout(0.05)
        with self.assertRaises(TimeoutError) as cm:
            a.recv(10)
        self.assertIs(type(cm.exception), TimeoutError)
        self.assertEqual(cm.exception.args, ("timed out",))

    def test_nonblocking_accept_is_eagain(self):
        ls, _ = self.listener()
        ls.setblocking(False)
        with self.assertRaises(OSError) as cm:
            ls.accept()
        self.assertOSError(cm, 11, "[Errno 11] EAGAIN")

    def test_oserror_is_caught_by_except_oserror_and_has_one_argument(self):
        e = u.OSError(uerrno.ECONNRESET)
        self.assertEqual(str(e), "[Errno 104] ECONNRESET")
        self.assertEqual(traceback.format_exception_only(e), ["OSError: [Errno 104] ECONNRESET\n"])


class Results(DeviceTest):
    def test_recv_returns_bytes_at_most_2048(self):
        c, a = self.pair()
        self.assertEqual(c.send(b"x" * 5000), 5000)
        data = a.recv(4096)
        self.assertIs(type(data), bytes)
        self.assertEqual(len(data), 2048)

    def test_send_sendall_and_write_accept_str_and_bytes_like(self):
        c, a = self.pair()
        self.assertEqual(c.send("héllo"), 6)
        self.assertEqual(c.sendall(bytearray(b"ab")), 2)
        self.assertEqual(c.write(memoryview(b"cd")), 2)
        self.assertEqual(c.write(b"0123456789", 3), 3)
        self.assertEqual(c.write(b"0123456789", 8, 5), 2)
        self.assertEqual(a.read(6 + 2 + 2 + 3 + 2), "héllo".encode() + b"abcd01289")

    def test_nonblocking_recv_with_nothing_is_empty_bytes(self):
        c, a = self.pair()
        a.setblocking(False)
        self.assertEqual(a.recv(10), b"")

    def test_stream_calls_return_none_when_nothing_is_there(self):
        c, a = self.pair()
        a.setblocking(False)
        self.assertIsNone(a.read(4))
        self.assertIsNone(a.readline())
        self.assertIsNone(a.readinto(bytearray(4)))

    def test_readline_readinto_and_read_to_eof(self):
        c, a = self.pair()
        c.send(b"one\ntwo\nrest")
        f = a.makefile("rb")
        self.assertIs(f, a)
        self.assertEqual(a.readline(), b"one\n")
        buf = bytearray(10)
        self.assertEqual(a.readinto(buf, 4), 4)
        self.assertEqual(bytes(buf[:4]), b"two\n")
        c.close()
        self.assertEqual(a.read(), b"rest")

    def test_udp_sendto_and_recvfrom(self):
        addr = ("127.0.0.1", free_port())
        r = self.sock(usocket.AF_INET, usocket.SOCK_DGRAM)
        r.bind(addr)
        s = self.sock(usocket.AF_INET, usocket.SOCK_DGRAM)
        self.assertEqual(s.sendto("ping", addr), 4)
        data, src = r.recvfrom(100)
        self.assertEqual(data, b"ping")
        self.assertEqual(src[0], "127.0.0.1")
        r.setblocking(False)
        with self.assertRaises(OSError) as cm:
            r.recvfrom(100)
        self.assertOSError(cm, 11, "[Errno 11] EAGAIN")

    def test_accept_gives_a_socket_and_an_address_tuple(self):
        ls, addr = self.listener()
        c = self.sock()
        c.connect(addr)
        a, peer = ls.accept()
        self.sockets.append(a)
        self.assertIs(type(a), usocket.socket)
        self.assertEqual(peer[0], "127.0.0.1")
        self.assertIs(type(peer[1]), int)

    def test_fileno_is_the_device_numbering(self):
        s = self.sock()
        self.assertGreaterEqual(s.fileno(), 54)

    def test_setsockopt_takes_ints_bools_and_buffers(self):
        s = self.sock()
        self.assertIsNone(s.setsockopt(usocket.SOL_SOCKET, usocket.SO_REUSEADDR, 1))
        self.assertIsNone(s.setsockopt(usocket.SOL_SOCKET, usocket.SO_REUSEADDR, True))
        with self.assertRaises(OSError) as cm:
            s.setsockopt(1, 2, 1)  # Linux's SOL_SOCKET is not the board's
        self.assertOSError(cm, 109, "109")

    def test_getaddrinfo_and_dnsserver(self):
        self.assertEqual(usocket.getaddrinfo("localhost", 80), [(2, 1, 0, "", ("127.0.0.1", 80))])
        with self.assertRaises(OSError) as cm:
            usocket.getaddrinfo("localhost", 0)
        self.assertOSError(cm, 201, "[Errno 201] EAI_SERVICE")
        self.assertEqual(usocket.dnsserver(), ("0.0.0.0", "0.0.0.0"))
        self.assertEqual(usocket.dnsserver(-1), (255, "0.0.0.0"))
        with self.assertRaises(ValueError) as cv:
            usocket.dnsserver(2)
        self.assertEqual(cv.exception.args, ("Index out of range!\n",))

    def test_dnsserver_stores_what_it_is_given(self):
        try:
            self.assertIsNone(usocket.dnsserver(1, "8.8.4.4"))
            self.assertEqual(usocket.dnsserver(1), (1, "8.8.4.4"))
            with self.assertRaises(ValueError) as cv:
                usocket.dnsserver(0, "8.8")
            self.assertEqual(str(cv.exception), "invalid arguments")
        finally:
            usocket.dnsserver(1, "")
        self.assertEqual(usocket.dnsserver(1), (1, "0.0.0.0"))

    def test_listen_takes_an_optional_backlog_and_refuses_udp(self):
        self.listener()[0].listen()
        u_sock = self.sock(usocket.AF_INET, usocket.SOCK_DGRAM)
        with self.assertRaises(OSError) as cm:
            u_sock.listen(1)
        self.assertOSError(cm, 95, "[Errno 95] EOPNOTSUPP")

    def test_a_refused_blocking_connect_is_econnreset(self):
        with self.assertRaises(OSError) as cm:
            self.sock().connect(("127.0.0.1", free_port()))
        self.assertOSError(cm, 104, "[Errno 104] ECONNRESET")

    def test_module_constants_are_the_boards(self):
        self.assertEqual((usocket.SOL_SOCKET, usocket.SO_REUSEADDR, usocket.IP_ADD_MEMBERSHIP), (0xFFF, 4, 3))
        self.assertIs(usocket.error, OSError)
        self.assertIs(usocket.timeout, TimeoutError)


class BadArguments(DeviceTest):
    def check(self, exc, text, fn, *args):
        with self.assertRaises(exc) as cm:
            fn(*args)
        self.assertEqual(str(cm.exception), text)

    def test_wrong_types_raise_the_boards_typeerror_and_valueerror(self):
        s = self.sock()
        self.check(TypeError, "object with buffer protocol required", s.send, 1.5)
        self.check(TypeError, "object with buffer protocol required", s.sendto, None, ("127.0.0.1", 1))
        self.check(TypeError, "object 'str' isn't a tuple or list", s.connect, "127.0.0.1")
        self.check(ValueError, "requested length 2 but object has length 1", s.connect, ("127.0.0.1",))
        self.check(TypeError, "can't convert str to int", s.connect, ("127.0.0.1", "80"))
        self.check(ValueError, "invalid arguments", s.bind, ("localhost", 80))
        self.check(TypeError, "can't convert str to int", s.recv, "10")
        self.check(ValueError, "negative buffersize in recv", s.recv, -1)
        self.check(TypeError, "can't convert str to float", s.settimeout, "1")
        self.check(TypeError, "can't convert float to int", s.setsockopt, 1.5, 4, 1)
        self.check(TypeError, "object with buffer protocol required", s.setsockopt, 0xFFF, 4, 1.5)
        self.check(ValueError, "invalid argument(s) value", s.makefile, "r")
        self.check(TypeError, "object with buffer protocol required", s.readinto, b"read-only")
        self.check(TypeError, "can't convert float to int", usocket.socket, 2.0)
        self.check(TypeError, "can't convert str to int", usocket.getaddrinfo, "localhost", "80")
        self.check(ValueError, "invalid argument(s) num/type", usocket.dnsserver, "0")
        with self.assertRaises(ValueError):
            s.settimeout(float("nan"))
        with self.assertRaises(TypeError):
            usocket.socket(af=2)  # the board takes no keywords


class Threads(DeviceTest):
    def test_close_from_another_thread_wakes_a_blocked_recv_with_ebadf(self):
        c, a = self.pair()
        t, outcome = self.in_thread(lambda: a.recv(10))
        a.close()
        t.join(JOIN)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(outcome[0], u.OSError)
        self.assertEqual(outcome[0].args, (9,))

    def test_recv_releases_the_gil(self):
        c, a = self.pair()
        a.settimeout(5)  # backstop
        e = self.assertReleasesGil(lambda: a.recv(10), a.close)
        self.assertEqual(getattr(e, "args", None), (9,))

    def test_accept_releases_the_gil(self):
        ls, _ = self.listener()
        ls.settimeout(5)
        e = self.assertReleasesGil(ls.accept, ls.close)
        self.assertIsInstance(e, OSError)


class Lifetime(DeviceTest):
    def test_a_dropped_socket_is_closed_by_its_finaliser(self):
        c, a = self.pair()
        self.sockets.remove(c)
        del c
        gc.collect()
        a.settimeout(5)
        self.assertEqual(a.recv(10), b"")  # the peer's FIN

    def test_1000_sockets_created_and_dropped_leak_no_descriptor(self):
        before = open_fds()
        for _ in range(1000):  # more than the 10 slots: each drop frees its slot too
            s = usocket.socket()
            s.bind(("127.0.0.1", 0))
            del s
        gc.collect()
        self.assertEqual(open_fds(), before)

    def test_1000_connections_dropped_unclosed_leak_no_descriptor(self):
        ls, addr = self.listener()
        before = open_fds()
        for _ in range(1000):
            c = usocket.socket()
            c.connect(addr)
            a, _ = ls.accept()
            del a, c
        gc.collect()
        self.assertEqual(open_fds(), before)

    def test_soft_reset_closes_every_live_socket(self):
        with host_socket.create_server(("127.0.0.1", 0)) as peer:  # a peer soft_reset cannot close
            c = self.sock()
            c.connect(peer.getsockname())
            other = self.sock()
            t, outcome = self.in_thread(lambda: c.recv(10))
            u.soft_reset()
            t.join(JOIN)
        self.assertEqual(outcome[0].args, (9,))
        self.assertEqual(other.fileno(), -1)


if __name__ == "__main__":
    unittest.main()
