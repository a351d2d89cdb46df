"""The runner's command line: options that stand for the UPYSOCK_* variables, and the run's own."""
import argparse
import os

PROG = "upysock-run"

# Option -> the library setting it overrides (_upysock.configure name), with its variable.
LIBRARY_OPTIONS = (
    ("profile", "UPYSOCK_PROFILE", "NAME", "device profile: pycom-1.20.2 (default) or pycom-1.20.0"),
    ("limits", "UPYSOCK_LIMITS", "LIST", "limits beyond the profile's, e.g. max_sockets=2000,recv_cap=0"),
    ("remap", "UPYSOCK_REMAP", "RULES", "virtual-LAN rules, e.g. '*:6543=127.0.0.1:16543'"),
    ("flash", "UPYSOCK_FLASH", "DIR", "host directory that is the board's /flash (default ./flash)"),
    ("net", "UPYSOCK_NET", "MODE", "sandbox (default: loopback only, for the whole process) or host"),
    ("log", "UPYSOCK_LOG", "WHERE", "virtual-LAN log: stderr, fd:N or a file path"),
    ("faults", "UPYSOCK_FAULTS", "RULES", "fault rules, e.g. 'reset *:1883 after=100; linkdown at=5s for=2s' "
                                          "(docs/faults.md)"),
    ("device_ip", "UPYSOCK_DEVICE_IP", "ADDR",
     "the board's own address on the virtual LAN: network.WLAN().ifconfig() and the pcap "
     "(default 192.168.0.249)"),
    ("trace", "UPYSOCK_TRACE", "WHERE", "JSON Lines trace of every socket call: stderr, fd:N or a file "
     "path (docs/observe.md)"),
    ("trace_data", "UPYSOCK_TRACE_DATA", "N", "the first N payload bytes of each send/recv in the trace"),
    ("pcap", "UPYSOCK_PCAP", "FILE", "pcap of the virtual LAN as the board sees it, for Wireshark"),
    ("keylog", "UPYSOCK_KEYLOG", "FILE", "TLS key log (NSS format; SSLKEYLOGFILE is honoured too)"),
)

DESCRIPTION = """\
Run a Pycom board's MicroPython script (firmware 1.20.2.r6) on this machine: the script's
usocket/socket, uselect/select, ussl/ssl, uerrno/errno, utime/time and _thread are the board's,
emulated by libupysock; tracebacks, threads and the end of the run are as on the board.
Each library option overrides the UPYSOCK_* variable it names. See docs/python.md."""

EPILOG = """\
exit status: 0 when the script ended without an unhandled exception (also after SIGINT/SIGTERM,
which soft-reset the board), 1 when it raised one, 124 on --timeout, 2 for a bad option or
setting."""


def _positive_seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of seconds")
    return value


def _parser():
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, variable, metavar, text in LIBRARY_OPTIONS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar=metavar, help=f"{text} [{variable}]")
    p.add_argument("--timeout", metavar="SECONDS", type=_positive_seconds,
                   help="soft-reset and end the run after SECONDS (exit status 124)")
    p.add_argument("--exit-when-idle", action="store_true",
                   help="end once no device thread is left, or every one is blocked forever")
    p.add_argument("--stdlib", action="store_true",
                   help="let the script import CPython standard modules the board does not have "
                        "(without it: ImportError: no module named 'x', as on the board)")
    p.add_argument("script", help="the device script, run as __main__ (the board's main.py)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script (sys.argv)")
    return p


def parse(argv):
    """The parsed options."""
    return _parser().parse_args(argv)


def library_settings(opts):
    """(configure name, value) for every library option given on the command line."""
    return [(name, getattr(opts, name)) for name, *_ in LIBRARY_OPTIONS
            if getattr(opts, name) is not None]


def net_mode(opts):
    """'sandbox' or 'host': the option, else UPYSOCK_NET, else the library's default."""
    return opts.net or os.environ.get("UPYSOCK_NET") or "sandbox"


def flash_dir(opts):
    """The host directory that is /flash, absolute (resolved once, before anything runs)."""
    return os.path.abspath(opts.flash or os.environ.get("UPYSOCK_FLASH") or "flash")
