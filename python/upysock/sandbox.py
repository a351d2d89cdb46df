"""Sandbox mode for the whole process: CPython's own sockets reach loopback only.

The device modules already keep to loopback (libupysock's virtual LAN). A CPython module that
opens its own socket (urllib, smtplib, ... under --stdlib, or anything the runner imports) would
bypass them, so an audit hook refuses every socket.connect, bind, sendto and sendmsg whose
destination is not loopback, and every name lookup (getaddrinfo, gethostbyname[_ex],
gethostbyaddr, getnameinfo) of anything but a loopback address or localhost. Audit hooks cannot be removed: this holds until
the process ends.
"""
import ipaddress
import sys

_LOCAL_NAMES = {None, "", b"", "localhost", b"localhost"}


class SandboxError(PermissionError):
    """A CPython socket call that would leave loopback in sandbox mode."""


def _is_loopback_host(host):
    if host in _LOCAL_NAMES:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name: resolving it would already ask a real DNS server


def _destination(address):
    """The host of an AF_INET/AF_INET6 address tuple; None for other families (AF_UNIX)."""
    if isinstance(address, tuple) and address and isinstance(address[0], (str, bytes)):
        return address[0]
    return None


def _refuse(event, host):
    raise SandboxError(
        f"upysock sandbox: {event} to '{host}' refused: only loopback is reachable "
        "(run with --net host or UPYSOCK_NET=host to reach real networks)")


# Audit events (CPython's "Audit events table") -> where their destination is in the arguments.
_NAME_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                 "socket.gethostbyaddr"}
_ADDRESSED = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
_ANY_ADDRESS = ("", "0.0.0.0", "::")


def _host_of(event, args):
    """The host an event would reach, or None when it reaches no network (AF_UNIX, ...)."""
    if event in _NAME_LOOKUPS:
        return args[0]
    if event == "socket.getnameinfo":
        return _destination(args[0])
    if event in _ADDRESSED and len(args) >= 2:
        return _destination(args[1])
    return None


def _hook(event, args):
    if not event.startswith("socket."):
        return
    host = _host_of(event, args)
    if host is None and event not in _NAME_LOOKUPS:
        return
    if event == "socket.bind" and host in _ANY_ADDRESS:
        _refuse(event, host or "0.0.0.0")  # listening on every interface
    if not _is_loopback_host(host):
        _refuse(event, host)


def install():
    """Refuse non-loopback CPython socket destinations from now on, in every thread."""
    sys.addaudithook(_hook)

