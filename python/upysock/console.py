"""The board's console: line-by-line stdout, and exceptions printed as MicroPython prints them.

Formats follow the firmware's py/obj.c mp_obj_print_exception and py/objexcept.c
mp_obj_exception_print (tag v1.20.2.r6): a "Traceback (most recent call last):" header, one
`  File "name", line N, in block` line per frame without source text, then `Type: message`
(always with ": ", even with no message); no chained exceptions.
"""
import errno as host_errno
import re
import sys

_script_files = set()   # code filenames of the script's own modules: the frames the board shows
_board_errno = {}       # uerrno name -> the board's number (filled from the device module)
_board_errorcode = {}   # the board's number -> its uerrno name (uerrno.errorcode)
# CPython's `from m import x` failure, which the board words "cannot import name x"
# (py/runtime.c mp_import_from).
_CANNOT_IMPORT = re.compile(r"^cannot import name '([^']*)' from ")


def make_line_buffered():
    """Each line reaches fd 1 when printed, also into a pipe or file (a killed run loses none)."""
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def board_print(*args, sep=" ", end="\n", file=None, flush=False):
    """The script's print: its whole text in one write. CPython's print writes each argument
    and the end separately, and another thread may write in between ("Received: ...Received:
    ...\n\n"); the board's print holds the GIL from start to end, so its lines never mix."""
    out = sys.stdout if file is None else file
    out.write((" " if sep is None else sep).join(map(str, args)) + ("\n" if end is None else end))
    if flush:
        out.flush()


def register_script_file(name):
    """Frames whose code came from `name` are the script's and appear in tracebacks."""
    _script_files.add(name)


def set_board_errno(uerrno_module):
    """Learn the board's errno numbers, to print host OSErrors under the board's names."""
    _board_errno.update({k: v for k, v in vars(uerrno_module).items()
                         if k.startswith("E") and isinstance(v, int)})
    _board_errorcode.update(getattr(uerrno_module, "errorcode", {}))


def _host_oserror_text(exc):
    """A CPython OSError (from open(), or a stdlib module) in the board's words: the Linux errno
    name with the board's number for it ("[Errno 2] ENOENT"), else the number alone."""
    name = host_errno.errorcode.get(exc.errno)
    if name is None:
        return str(exc.errno)
    return f"[Errno {_board_errno.get(name, exc.errno)}] {name}"


def _type_name(exc):
    cls = type(exc)
    # The board has no OSError subclasses: a CPython FileNotFoundError is its OSError.
    if isinstance(exc, OSError) and cls.__module__ == "builtins" and not isinstance(exc, TimeoutError):
        return "OSError"
    return cls.__name__


def _message(exc):
    """The text after "Type: ": one argument printed as str, several as a tuple; an OSError
    whose argument is a number uerrno names as "[Errno N] NAME"."""
    args = exc.args
    if isinstance(exc, SyntaxError):
        return exc.msg
    missing = _CANNOT_IMPORT.match(str(args[0])) if type(exc) is ImportError and args else None
    if missing:
        return f"cannot import name {missing.group(1)}"
    if isinstance(exc, OSError) and type(exc).__module__ == "builtins":
        if isinstance(exc.errno, int) and len(args) == 2:  # CPython's own (errno, strerror)
            return _host_oserror_text(exc)
        if len(args) == 1 and isinstance(args[0], int) and args[0] in _board_errorcode:
            return f"[Errno {args[0]}] {_board_errorcode[args[0]]}"
    if len(args) == 1:
        return str(args[0])
    return repr(args) if args else ""


def exception_line(exc):
    """`Type: message` as the board prints an exception (mp_obj_exception_print, PRINT_EXC)."""
    return f"{_type_name(exc)}: {_message(exc)}"


def _frames(tb):
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename in _script_files:
            yield code.co_filename, tb.tb_lineno, code.co_name
        tb = tb.tb_next


def format_exception(exc):
    """The board's traceback text for `exc` (only the script's frames), ending in a newline."""
    lines = [f'  File "{f}", line {n}, in {block}\n' for f, n, block in _frames(exc.__traceback__)]
    if isinstance(exc, SyntaxError) and exc.filename in _script_files:
        lines.append(f'  File "{exc.filename}", line {exc.lineno}\n')  # the board names no block
    if lines:
        lines.insert(0, "Traceback (most recent call last):\n")
    lines.append(exception_line(exc) + "\n")
    return "".join(lines)


def print_exception(exc, file=None):
    """sys.print_exception(exc, file=sys.stdout) as on the board."""
    (file or sys.stdout).write(format_exception(exc))


def print_thread_exception(func, exc):
    """The board's report of an exception that ended a _thread thread (py/modthread.c)."""
    sys.stdout.write(f"Unhandled exception in thread started by {func!r}\n" + format_exception(exc))
