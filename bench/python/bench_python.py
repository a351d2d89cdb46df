#!/usr/bin/env python3
"""bench_python.py: the Python front's cost against CPython's own modules, in one process.

    PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_python.py --pin 0 [--quick]

Scenarios (each side runs the same Python code; rounds alternate between the sides, and which
side goes first alternates too, so a slow moment on a shared machine hits both):
  echo      64-byte ping-pong over blocking TCP, the server in a thread: usocket vs socket
  poll      one active connection among 1000 idle registered sockets: uselect.poll vs select.poll
  tls       TLS 1.2 client handshakes/s against a CPython ssl server thread: ussl.wrap_socket vs
            ssl (one reused SSLContext, the cipher suite the device side negotiated)
One JSON line per scenario: the median rate of each side, ratio = upysock / cpython (higher is
better for upysock), the per-round ratios, and cpu_ratio: the same over this process's CPU time. Never run by CTest: timings belong here only.
"""
import argparse
import json
import os
import select as host_select
import socket as host_socket
import ssl as host_ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import upysock._upysock as u

MSG = b"x" * 64
JOIN = 60


def recv_exact(s, n):
    got = s.recv(n)
    while len(got) < n:
        more = s.recv(n - len(got))
        if not more:
            raise EOFError("peer closed")
        got += more
    return got


def free_port():
    with host_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(n, step):
    """Run step() n times: (rate by wall clock, rate by this process's CPU time). Every thread is
    in this process (and with --pin on one CPU), so CPU time leaves out what other processes took
    from the machine: the steadier figure on a shared machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, n / cpu if cpu > 0 else float("nan")


def run_server(fn):
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


# --- echo -------------------------------------------------------------------------------------

def echo_round(mod, n):
    """n round trips through module `mod` (usocket or socket): round trips per second (wall, CPU)."""
    addr = ("127.0.0.1", free_port())
    ls = mod.socket()
    ls.setsockopt(mod.SOL_SOCKET, mod.SO_REUSEADDR, 1)
    ls.bind(addr)
    ls.listen(1)

    def serve():
        a, _ = ls.accept()
        for _ in range(n):
            a.send(recv_exact(a, 64))
        a.close()

    t = run_server(serve)
    c = mod.socket()
    c.connect(addr)

    def step():
        c.send(MSG)
        recv_exact(c, 64)

    rates = timed(n, step)
    t.join(JOIN)
    c.close()
    ls.close()
    return rates


# --- poll with 1000 idle sockets -----------------------------------------------------------------

class PollSide:
    """1000 idle UDP sockets and one active TCP connection, all registered for POLLIN."""

    def __init__(self, device, idle):
        mod = u.usocket if device else host_socket
        self.idle = [mod.socket(mod.AF_INET, mod.SOCK_DGRAM) for _ in range(idle)]
        for s in self.idle:
            s.bind(("127.0.0.1", 0))
        addr = ("127.0.0.1", free_port())
        ls = mod.socket()
        ls.bind(addr)
        ls.listen(1)
        self.c = mod.socket()
        self.c.connect(addr)
        self.a, _ = ls.accept()
        ls.close()
        if device:
            self.p = u.uselect.poll()
            for s in self.idle + [self.a]:
                self.p.register(s, u.uselect.POLLIN)
        else:
            self.p = host_select.poll()
            for s in self.idle + [self.a]:
                self.p.register(s.fileno(), host_select.POLLIN)

    def round(self, n):
        c, a, p = self.c, self.a, self.p

        def step():
            c.send(b"x")
            if len(p.poll(1000)) != 1:
                raise RuntimeError("poll did not report the active socket")
            a.recv(1)

        return timed(n, step)

    def close(self):
        for s in self.idle + [self.a, self.c]:
            s.close()


# --- TLS handshakes --------------------------------------------------------------------------------

class TlsServer:
    """A CPython TLS 1.2 server thread accepting `count` handshakes per round."""

    def __init__(self, certs):
        self.ctx = host_ssl.SSLContext(host_ssl.PROTOCOL_TLS_SERVER)
        self.ctx.maximum_version = host_ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
        self.ls = host_socket.create_server(("127.0.0.1", 0))
        self.addr = self.ls.getsockname()
        self.cipher = None

    def serve(self, count):
        def loop():
            for _ in range(count):
                conn, _ = self.ls.accept()
                try:
                    with self.ctx.wrap_socket(conn, server_side=True) as tls:
                        self.cipher = tls.cipher()[0]
                        tls.recv(1)  # the client's close
                except (OSError, EOFError):
                    conn.close()
        return run_server(loop)


def tls_round(server, n, client):
    t = server.serve(n)
    rates = timed(n, client)
    t.join(JOIN)
    return rates


def tls_clients(server, certs):
    ca = os.path.join(certs, "ca.pem")

    def device():
        ss = u.ussl.wrap_socket(u.usocket.socket(), ca_certs=ca, cert_reqs=u.ussl.CERT_REQUIRED)
        ss.connect(server.addr)
        ss.close()

    tls_round(server, 1, device)  # learn the cipher suite the device side negotiates
    ctx = host_ssl.SSLContext(host_ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = host_ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(server.cipher)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca)

    def cpython():
        with ctx.wrap_socket(host_socket.create_connection(server.addr)) as tls:
            tls.close()

    return device, cpython


# --- the harness -------------------------------------------------------------------------------------

def compare(name, unit, rounds, device, cpython, **extra):
    dev, cpy = [], []  # (wall rate, CPU rate) per round
    for r in range(rounds):
        pair = [(dev, device), (cpy, cpython)]
        for out, fn in (pair if r % 2 == 0 else pair[::-1]):
            out.append(fn())
    wall = [d[0] / c[0] for d, c in zip(dev, cpy)]
    med = [statistics.median(x[0] for x in side) for side in (dev, cpy)]
    cpu = [statistics.median(x[1] for x in side) for side in (dev, cpy)]
    line = {"scenario": name, "unit": unit, "upysock": round(med[0], 1), "cpython": round(med[1], 1),
            "ratio": round(med[0] / med[1], 3), "paired_ratio": round(statistics.median(wall), 3),
            "min_ratio": round(min(wall), 3), "max_ratio": round(max(wall), 3),
            "cpu_ratio": round(cpu[0] / cpu[1], 3), "rounds": rounds, "placement": PLACEMENT,
            "load1": round(os.getloadavg()[0], 2), **extra}
    print(json.dumps(line), flush=True)


def certificates(build_dir):
    certs = os.path.join(build_dir, "tests", "flash", "cert")
    if os.path.exists(os.path.join(certs, "server.pem")):
        return certs
    out = tempfile.mkdtemp(prefix="upysock-bench-certs-")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["sh", os.path.join(here, "..", "..", "tests", "fixtures", "make-certs.sh"), out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(out, "flash", "cert")


PLACEMENT = "unpinned"


def main():
    global PLACEMENT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="echo,poll,tls", help="comma-separated: echo, poll, tls")
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 rounds: proves it runs")
    ap.add_argument("--pin", type=int, metavar="CPU", help="run every thread on this CPU")
    ap.add_argument("--rounds", type=int, help="rounds per side (default 9, 3 with --quick)")
    ap.add_argument("--build-dir", default="build", help="where the TLS fixture certificates are (tests/flash/cert)")
    args = ap.parse_args()
    if args.pin is not None:
        os.sched_setaffinity(0, {args.pin})
        PLACEMENT = "cpu%d" % args.pin
    rounds = args.rounds or (3 if args.quick else 9)
    scale = 10 if args.quick else 1
    chosen = args.scenario.split(",")
    u.configure("limits", "max_sockets=1100")  # the poll scenario's idle sockets
    if "echo" in chosen:
        n = 20000 // scale
        compare("py_echo", "round_trips/s", rounds, lambda: echo_round(u.usocket, n),
                lambda: echo_round(host_socket, n))
    if "poll" in chosen:
        idle, n = 1000, 5000 // scale
        dev, cpy = PollSide(True, idle), PollSide(False, idle)
        compare("py_poll_idle1000", "polls/s", rounds, lambda: dev.round(n), lambda: cpy.round(n), idle=idle)
        dev.close()
        cpy.close()
    if "tls" in chosen:
        server = TlsServer(certificates(args.build_dir))
        device, cpython = tls_clients(server, certificates(args.build_dir))
        n = 200 // scale
        compare("py_tls_handshake", "handshakes/s", rounds, lambda: tls_round(server, n, device),
                lambda: tls_round(server, n, cpython), cipher=server.cipher, tls="1.2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
