"""The board's file system as the script sees it: /flash is a host directory (UPYSOCK_FLASH).

The script's working directory starts at /flash, as on the board; relative paths and /flash
paths land in the flash directory, any other path does not exist (the board mounts /flash, and
/sd only when a card is mounted). Errors are the board's OSError with its errno number.
"""
import builtins
import collections
import errno as host_errno
import os
import posixpath
import types

FLASH = "/flash"
NVS_FILE = ".upysock-nvs.json"  # pycom.nvs_* storage: the board keeps NVS outside the file system


class Flash:
    """Board paths <-> host paths, with the board's current directory (uos.chdir)."""

    def __init__(self, host_dir, board_oserror):
        self.host_dir = host_dir
        self.cwd = FLASH
        self._oserror = board_oserror

    def board_path(self, path):
        """The absolute, normalised board path for `path` as the script wrote it."""
        if isinstance(path, bytes):
            path = path.decode()
        return posixpath.normpath(posixpath.join(self.cwd, path))

    def host_path(self, path):
        """The host path behind a board path; ENOENT for paths outside /flash."""
        board = self.board_path(path)
        if board == FLASH:
            return self.host_dir
        if board.startswith(FLASH + "/"):
            return os.path.join(self.host_dir, board[len(FLASH) + 1:])
        raise self._oserror(host_errno.ENOENT)

    def call(self, fn, *args):
        """fn(*args) with a host OSError turned into the board's OSError(errno)."""
        try:
            return fn(*args)
        except OSError as e:
            if e.errno is None:
                raise
            raise self._oserror(e.errno) from None

    def open(self, file, mode="r", *args, **kwargs):
        """The builtin open() of the board: /flash paths only (file descriptors as they are)."""
        if isinstance(file, int):
            return builtins.open(file, mode, *args, **kwargs)
        host = self.host_path(file)
        if any(c in mode for c in "wax+"):
            os.makedirs(self.host_dir, exist_ok=True)
        return self.call(builtins.open, host, mode, *args, **kwargs)


UNAME = collections.namedtuple("uname_result", "sysname nodename release version machine")


def make_uos(flash, name="uos"):
    """The board's uos over the flash mapping (esp32/mods/moduos.c names)."""
    m = types.ModuleType(name)

    def chdir(path):
        host = flash.host_path(path)
        if not os.path.isdir(host):
            raise flash._oserror(host_errno.ENOENT)
        flash.cwd = flash.board_path(path)

    def listdir(path="."):
        return sorted(e for e in flash.call(os.listdir, flash.host_path(path)) if e != NVS_FILE)

    def ilistdir(path="."):
        host = flash.host_path(path)
        for entry in listdir(path):
            kind = 0x4000 if os.path.isdir(os.path.join(host, entry)) else 0x8000
            yield (entry, kind, 0)

    def stat(path):
        return tuple(flash.call(os.stat, flash.host_path(path)))[:10]

    def one_path(fn):
        return lambda path: flash.call(fn, flash.host_path(path))

    m.__dict__.update(
        sep="/",
        uname=lambda: UNAME("FiPy", "FiPy", "1.20.2.r6", "v1.11-b1 on 2021-10-28", "FiPy with ESP32"),
        getcwd=lambda: flash.cwd,
        chdir=chdir,
        listdir=listdir,
        ilistdir=ilistdir,
        stat=stat,
        mkdir=one_path(os.mkdir),
        remove=one_path(os.remove),
        unlink=one_path(os.remove),
        rmdir=one_path(os.rmdir),
        rename=lambda old, new: flash.call(os.rename, flash.host_path(old), flash.host_path(new)),
        urandom=os.urandom,
        sync=lambda: None,
        getfree=lambda path="/flash": 4 * 1024,
    )
    return m
