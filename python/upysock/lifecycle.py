"""The end of a run, as on the board.

When the main script ends (or dies with a traceback) while _thread threads run, the board drops
to the REPL and the threads go on until a soft reset. Here the process waits for them, and ends:
* when no device thread is left;
* with --exit-when-idle, also when libupysock says every thread is blocked forever
  (_upysock.activity() == 2: a poll with no timeout on closed sockets only);
* on SIGINT/SIGTERM or machine.reset(): a soft reset, which closes every device socket (waking
  blocked calls as a close does) and gives the threads a short grace period; CPython cannot kill
  a thread, so any still running are named on stderr and the process ends anyway;
* on --timeout: the same soft reset, exit status 124.
Signals and the timeout are handled by a watcher thread (signal.set_wakeup_fd), so they act
even while the main thread is blocked inside a device call.
"""
import os
import select
import signal
import sys
import threading
import time

from upysock import console

GRACE_S = 1.0        # how long a soft reset waits for the threads it woke
IDLE_CHECK_S = 0.05  # how often the end-of-script wait asks the library whether anything runs
RESET_BYTE = b"\0"   # machine.reset() asks the watcher for a soft reset with this byte
TIMEOUT_STATUS = 124


def _warn(text):
    sys.stderr.write(f"upysock-run: {text}\n")


class Life:
    """The run's end: signals, --timeout, --exit-when-idle, soft reset."""

    def __init__(self, device, timeout=None, exit_when_idle=False):
        self.device = device
        self.timeout = timeout
        self.exit_when_idle = exit_when_idle
        self.status = 0            # the exit status once the script is over
        self.resetting = False     # set once a soft reset began: nothing else prints or exits
        self._lock = threading.Lock()
        self._rfd = self._wfd = -1

    def start(self):
        """Take over SIGINT and SIGTERM and start the clock for --timeout (main thread only)."""
        self._rfd, self._wfd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(self._wfd, False)
        signal.set_wakeup_fd(self._wfd, warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: None)  # the watcher acts on the wakeup byte
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        threading.Thread(target=self._watch, args=(deadline,), name="upysock-watcher",
                         daemon=True).start()

    def _watch(self, deadline):
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._rfd], [], [], wait)
            if ready:
                os.read(self._rfd, 64)
                self.soft_reset(0)  # a soft reset ends the run cleanly, whatever came before
            elif deadline is not None:
                _warn(f"--timeout {self.timeout:g} s reached: soft reset")
                self.soft_reset(TIMEOUT_STATUS)

    def request_reset(self):
        """machine.reset(): the watcher soft-resets; the caller then ends as by SystemExit."""
        os.write(self._wfd, RESET_BYTE)
        raise SystemExit

    def soft_reset(self, status):
        """Close every device socket, give the threads GRACE_S to end, then end the process."""
        with self._lock:
            if self.resetting:
                return
            self.resetting = True
        self.device.soft_reset()
        if not self.device.wait_threads(GRACE_S):
            names = ", ".join(f"{name} (ident {ident})" for ident, name in self.device.live_threads())
            if names:
                _warn(f"soft reset: thread(s) still running after {GRACE_S:g} s, "
                      f"ending anyway: {names}")
        self._exit(status)

    def script_ended(self, status):
        """Wait, as the board's REPL does, until the device threads are done; then exit."""
        self.status = status
        while not self.resetting:
            activity = self.device.activity()
            if activity == 0:
                break
            if activity == 2 and self.exit_when_idle:
                _warn("every thread is blocked forever (--exit-when-idle): ending the run")
                break
            self.device.wait_threads(IDLE_CHECK_S)
        with self._lock:
            if self.resetting:  # the watcher's soft reset ends the process
                threading.Event().wait()
            self.resetting = True
        self._exit(status)

    def ignore_output(self):
        """True once a soft reset began: exceptions it causes are not the script's to report."""
        return self.resetting

    @staticmethod
    def _exit(status):
        """End now: device threads may be blocked forever, and CPython could not join them."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)


def report_thread_exception(life):
    """The hook for _upysock.set_thread_excepthook: the board's report, unless resetting."""
    def hook(func, exc):
        if not life.ignore_output():
            console.print_thread_exception(func, exc)
    return hook
