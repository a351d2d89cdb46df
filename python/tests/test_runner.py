"""The runner (python3 -m upysock): the board's imports, tracebacks, thread life, end of the run,
options, sandbox and board modules, each checked on a small script in a fresh process."""
import hashlib
import os
import re
import signal
import tempfile
import textwrap
import time
import unittest

from runner_support import Proc, clean_env, py_example, run, run_script, runner_cmd

THREAD_HEADER = re.compile(r"^Unhandled exception in thread started by <function (\w+) at 0x[0-9a-f]+>$")


def script(text):
    return textwrap.dedent(text).lstrip("\n")


class Tracebacks(unittest.TestCase):
    def test_an_exception_prints_the_boards_traceback_on_stdout_and_exits_1(self):
        status, out, err = run_script(self, script("""
            def inner(n):
                raise ValueError("bad %d" % n)
            def outer():
                try:
                    {}["x"]
                except KeyError:
                    inner(3)
            outer()
            """))
        self.assertEqual(status, 1)
        self.assertEqual(out, 'Traceback (most recent call last):\n'
                              '  File "main.py", line 8, in <module>\n'
                              '  File "main.py", line 7, in outer\n'
                              '  File "main.py", line 2, in inner\n'
                              'ValueError: bad 3\n')  # no "During handling...": no chaining
        self.assertEqual(err, "")

    def test_messages_are_printed_as_the_board_prints_them(self):
        status, out, _ = run_script(self, script("""
            import sys, uerrno, socket
            for e in (OSError(uerrno.EINPROGRESS), OSError(32), OSError(-9984), OSError("CA file not found"),
                      KeyError("k"), RuntimeError(), ValueError(1, 2), TimeoutError("timed out")):
                sys.print_exception(e)
            try:
                socket.socket().recv(1)
            except OSError as e:
                sys.print_exception(e)
            try:
                open("/flash/none.txt")
            except OSError as e:
                print(e.args)
                sys.print_exception(e)
            """))
        self.assertEqual(status, 0)
        self.assertEqual(out, "OSError: [Errno 119] EINPROGRESS\n"
                              "OSError: 32\n"  # the board's uerrno has no EPIPE
                              "OSError: -9984\n"
                              "OSError: CA file not found\n"
                              "KeyError: k\n"
                              "RuntimeError: \n"
                              "ValueError: (1, 2)\n"
                              "TimeoutError: timed out\n"
                              "Traceback (most recent call last):\n"
                              '  File "main.py", line 6, in <module>\n'
                              "OSError: [Errno 128] ENOTCONN\n"
                              "(2,)\n"
                              "Traceback (most recent call last):\n"
                              '  File "main.py", line 10, in <module>\n'
                              "OSError: [Errno 2] ENOENT\n")

    def test_a_syntax_error_names_its_line(self):
        status, out, _ = run_script(self, "import helper\n", files={"helper.py": "x = 1\ndef (:\n"})
        self.assertEqual((status, out), (1, 'Traceback (most recent call last):\n'
                                            '  File "main.py", line 1, in <module>\n'
                                            '  File "helper.py", line 2\n'
                                            "SyntaxError: invalid syntax\n"))

    def test_traceback_names_imported_modules_as_the_board_finds_them(self):
        status, out, _ = run_script(self, "import helper\nhelper.f()\n",
                                    files={"flash/lib/helper.py": "def f():\n    1 / 0\n"})
        self.assertEqual(status, 1)
        self.assertEqual(out, 'Traceback (most recent call last):\n'
                              '  File "main.py", line 2, in <module>\n'
                              '  File "/flash/lib/helper.py", line 2, in f\n'
                              'ZeroDivisionError: division by zero\n')


class Threads(unittest.TestCase):
    def test_an_exception_ends_only_its_thread_and_is_reported_on_stdout(self):
        status, out, err = run_script(self, script("""
            import _thread, time
            lock = _thread.allocate_lock()
            lock.acquire()
            def bad():
                try:
                    raise OSError(104)
                finally:
                    lock.release()
            def good():
                lock.acquire()
                time.sleep_ms(20)
                print("good ends")
            _thread.start_new_thread(bad, ())
            _thread.start_new_thread(good, [])
            """))
        self.assertEqual(status, 0)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertRegex(lines[0], THREAD_HEADER)
        self.assertEqual(THREAD_HEADER.match(lines[0]).group(1), "bad")
        self.assertEqual(lines[1:], ["Traceback (most recent call last):",
                                     '  File "main.py", line 6, in bad',
                                     "OSError: [Errno 104] ECONNRESET",
                                     "good ends"])

    def test_lines_printed_by_threads_never_mix(self):
        status, out, _ = run_script(self, script("""
            import _thread
            def f(n):
                for i in range(2000):
                    print("Received:", b"Data to send")
            for n in range(4):
                _thread.start_new_thread(f, (n,))
            """), timeout=60)
        self.assertEqual(status, 0)
        self.assertEqual(out, "Received: b'Data to send'\n" * 8000)

    def test_system_exit_ends_a_thread_silently(self):
        status, out, err = run_script(self, script("""
            import _thread, sys
            def f():
                print("in f")
                sys.exit()
                print("not reached")
            _thread.start_new_thread(f, ())
            """))
        self.assertEqual((status, out, err), (0, "in f\n", ""))

    def test_args_that_are_not_a_tuple_or_list_raise_before_any_thread_starts(self):
        status, out, _ = run_script(self, script("""
            import _thread, uselect
            def f(p):
                print("thread ran")
            p = uselect.poll()
            _thread.start_new_thread(f, (p))
            """))
        self.assertEqual(status, 1)
        self.assertEqual(out, 'Traceback (most recent call last):\n'
                              '  File "main.py", line 5, in <module>\n'
                              "TypeError: object 'poll' isn't a tuple or list\n")

    def test_the_run_waits_for_threads_after_the_script_ends_even_after_a_traceback(self):
        status, out, _ = run_script(self, script("""
            import _thread, time
            def later():
                time.sleep_ms(200)
                print("thread done")
            _thread.start_new_thread(later, ())
            raise ValueError("main dies")
            """))
        self.assertEqual(status, 1)
        self.assertTrue(out.endswith("ValueError: main dies\nthread done\n"), out)


BLOCKED_IN_POLL = script("""
    import _thread, uselect, socket
    p = uselect.poll()
    s = socket.socket()
    p.register(s, uselect.POLLIN)
    s.close()
    def wait_forever():
        p.poll()
    _thread.start_new_thread(wait_forever, ())
    print("started")
    """)

BLOCKED_IN_ACCEPT = script("""
    import _thread, socket
    s = socket.socket()
    s.bind(("192.168.0.249", 6543))
    s.listen(1)
    def serve():
        s.accept()
        print("not reached")
    _thread.start_new_thread(serve, ())
    print("listening")
    """)


class EndOfRun(unittest.TestCase):
    def start(self, source, *args, env=None):
        """The runner on `source` in the background, its log readable (Proc)."""
        d = tempfile.TemporaryDirectory(prefix="upysock-runner-")
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "main.py")
        with open(path, "w") as f:
            f.write(source)
        return Proc(self, runner_cmd("--flash", os.path.join(d.name, "flash"), *args, path), env=env, log=True)

    def test_exit_when_idle_ends_a_run_whose_threads_are_blocked_forever(self):
        status, out, err = run_script(self, BLOCKED_IN_POLL, "--exit-when-idle")
        self.assertEqual((status, out), (0, "started\n"))
        self.assertEqual(err, "upysock-run: every thread is blocked forever (--exit-when-idle): ending the run\n")

    def test_without_exit_when_idle_a_blocked_run_costs_no_cpu_until_sigterm(self):
        proc = self.start(BLOCKED_IN_POLL)
        proc.wait_out("started\n")
        before = proc.cpu_seconds()
        self.assertIsNone(proc.p.poll())
        time.sleep(2)  # the window being measured, not a wait for something to happen
        self.assertLess(proc.cpu_seconds() - before, 0.05)
        status, out, err = proc.stop(signal.SIGTERM)
        self.assertEqual((status, out), (0, "started\n"))
        self.assertRegex(err, r"^upysock-run: soft reset: thread\(s\) still running after 1 s, "
                              r"ending anyway: wait_forever \(ident \d+\)\n$")

    def test_sigterm_soft_resets_closing_the_socket_a_thread_blocks_on(self):
        proc = self.start(BLOCKED_IN_ACCEPT, env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        proc.listen_port()
        proc.wait_out("listening\n")
        status, out, err = proc.stop(signal.SIGTERM)
        self.assertEqual((status, out, err), (0, "listening\n", ""))

    def test_a_soft_reset_after_the_script_raised_still_ends_with_0(self):
        proc = self.start(BLOCKED_IN_ACCEPT + "raise ValueError('late')\n",
                          env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        proc.wait_out("ValueError: late\n")
        status, out, _ = proc.stop(signal.SIGTERM)
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("listening\nTraceback (most recent call last):\n"), out)

    def test_sigint_is_a_soft_reset_too(self):
        proc = self.start(BLOCKED_IN_ACCEPT, env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        proc.wait_out("listening\n")
        self.assertEqual(proc.stop(signal.SIGINT), (0, "listening\n", ""))

    def test_sigterm_while_the_main_script_blocks(self):
        source = BLOCKED_IN_ACCEPT.replace("_thread.start_new_thread(serve, ())\nprint(\"listening\")",
                                           "print(\"listening\")\nserve()")
        proc = self.start(source, env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        proc.wait_out("listening\n")
        self.assertEqual(proc.stop(signal.SIGTERM), (0, "listening\n", ""))

    def test_timeout_soft_resets_with_status_124(self):
        status, out, err = run_script(self, BLOCKED_IN_ACCEPT, "--timeout", "0.5",
                                      env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        self.assertEqual((status, out), (124, "listening\n"))
        self.assertEqual(err, "upysock-run: --timeout 0.5 s reached: soft reset\n")

    def test_machine_reset_is_a_soft_reset(self):
        status, out, err = run_script(self, BLOCKED_IN_ACCEPT + "import machine\nmachine.reset()\nprint('no')\n",
                                      env=clean_env(UPYSOCK_REMAP="*:6543=127.0.0.1:0"))
        self.assertEqual((status, out, err), (0, "listening\n", ""))

    def test_each_line_reaches_a_pipe_when_printed(self):
        proc = self.start(BLOCKED_IN_POLL)
        self.assertEqual(proc.wait_out("started\n"), "started\n")  # while the run goes on
        proc.stop()


class Imports(unittest.TestCase):
    def test_device_modules_under_both_names_and_cpython_keeps_its_own(self):
        status, out, _ = run_script(self, script("""
            import socket, usocket, select, uselect, ssl, ussl, errno, uerrno, time, utime, _thread
            print(socket is usocket, select is uselect, ssl is ussl, errno is uerrno, time is utime)
            print(ssl.SSLError is OSError, type(time.time()).__name__, uerrno.EINPROGRESS)
            import helper
            print(helper.s is socket)
            """), files={"flash/lib/helper.py": "import socket as s\n"})
        self.assertEqual(status, 0)
        self.assertEqual(out, "True True True True True\nTrue int 119\nTrue\n")

    def test_cpython_stdlib_in_the_runner_process_is_untouched(self):
        status, out, _ = run_script(self, script("""
            import json
            print(json.dumps([1]))
            """), "--stdlib")
        self.assertEqual((status, out), (0, "[1]\n"))
        status, out, _ = run_script(self, script("""
            import http.client, sys
            import socket
            print(http.client.socket.__name__, socket.__name__ != http.client.socket.__name__ or socket is not http.client.socket)
            """), "--stdlib")
        self.assertEqual((status, out), (0, "socket True\n"))

    def test_unknown_modules_fail_as_on_the_board(self):
        for name in ("threading", "collections", "urandom", "usys"):
            with self.subTest(name=name):
                status, out, _ = run_script(self, f"import {name}\n")
                self.assertEqual(status, 1)
                self.assertEqual(out, 'Traceback (most recent call last):\n'
                                      '  File "main.py", line 1, in <module>\n'
                                      f"ImportError: no module named '{name}'\n")

    def test_the_boards_other_modules(self):
        status, out, _ = run_script(self, script("""
            import ustruct, struct, ubinascii, binascii, ujson, json, uhashlib, hashlib, ure, re
            import ucollections, uio, uzlib, uos, os, math, cmath, array, gc, micropython, sys, uqueue, queue
            print(ustruct is struct, ujson.dumps({"a": 1}), ubinascii.hexlify(b"ab"), uhashlib.sha256(b"").digest()[:2])
            print(ucollections.namedtuple("P", "x")(1).x, uio.BytesIO(b"x").read(), uos is os)
            print(sys.implementation.name, sys.path, micropython.const(7), const(8), type(gc.mem_free()).__name__)
            """))
        self.assertEqual(status, 0)
        self.assertEqual(out, "True {\"a\": 1} b'6162' b'\\xe3\\xb0'\n"
                              "1 b'x' True\n"
                              "micropython ['', '/flash', '/flash/lib'] 7 8 int\n")

    def test_a_name_a_module_lacks(self):
        status, out, _ = run_script(self, "from machine import Pin\n")
        self.assertEqual((status, out), (1, 'Traceback (most recent call last):\n'
                                            '  File "main.py", line 1, in <module>\n'
                                            "ImportError: cannot import name Pin\n"))

    def test_a_file_shadows_a_weak_link_but_not_a_builtin_module(self):
        status, out, _ = run_script(self, "import socket, usocket\nprint(socket.MINE, hasattr(usocket, 'MINE'))\n",
                                    files={"socket.py": "MINE = 1\n", "usocket.py": "MINE = 2\n"})
        self.assertEqual((status, out), (0, "1 False\n"))

    def test_packages_and_relative_imports(self):
        status, out, _ = run_script(self, "from pkg import mod\nimport pkg.mod\nprint(mod.X, pkg.mod.Y)\n",
                                    files={"flash/lib/pkg/__init__.py": "",
                                           "flash/lib/pkg/mod.py": "from . import other\nX = other.Z\nY = 2\n",
                                           "flash/lib/pkg/other.py": "Z = 1\n"})
        self.assertEqual((status, out), (0, "1 2\n"))


class BoardModules(unittest.TestCase):
    def test_wlan_joins_the_virtual_lan_with_the_device_ip(self):
        source = script("""
            import network
            wlan = network.WLAN(mode=network.WLAN.STA)
            print(wlan.isconnected(), wlan.mode() == network.WLAN.STA)
            wlan.connect("home", auth=(network.WLAN.WPA2, "secret"), timeout=5000)
            print(wlan.isconnected(), wlan.ifconfig())
            print(len(wlan.mac().sta_mac), network.WLAN.WPA2, network.WLAN.STA_AP)
            """)
        status, out, _ = run_script(self, source)
        self.assertEqual((status, out), (0, "False True\n"
                                            "True ('192.168.0.249', '255.255.255.0', '192.168.0.1', '192.168.0.1')\n"
                                            "6 3 3\n"))
        status, out, _ = run_script(self, source, "--device-ip", "10.0.0.7")
        self.assertIn("('10.0.0.7', '255.255.255.0', '10.0.0.1', '10.0.0.1')", out)
        status, out, _ = run_script(self, source, env=clean_env(UPYSOCK_DEVICE_IP="10.0.0.8"))
        self.assertIn("'10.0.0.8'", out)

    def test_pycom_nvs_machine_and_time(self):
        status, out, _ = run_script(self, script("""
            import pycom, machine, utime
            pycom.heartbeat(False)
            pycom.rgbled(0x00ff00)
            pycom.nvs_set("count", 41)
            print(pycom.nvs_get("count") + 1, pycom.nvs_get("none", "dflt"))
            pycom.nvs_erase("count")
            try:
                pycom.nvs_get("count")
            except ValueError as e:
                print(e)
            print(len(machine.unique_id()), len(utime.localtime()), utime.mktime(utime.localtime(1000)))
            machine.idle()
            """))
        self.assertEqual((status, out), (0, "42 dflt\nNo matching object for the provided key\n6 8 1000\n"))

    def test_open_and_uos_see_flash(self):
        status, out, _ = run_script(self, script("""
            import uos
            with open("/flash/a.txt", "w") as f:
                f.write("x")
            print(open("a.txt").read(), uos.getcwd(), uos.listdir("/flash"))
            uos.mkdir("lib2")
            uos.chdir("lib2")
            print(uos.getcwd())
            try:
                open("/etc/hostname")
            except OSError as e:
                print(e)
            """))
        self.assertEqual((status, out), (0, "x /flash ['a.txt']\n/flash/lib2\n[Errno 2] ENOENT\n"))


class Options(unittest.TestCase):
    def test_help_lists_every_option(self):
        status, out, _ = run(runner_cmd("--help"))
        self.assertEqual(status, 0)
        for option in ("--profile", "--limits", "--remap", "--flash", "--net", "--log", "--faults", "--timeout",
                       "--exit-when-idle", "--device-ip", "--stdlib"):
            self.assertIn(option, out)

    def test_bad_settings_fail_with_the_librarys_message(self):
        status, out, err = run_script(self, "print('ran')\n", "--profile", "pycom-1.18")
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, "upysock-run: ValueError: UPYSOCK_PROFILE: unknown profile 'pycom-1.18' "
                              "(known: pycom-1.20.2, pycom-1.20.0)\n")
        status, out, err = run_script(self, "print('ran')\n", env=clean_env(UPYSOCK_REMAP="nonsense"))
        self.assertEqual((status, out), (2, ""))
        self.assertIn("ValueError: UPYSOCK_REMAP: bad rule 'nonsense'", err)

    def test_an_option_overrides_its_variable(self):
        status, out, _ = run_script(self, "print('ran')\n", "--profile", "pycom-1.20.0",
                                    env=clean_env(UPYSOCK_PROFILE="bad"))
        self.assertEqual((status, out), (0, "ran\n"))

    def test_flash_boot_py_runs_first_in_the_same_namespace(self):
        status, out, _ = run_script(self, "print('main', booted)\n",
                                    files={"flash/boot.py": "booted = True\nprint('boot')\nraise OSError(12)\n"})
        self.assertEqual((status, out), (1, "boot\nTraceback (most recent call last):\n"
                                            '  File "boot.py", line 3, in <module>\n'
                                            "OSError: [Errno 12] ENOMEM\nmain True\n"))

    def test_the_script_gets_its_arguments(self):
        status, out, _ = run_script(self, "import sys\nprint(sys.argv[1:])\n", script_args=["-x", "y"])
        self.assertEqual((status, out), (0, "['-x', 'y']\n"))


class Sandbox(unittest.TestCase):
    def test_cpython_sockets_cannot_leave_loopback(self):
        status, out, _ = run_script(self, script("""
            import http.client
            cpython_socket = http.client.socket
            attempts = (lambda: cpython_socket.socket().connect(("10.255.255.1", 80)),
                        lambda: cpython_socket.socket(cpython_socket.AF_INET, cpython_socket.SOCK_DGRAM)
                                              .sendto(b"x", ("10.255.255.2", 9)),
                        lambda: cpython_socket.socket().bind(("0.0.0.0", 0)),
                        lambda: cpython_socket.gethostbyname("example.org"),
                        lambda: cpython_socket.getnameinfo(("10.0.0.9", 80), 0),
                        lambda: http.client.HTTPConnection("example.com", 80, timeout=1).request("GET", "/"))
            for attempt in attempts:
                try:
                    attempt()
                except Exception as e:
                    print(type(e).__name__, e)
            try:
                http.client.HTTPConnection("127.0.0.1", 1, timeout=1).request("GET", "/")
            except OSError as e:
                print("loopback allowed:", type(e).__name__)
            """), "--stdlib")
        self.assertEqual(status, 0)
        refused = ("SandboxError upysock sandbox: {} to '{}' refused: only loopback is reachable "
                   "(run with --net host or UPYSOCK_NET=host to reach real networks)\n")
        self.assertEqual(out, refused.format("socket.connect", "10.255.255.1")
                         + refused.format("socket.sendto", "10.255.255.2")
                         + refused.format("socket.bind", "0.0.0.0")
                         + refused.format("socket.gethostbyname", "example.org")
                         + refused.format("socket.getnameinfo", "10.0.0.9")
                         + refused.format("socket.getaddrinfo", "example.com")
                         + "loopback allowed: ConnectionRefusedError\n")


class Examples(unittest.TestCase):
    # The code blocks of the tutorial page (socket-tutorial.md), byte for byte: a script that runs
    # here must be the one the page shows, so an edit (an editor stripping whitespace) fails.
    TUTORIAL_SHA256 = {
        "tutorial1_server.py": "ade6d3eeb896b0d2edd5c028e0facb2d274e0e746052d263e8a6c8905490e1fb",
        "tutorial2_client.py": "63cab7c6d60b783e863ec6ce3ab53d5eb7e33fe2459eafa627930ebc569b4243",
        "tutorial3_ssl_client.py": "e908b7ba37ad54985c073ba46ce42d8409c43f6305fa27f5f95f32e9a70e691b",
    }

    def read(self, name):
        with open(py_example(name), "rb") as f:
            return f.read()

    def test_the_tutorials_are_the_pages_code_unchanged(self):
        for name, digest in self.TUTORIAL_SHA256.items():
            with self.subTest(name=name):
                self.assertEqual(hashlib.sha256(self.read(name)).hexdigest(), digest)

    def test_the_fixed_variant_differs_only_by_the_tuple(self):
        self.assertEqual(self.read("tutorial3_ssl_client_fixed.py"),
                         self.read("tutorial3_ssl_client.py").replace(b"(socket_thread, (p))",
                                                                      b"(socket_thread, (p,))"))


if __name__ == "__main__":
    unittest.main()
