"""The interpreter-facing modules as the board has them: sys, micropython, gc, and the utime
calls libupysock leaves to Python (localtime, gmtime, mktime).

Figures from the firmware (tag v1.20.2.r6): sys.implementation is ('micropython', (1, 11, 0))
(py/modsys.c; Pycom 1.20 is MicroPython 1.11), sys.maxsize is 2**31 - 1 (MP_SSIZE_MAX,
esp32/mpconfigport.h), sys.path is ['', '/flash', '/flash/lib'] (esp32/mptask.c).
"""
import calendar
import collections
import gc as host_gc
import sys
import time as host_time
import types

from upysock import console

IMPLEMENTATION = collections.namedtuple("implementation", "name version")("micropython", (1, 11, 0))
HEAP_BYTES = 2_560_000  # a Pycom board's MicroPython heap with 4 MiB of PSRAM, roughly


def make_sys(argv, modules):
    """A sys module for script code only: the board's attributes, CPython's own sys untouched."""
    m = types.ModuleType("sys")
    m.__dict__.update(
        argv=argv,
        path=["", "/flash", "/flash/lib"],
        modules=modules,
        implementation=IMPLEMENTATION,
        version="3.4.0",
        version_info=(3, 4, 0),
        platform="FiPy",
        byteorder="little",
        maxsize=2**31 - 1,
        exit=sys.exit,
        stdin=sys.stdin,
        stdout=sys.stdout,
        stderr=sys.stderr,
        exc_info=sys.exc_info,
        print_exception=console.print_exception,
    )
    return m


def const(value):
    """micropython.const: on the board a compile-time constant, here the value itself."""
    return value


def make_micropython():
    m = types.ModuleType("micropython")
    state = {"opt": 0}

    def opt_level(level=None):
        if level is None:
            return state["opt"]
        state["opt"] = level
        return None

    def mem_info(verbose=None):
        print(f"stack: 736 out of 11264\nGC: total: {HEAP_BYTES}, used: {mem_alloc()}, "
              f"free: {mem_free()}")

    m.__dict__.update(
        const=const,
        opt_level=opt_level,
        alloc_emergency_exception_buf=lambda size: None,
        mem_info=mem_info,
        qstr_info=lambda verbose=None: print("qstr pool: n_pool=1, n_qstr=0, n_str_data_bytes=0, "
                                              "n_total_bytes=0"),
        stack_use=lambda: 736,
        heap_lock=lambda: None,
        heap_unlock=lambda: None,
        kbd_intr=lambda chr: None,
    )
    return m


def mem_alloc():
    """Bytes in use: CPython's live object count as a stand-in, so it moves as the script does."""
    return min(len(host_gc.get_objects()) * 16, HEAP_BYTES // 2)


def mem_free():
    return HEAP_BYTES - mem_alloc()


def make_gc():
    m = types.ModuleType("gc")
    threshold = {"bytes": -1}

    def set_threshold(amount=None):
        if amount is None:
            return threshold["bytes"]
        threshold["bytes"] = amount
        return None

    m.__dict__.update(
        collect=lambda: (host_gc.collect(), None)[1],
        enable=host_gc.enable,
        disable=host_gc.disable,
        isenabled=host_gc.isenabled,
        mem_free=mem_free,
        mem_alloc=mem_alloc,
        threshold=set_threshold,
    )
    return m


def _as_time_tuple(tm):
    """(year, month, mday, hour, minute, second, weekday, yearday): the board's 8-tuple."""
    return (tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday, tm.tm_yday)


def make_utime(device_utime, name="utime"):
    """The device utime plus the calendar calls (Pycom's epoch is 1970; the board's RTC here
    is the host clock in UTC: the board keeps UTC unless the script sets utime.timezone())."""
    m = types.ModuleType(name)
    m.__dict__.update({k: v for k, v in vars(device_utime).items() if not k.startswith("__")})
    offset = {"s": 0}

    def timezone(seconds=None):
        if seconds is None:
            return offset["s"]
        offset["s"] = int(seconds)
        return None

    def gmtime(secs=None):
        return _as_time_tuple(host_time.gmtime(int(host_time.time() if secs is None else secs)))

    def localtime(secs=None):
        secs = int(host_time.time() if secs is None else secs)
        return _as_time_tuple(host_time.gmtime(secs + offset["s"]))

    def mktime(t):
        return calendar.timegm(tuple(t[:6]) + (0, 0, 0)) - offset["s"]

    for fn in (gmtime, localtime, mktime, timezone):
        m.__dict__.setdefault(fn.__name__, fn)
    m.__name__ = name
    return m
