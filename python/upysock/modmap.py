"""Which module a board script gets for each name it imports.

The board (pycom-micropython-sigfox tag v1.20.2.r6) knows three kinds of names:
* built-in modules, found before any file: py/objmodule.c mp_builtin_module_table plus
  esp32/mpconfigport.h MICROPY_PORT_BUILTIN_MODULES;
* weak links (esp32/mpconfigport.h MICROPY_PORT_BUILTIN_MODULE_WEAK_LINKS), found only when no
  file of that name exists on sys.path (py/builtinimport.c);
* nothing else: "ImportError: no module named 'x'".
Each name maps to a provider key; one module object per key, so `socket is usocket`.
"""

BUILTIN = {
    "builtins": "builtins",
    "micropython": "micropython",
    "sys": "sys",
    "gc": "gc",
    "_thread": "_thread",
    "math": "math",
    "cmath": "cmath",
    "array": "array",
    "uio": "io",
    "ucollections": "collections",
    "ustruct": "struct",
    "uerrno": "errno",
    "uzlib": "zlib",
    "ujson": "json",
    "ure": "re",
    "ubinascii": "binascii",
    "uselect": "select",
    "umachine": "machine",
    "uos": "os",
    "network": "network",
    "usocket": "socket",
    "utime": "time",
    "pycom": "pycom",
    "uhashlib": "hashlib",
    "ucrypto": "crypto",
    "ussl": "ssl",
    "uqueue": "queue",
}

WEAK_LINKS = {
    "machine": "machine",
    "os": "os",
    "socket": "socket",
    "select": "select",
    "binascii": "binascii",
    "struct": "struct",
    "re": "re",
    "json": "json",
    "time": "time",
    "hashlib": "hashlib",
    "crypto": "crypto",
    "ssl": "ssl",
    "errno": "errno",
    "queue": "queue",
}

# Keys whose board module is the CPython module of the same name, unchanged (docs/python.md
# lists what each does beyond the board's).
CPYTHON_SAME = {"math", "cmath", "array", "collections", "struct", "zlib", "json", "re",
                "binascii", "hashlib", "queue"}

# Keys that are libupysock's device modules (attributes of upysock._upysock).
DEVICE = {"socket": "usocket", "select": "uselect", "ssl": "ussl", "errno": "uerrno",
          "_thread": "_thread"}
