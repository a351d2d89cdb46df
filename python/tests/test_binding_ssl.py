"""ussl through the binding: handshakes both ways against CPython's ssl, the board's errors, sessions,
and the GIL released during handshakes. Certificates: the tls_certs CTest fixture."""
import os
import socket as host_socket
import ssl as host_ssl
import threading
import unittest

from bindutil import CERTS, JOIN, DeviceTest, free_port, u, ussl


def cert(name):
    return os.path.join(CERTS, name)


@unittest.skipUnless(CERTS and os.path.exists(cert("ca.pem")), "needs the tls_certs fixture (UPYSOCK_TEST_CERTS)")
class Tls(DeviceTest):
    def setUp(self):
        super().setUp()
        self.host_sockets = []

    def tearDown(self):
        for s in self.host_sockets:
            s.close()
        u.configure("profile", "pycom-1.20.2")
        super().tearDown()

    def host_server(self, tls=True):
        """A CPython listener (TLS 1.2 with the fixture's server certificate), its address, and
        the list its accepting thread fills with the accepted connection."""
        ls = host_socket.create_server(("127.0.0.1", 0))
        self.host_sockets.append(ls)
        accepted = []

        def serve():
            conn, _ = ls.accept()
            self.host_sockets.append(conn)
            if tls:
                ctx = host_ssl.SSLContext(host_ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(cert("server.pem"), cert("server.key"))
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except host_ssl.SSLError as e:  # the device refused the certificate
                    accepted.append(e)
                    return
                self.host_sockets.append(conn)
                conn.sendall(conn.recv(100).upper())
            accepted.append(conn)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        return ls.getsockname(), t, accepted

    def test_a_verified_client_handshake_and_echo(self):
        addr, t, _ = self.host_server()
        s = self.sock()
        ss = ussl.wrap_socket(s, ca_certs=cert("ca.pem"), cert_reqs=ussl.CERT_REQUIRED, server_hostname="localhost")
        self.sockets.append(ss)
        self.assertEqual(type(ss).__name__, "ussl")
        ss.connect(addr)  # TCP connect and the handshake
        self.assertIsNone(ss.do_handshake())  # over already: returns at once
        self.assertEqual(ss.write("ping"), 4)
        self.assertEqual(ss.recv(100), b"PING")
        t.join(JOIN)

    def test_a_device_server_side_handshake(self):
        ls, addr = self.listener()
        received = []

        def client():
            ctx = host_ssl.create_default_context(cafile=cert("ca.pem"))
            with ctx.wrap_socket(host_socket.create_connection(addr), server_hostname="localhost") as c:
                c.sendall(b"hello")
                received.append(c.recv(100))

        t = threading.Thread(target=client, daemon=True)
        t.start()
        a, _ = ls.accept()
        self.sockets.append(a)
        sa = ussl.wrap_socket(a, server_side=True, keyfile=cert("server.key"), certfile=cert("server.pem"))
        self.sockets.append(sa)
        self.assertEqual(sa.recv(100), b"hello")
        sa.send(b"world")
        t.join(JOIN)
        self.assertEqual(received, [b"world"])

    def test_an_untrusted_server_is_minus_9984(self):
        addr, _, _ = self.host_server()
        ss = ussl.wrap_socket(self.sock(), ca_certs=cert("other_ca.pem"), cert_reqs=ussl.CERT_REQUIRED)
        self.sockets.append(ss)
        with self.assertRaises(ussl.SSLError) as cm:
            ss.connect(addr)
        self.assertOSError(cm, -9984, "-9984")

    def test_the_boards_wrap_socket_errors(self):
        s = self.sock()
        with self.assertRaises(OSError) as cm:
            ussl.wrap_socket(s, ca_certs="/flash/cert/none.pem", cert_reqs=ussl.CERT_REQUIRED)
        self.assertOSError(cm, "CA file not found", "CA file not found")
        for kwargs in ({"cert_reqs": ussl.CERT_REQUIRED}, {"server_side": True}, {"saved_session": 1}):
            with self.subTest(kwargs=kwargs), self.assertRaises(ValueError) as cv:
                ussl.wrap_socket(s, **kwargs)
            self.assertEqual(str(cv.exception), "invalid argument(s) value")
        with self.assertRaises(TypeError):
            ussl.wrap_socket(s, "key.pem")  # keyword-only, as on the board
        with self.assertRaises(TypeError):
            ussl.wrap_socket(object())
        with self.assertRaises(OSError) as cm:
            s.do_handshake()  # a plain socket
        self.assertOSError(cm, 22, "[Errno 22] EINVAL")
        with self.assertRaises(OSError) as cm:
            ussl.save_session(s)
        self.assertOSError(cm, 22, "[Errno 22] EINVAL")

    def test_sslerror_is_oserror_and_the_constants_are_the_boards(self):
        self.assertIs(ussl.SSLError, OSError)
        self.assertEqual((ussl.CERT_NONE, ussl.CERT_OPTIONAL, ussl.CERT_REQUIRED), (0, 1, 2))
        self.assertEqual(ussl.SSL_TIMEOUT, -26624)

    def test_a_saved_session_is_offered_again(self):
        addr, t, _ = self.host_server()
        ss = ussl.wrap_socket(self.sock(), ca_certs=cert("ca.pem"), cert_reqs=ussl.CERT_REQUIRED)
        self.sockets.append(ss)
        ss.connect(addr)
        session = ussl.save_session(ss)
        self.assertEqual(type(session).__name__, "SSLSession")
        ss.send(b"a")
        self.assertEqual(ss.recv(10), b"A")
        t.join(JOIN)
        addr, t, _ = self.host_server()
        again = ussl.wrap_socket(self.sock(), ca_certs=cert("ca.pem"), cert_reqs=ussl.CERT_REQUIRED,
                                 saved_session=session)
        self.sockets.append(again)
        again.connect(addr)
        again.send(b"b")
        self.assertEqual(again.recv(10), b"B")
        t.join(JOIN)

    def silent_peer(self):
        """A connected device socket whose host peer never speaks; returns (socket, close peer)."""
        addr, t, accepted = self.host_server(tls=False)
        s = self.sock()
        s.connect(addr)
        t.join(JOIN)
        return s, accepted[0].close

    def test_a_handshake_in_wrap_socket_releases_the_gil(self):
        s, close_peer = self.silent_peer()
        e = self.assertReleasesGil(lambda: ussl.wrap_socket(s), close_peer)
        self.assertIsInstance(e, OSError)

    def test_do_handshake_releases_the_gil(self):
        u.configure("profile", "pycom-1.20.0")  # the era where do_handshake drives the handshake
        addr, t, accepted = self.host_server(tls=False)
        ss = ussl.wrap_socket(self.sock(), timeout=5)
        self.sockets.append(ss)
        ss.setblocking(False)
        with self.assertRaises(OSError) as cm:
            ss.connect(addr)
        self.assertEqual(cm.exception.args, (119,))
        t.join(JOIN)
        e = self.assertReleasesGil(ss.do_handshake, accepted[0].close)
        self.assertIsInstance(e, OSError)


if __name__ == "__main__":
    unittest.main()
