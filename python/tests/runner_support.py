"""What the runner's tests and scenarios share: running `python3 -m upysock` and the C examples
in fresh processes, every wait bounded, and reading the virtual LAN's log for a server's port."""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

WAIT_S = 10  # the bound on any single wait in these tests
BUILD = os.environ.get("UPYSOCK_TEST_BUILD_DIR", "")
EXAMPLES_SRC = os.environ.get("UPYSOCK_TEST_EXAMPLES", os.path.join(os.path.dirname(__file__), "../../examples"))
PY_EXAMPLES = os.path.join(EXAMPLES_SRC, "python")
CERTS = os.environ.get("UPYSOCK_TEST_CERTS", "")
FLASH = os.path.dirname(CERTS)  # the fixture's flash root: /flash/cert/*.pem
OPENSSL = os.environ.get("UPYSOCK_OPENSSL_CLI", "openssl")
LISTEN = re.compile(rb"upysock: listen ([0-9.]+):(\d+) -> 127\.0\.0\.1:(\d+)\n")


def clean_env(**extra):
    """The test's environment without any UPYSOCK_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPYSOCK_")}
    env.update(extra)
    return env


def runner_cmd(*args):
    return [sys.executable, "-m", "upysock", *args]


def c_example(name):
    return os.path.join(BUILD, "examples", name)


def py_example(name):
    return os.path.join(PY_EXAMPLES, name)


def run(cmd, env=None, timeout=WAIT_S, cwd=None):
    """Run to the end: (exit status, stdout, stderr) as text."""
    p = subprocess.run(cmd, env=env or clean_env(), cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_script(test, source, *args, env=None, timeout=WAIT_S, files=None, script_args=()):
    """Write `source` as main.py (and `files`: {relative path: text}) into a fresh directory and
    run it with the runner and options `args`; /flash is that directory's flash/.
    (status, stdout, stderr)."""
    d = tempfile.mkdtemp(prefix="upysock-runner-")
    test.addCleanup(shutil.rmtree, d)
    for rel, text in {"main.py": source, **(files or {})}.items():
        path = os.path.join(d, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return run(runner_cmd("--flash", os.path.join(d, "flash"), *args, os.path.join(d, "main.py"), *script_args),
               env=env, timeout=timeout, cwd=d)


class Proc:
    """A process started in the background: its stdout and its virtual-LAN log read as they come."""

    def __init__(self, test, cmd, env=None, log=False, stdin=None):
        env = dict(env or clean_env())
        pass_fds = ()
        self.log_r = None
        if log:
            self.log_r, log_w = os.pipe()
            env["UPYSOCK_LOG"] = f"fd:{log_w}"
            pass_fds = (log_w,)
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=stdin, pass_fds=pass_fds)
        if log:
            os.close(log_w)
        self.out = b""
        self.log = b""
        test.addCleanup(self.kill)

    def _read_until(self, fd, stream, done):
        """Append what `fd` brings to self.<stream> until done(bytes) holds (bounded)."""
        deadline = time.monotonic() + WAIT_S
        while not done(getattr(self, stream)):
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"not seen within {WAIT_S} s or before the end; {stream}: "
                                     f"{getattr(self, stream)!r}")
            setattr(self, stream, getattr(self, stream) + chunk)

    def wait_log(self, pattern):
        """The first match of `pattern` (bytes regex) in the virtual-LAN log."""
        self._read_until(self.log_r, "log", pattern.search)
        return pattern.search(self.log)

    def listen_port(self):
        """The loopback port the device's listen landed on."""
        return int(self.wait_log(LISTEN).group(3))

    def wait_out(self, text, count=1):
        """Read stdout until `text` appeared `count` times; the output so far, as text."""
        self._read_until(self.p.stdout.fileno(), "out", lambda out: out.count(text.encode()) >= count)
        return self.out.decode()

    def wait_out_match(self, pattern):
        """The first match of `pattern` (bytes regex) on stdout."""
        self._read_until(self.p.stdout.fileno(), "out", pattern.search)
        return pattern.search(self.out)

    def stop(self, sig=signal.SIGTERM):
        """Signal, wait (bounded) and collect the rest: (status, stdout, stderr)."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
        return self.finish()

    def finish(self):
        """Wait for the end (bounded): (status, stdout, stderr)."""
        out, err = self.p.communicate(timeout=WAIT_S)
        self.out += out
        return self.p.returncode, self.out.decode(), err.decode()

    def cpu_seconds(self):
        """User + system CPU time of the process so far."""
        with open(f"/proc/{self.p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_sockets(self):
        """How many socket descriptors the process holds (an fd closed while they are counted is
        not one)."""
        fd_dir = f"/proc/{self.p.pid}/fd"
        count = 0
        for fd in os.listdir(fd_dir):
            try:
                count += os.readlink(os.path.join(fd_dir, fd)).startswith("socket:")
            except FileNotFoundError:
                pass
        return count

    def threads(self):
        return len(os.listdir(f"/proc/{self.p.pid}/task"))

    def wait_until(self, what, condition):
        """Poll `condition()` every 10 ms until it holds (bounded): for states that print nothing."""
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if time.monotonic() > deadline or self.p.poll() is not None:
                raise AssertionError(f"{what}: not within {WAIT_S} s")
            time.sleep(0.01)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(WAIT_S)
        for f in (self.p.stdout, self.p.stderr):
            f.close()
        if self.log_r is not None:
            os.close(self.log_r)
            self.log_r = None


def needs_build(test_case):
    """Skip when the build tree's examples are not there (a source-tree run without CTest)."""
    return unittest.skipUnless(os.path.isfile(c_example("tutorial_server")),
                               "needs UPYSOCK_TEST_BUILD_DIR with the examples built")(test_case)
