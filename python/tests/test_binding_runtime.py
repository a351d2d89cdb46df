"""_thread, utime, uerrno and the runner support calls through the binding."""
import contextlib
import io
import os
import subprocess
import sys
import threading
import unittest

from bindutil import JOIN, DeviceTest, _thread, u, uerrno, uselect, utime


def run_python(code, **env):
    """Run code in a fresh interpreter with the same PYTHONPATH: (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **env))
    return p.returncode, p.stdout, p.stderr


class Threads(DeviceTest):
    def tearDown(self):
        u.set_thread_excepthook(None)
        self.assertTrue(u.wait_threads(JOIN))
        super().tearDown()

    def test_args_that_are_not_a_tuple_or_list_raise_before_any_thread_starts(self):
        called = []
        with self.assertRaises(TypeError) as ct:
            _thread.start_new_thread(called.append, (uselect.poll()))
        self.assertEqual(str(ct.exception), "object 'poll' isn't a tuple or list")
        with self.assertRaises(TypeError) as ct:
            _thread.start_new_thread(called.append, (1,), [])
        self.assertEqual(str(ct.exception), "expecting a dict for keyword args")
        self.assertEqual(u.live_threads(), [])
        self.assertEqual(called, [])

    def test_a_thread_runs_the_function_with_list_args_and_kwargs_and_returns_none(self):
        done, seen = threading.Event(), []

        def f(a, b, c=None):
            seen.append((a, b, c, _thread.get_ident()))
            done.set()

        self.assertIsNone(_thread.start_new_thread(f, [1, 2], {"c": 3}))
        self.assertTrue(done.wait(JOIN))
        self.assertTrue(u.wait_threads(JOIN))
        self.assertEqual(seen[0][:3], (1, 2, 3))
        self.assertNotEqual(seen[0][3], _thread.get_ident())
        self.assertEqual(u.live_threads(), [])

    def test_an_unhandled_exception_goes_to_the_hook_and_systemexit_is_silent(self):
        caught = []
        u.set_thread_excepthook(lambda fn, exc: caught.append((fn, exc)))

        def boom():
            raise u.OSError(104)

        _thread.start_new_thread(boom, ())
        _thread.start_new_thread(_thread.exit, ())
        self.assertTrue(u.wait_threads(JOIN))
        self.assertEqual(len(caught), 1)
        self.assertIs(caught[0][0], boom)
        self.assertEqual(str(caught[0][1]), "[Errno 104] ECONNRESET")
        self.assertIsNotNone(caught[0][1].__traceback__)

    def test_the_default_printer_writes_the_boards_line_to_stdout(self):
        def f():
            raise ValueError("boom")

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            _thread.start_new_thread(f, ())
            self.assertTrue(u.wait_threads(JOIN))
        text = out.getvalue()
        self.assertTrue(text.startswith("Unhandled exception in thread started by <function "), text)
        self.assertIn("f at 0x", text.splitlines()[0])
        self.assertTrue(text.endswith("ValueError: boom\n"), text)

    def start_reader(self):
        """A device thread named reader, blocked in recv(1) on a connection: its peer's end."""
        c, a = self.pair()
        started = threading.Event()

        def reader():
            started.set()
            a.recv(1)

        _thread.start_new_thread(reader, ())
        self.assertTrue(started.wait(JOIN))
        return c

    def test_live_threads_names_a_running_thread(self):
        c = self.start_reader()
        self.assertEqual([name for _, name in u.live_threads()], ["reader"])
        self.assertEqual(u.activity(), 1)  # a recv may still end: running
        c.send(b"x")
        self.assertTrue(u.wait_threads(JOIN))
        self.assertEqual(u.activity(), 0)
        self.assertEqual(u.live_threads(), [])

    def test_wait_threads_answers_false_when_a_thread_outlives_the_timeout(self):
        c = self.start_reader()
        self.assertFalse(u.wait_threads(0.05))
        c.send(b"x")
        self.assertTrue(u.wait_threads(JOIN))

    def test_locks(self):
        lock = _thread.allocate_lock()
        self.assertIs(type(lock), _thread.LockType)
        self.assertTrue(lock.acquire())
        self.assertTrue(lock.locked())
        self.assertFalse(lock.acquire(0))
        lock.release()
        with self.assertRaises(RuntimeError) as cr:
            lock.release()
        self.assertEqual(cr.exception.args, ())
        with lock:
            self.assertTrue(lock.locked())
        self.assertFalse(lock.locked())

    def test_a_waiting_acquire_releases_the_gil(self):
        lock = _thread.allocate_lock()
        lock.acquire()
        self.assertTrue(self.assertReleasesGil(lock.acquire, lock.release))

    def test_stack_size_reads_and_resets(self):
        self.assertEqual(_thread.stack_size(8192), 0)
        self.assertEqual(_thread.stack_size(), 8192)
        self.assertEqual(_thread.stack_size(), 0)

    def test_every_thread_blocked_forever_is_activity_2(self):
        code = ("import upysock._upysock as u\n"
                "p = u.uselect.poll()\n"
                "u._thread.start_new_thread(p.poll, ())\n"
                "while u.activity() != 2: u.utime.sleep_ms(1)\n"
                "print(u.activity(), [n for _, n in u.live_threads()])\n")
        self.assertEqual(run_python(code)[:2], (0, "2 ['poll']\n"))


class Time(unittest.TestCase):
    def test_ticks_wrap_at_32_bits(self):
        self.assertEqual(utime.ticks_diff(1, 2**32 - 1), 2)
        self.assertEqual(utime.ticks_diff(0, 1), -1)
        self.assertEqual(utime.ticks_add(2**32 - 1, 2), 1)
        self.assertEqual(utime.ticks_add(0, -1), 2**32 - 1)
        self.assertLess(utime.ticks_ms(), 2**32)
        self.assertLess(utime.ticks_us(), 2**32)

    def test_time_is_an_int(self):
        self.assertIs(type(utime.time()), int)

    def test_sleeps_take_the_boards_arguments(self):
        self.assertIsNone(utime.sleep_ms(1))
        self.assertIsNone(utime.sleep_us(10))
        self.assertIsNone(utime.sleep(0.001))
        with self.assertRaises(TypeError) as ct:
            utime.sleep_ms(1.5)
        self.assertEqual(str(ct.exception), "can't convert float to int")
        with self.assertRaises(ValueError):
            utime.sleep_ms(-1)

    def test_sleep_releases_the_gil(self):
        started = threading.Event()

        def sleeper():
            started.set()
            utime.sleep_ms(300)

        t = threading.Thread(target=sleeper)
        t.start()
        self.assertTrue(started.wait(JOIN))
        count = 0
        while t.is_alive():  # a sleep holding the GIL would leave this loop nothing to run
            count += 1
        t.join(JOIN)
        self.assertGreater(count, 10000)


class Errno(unittest.TestCase):
    def test_names_and_errorcode_are_the_boards(self):
        self.assertEqual(uerrno.EINPROGRESS, 119)
        self.assertEqual(uerrno.errorcode[119], "EINPROGRESS")
        self.assertEqual(uerrno.MBEDTLS_ERR_SSL_TIMEOUT, -26624)
        self.assertFalse(hasattr(uerrno, "EPIPE"))  # the board names 32 nowhere
        self.assertNotIn(32, uerrno.errorcode)
        self.assertEqual(str(u.OSError(32)), "32")


class Config(unittest.TestCase):
    def test_bad_values_name_the_variable(self):
        for name, value, var in (("profile", "pycom-9", "UPYSOCK_PROFILE"), ("limits", "max_sockets", "UPYSOCK_LIMITS"),
                                 ("limits", "max_sockets=0", "UPYSOCK_LIMITS"), ("net", "lan", "UPYSOCK_NET"),
                                 ("remap", "nonsense", "UPYSOCK_REMAP"), ("log", "fd:-1", "UPYSOCK_LOG")):
            with self.subTest(name=name, value=value), self.assertRaises(ValueError) as cv:
                u.configure(name, value)
            self.assertTrue(str(cv.exception).startswith(var + ": "), str(cv.exception))
        with self.assertRaises(ValueError):
            u.configure("colour", "blue")

    def test_an_option_and_its_variable_give_the_same_message(self):
        code = ("import upysock._upysock as u\n"
                "try: u.check_config()\n"
                "except ValueError as e: print(e)\n")
        for name, value in (("limits", "max_sockets=+5"), ("log", "fd:x")):
            with self.subTest(name=name), self.assertRaises(ValueError) as cv:
                u.configure(name, value)
            status, out, _ = run_python(code, **{"UPYSOCK_" + name.upper(): value})
            self.assertEqual((status, out), (0, str(cv.exception) + "\n"))

    def test_configure_applies_before_any_socket(self):
        code = ("import upysock._upysock as u\n"
                "u.configure('limits', 'max_sockets=2')\n"
                "a = u.usocket.socket(); b = u.usocket.socket()\n"
                "try: u.usocket.socket()\n"
                "except OSError as e: print(e)\n")
        self.assertEqual(run_python(code)[:2], (0, "[Errno 105] ENOBUFS\n"))

    def test_check_config_reports_a_bad_variable(self):
        code = ("import upysock._upysock as u\n"
                "try: u.check_config()\n"
                "except ValueError as e: print(e)\n")
        status, out, _ = run_python(code, UPYSOCK_NET="lan")
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith("UPYSOCK_NET: "), out)


if __name__ == "__main__":
    unittest.main()
