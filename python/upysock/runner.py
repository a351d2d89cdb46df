"""`python3 -m upysock [options] script.py [args]`: the script runs as the board's main.py.

Order: options become library settings (the same checks and messages as the UPYSOCK_*
variables); sandbox mode installs its audit hook; the board's modules are made on first import;
the script runs as __main__ in the main thread; then lifecycle.Life decides when the run ends.
"""
import importlib
import io
import os
import sys
import types

from upysock import boardsys, cli, console, flash, hardware, lifecycle, modmap, sandbox
from upysock.importer import BoardImporter

USAGE_STATUS = 2


def _fail(text):
    sys.stderr.write(f"{cli.PROG}: {text}\n")
    return USAGE_STATUS


def _load_device():
    try:
        from upysock import _upysock
    except ImportError as e:
        raise SystemExit(_fail(f"the extension upysock._upysock is not built or not found ({e})"))
    return _upysock


def _configure(device, opts, flash_dir):
    """Apply the options, then check the UPYSOCK_* variables; None or an error text."""
    try:
        for name, value in cli.library_settings(opts) + [("flash", flash_dir)]:
            device.configure(name, value)
        device.check_config()
    except ValueError as e:
        return f"ValueError: {e}"
    return None


def _search_path(script_dir, flash_dir):
    """The board's sys.path ['', '/flash', '/flash/lib'], '' being where the script is."""
    places = [(script_dir, ""), (flash_dir, "/flash/"), (os.path.join(flash_dir, "lib"), "/flash/lib/")]
    seen, search = set(), []
    for host, prefix in places:
        if os.path.realpath(host) not in seen:
            seen.add(os.path.realpath(host))
            search.append((host, prefix))
    return search


def _uio(fs):
    m = types.ModuleType("uio")
    m.__dict__.update(StringIO=io.StringIO, BytesIO=io.BytesIO, open=fs.open,
                      FileIO=io.FileIO, TextIOWrapper=io.TextIOWrapper)
    return m


def _crypto():
    """ucrypto.getrandbits(bits): random bytes (the board's hardware RNG)."""
    m = types.ModuleType("ucrypto")
    m.getrandbits = lambda bits: os.urandom((bits + 7) // 8)
    return m


def _providers(device, importer, fs, life, opts, argv):
    """modmap key -> a factory of the board module behind it (made on the script's first import)."""
    def provided_builtins():
        m = types.ModuleType("builtins")
        m.__dict__.update(importer.builtins)
        return m

    providers = {
        "builtins": provided_builtins,
        "micropython": boardsys.make_micropython,
        "sys": lambda: boardsys.make_sys(argv, importer.modules),
        "gc": boardsys.make_gc,
        "time": lambda: boardsys.make_utime(device.utime),
        "os": lambda: flash.make_uos(fs),
        "io": lambda: _uio(fs),
        "crypto": _crypto,
        "machine": lambda: hardware.make_machine(life.request_reset),
        "network": lambda: hardware.make_network(device.device_ip(),
                                                 lambda ip: device.configure("device_ip", ip)),
        "pycom": lambda: hardware.make_pycom(fs.host_dir),
    }
    for key in modmap.CPYTHON_SAME:
        providers[key] = lambda key=key: importlib.import_module(key)
    for key, attr in modmap.DEVICE.items():
        providers[key] = lambda attr=attr: getattr(device, attr)
    return providers


def _boot_then(script, flash_dir):
    """The files to run: /flash/boot.py first when there is one, then the script, as the board
    runs boot.py before main.py (esp32/mptask.c L305-316)."""
    boot = os.path.join(flash_dir, "boot.py")
    if os.path.isfile(boot) and not os.path.samefile(boot, script):
        return [boot, script]
    return [script]


def run_script(importer, paths, life):
    """Run the files in one __main__ namespace; the exit status: 1 after an unhandled exception
    (printed, and the next file still runs, as after a failing boot.py), a SystemExit's code
    (ending the run there)."""
    main = types.ModuleType("__main__")
    status = 0
    for path in paths:
        main.__file__ = os.path.basename(path)
        try:
            importer.exec_file(main, path, main.__file__)
        except SystemExit as e:
            return e.code if isinstance(e.code, int) else 0
        except BaseException as e:  # the board prints every exception that ends a file
            if not life.ignore_output():
                console.print_exception(e)
            status = 1
    return status


def main(argv=None):
    """The runner's entry point (python3 -m upysock, upysock-run): the exit status."""
    opts = cli.parse(sys.argv[1:] if argv is None else argv)
    console.make_line_buffered()
    script = os.path.abspath(opts.script)
    if not os.path.isfile(script):
        return _fail(f"can't open file '{opts.script}': [Errno 2] ENOENT")
    device = _load_device()
    flash_dir = cli.flash_dir(opts)
    error = _configure(device, opts, flash_dir)
    if error:
        return _fail(error)
    if cli.net_mode(opts) == "sandbox":
        sandbox.install()
    console.set_board_errno(device.uerrno)

    life = lifecycle.Life(device, opts.timeout, opts.exit_when_idle)
    fs = flash.Flash(flash_dir, device.OSError)
    importer = BoardImporter(_search_path(os.path.dirname(script), flash_dir), opts.stdlib)
    importer.providers = _providers(device, importer, fs, life, opts, [opts.script] + opts.args)
    importer.builtins.update(open=fs.open, const=boardsys.const, print=console.board_print)
    device.set_thread_excepthook(lifecycle.report_thread_exception(life))
    life.start()
    life.script_ended(run_script(importer, _boot_then(script, flash_dir), life))  # never returns
