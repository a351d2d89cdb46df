"""The board's import statement, for the script and the modules it imports, and only for them.

Nothing is added to CPython's sys.modules or sys.meta_path: the script's code runs with its own
__builtins__, whose __import__ is BoardImporter.import_, so CPython's standard library (and the
runner) keep their real socket, ssl, time, ... Order as in py/builtinimport.c: modules already
loaded, built-in modules, files on the board's sys.path (the script's directory, then /flash and
/flash/lib), weak links, then (only with --stdlib) CPython's own modules.
"""
import builtins
import importlib
import os
import types

from upysock import console, modmap


class BoardImporter:
    """Loads board modules and the script's own .py files into a module dict of their own."""

    def __init__(self, search, allow_stdlib):
        """search: the board's sys.path as [(host dir, board prefix)]. Set `providers` (modmap
        key -> zero-argument factory) before the first import."""
        self.providers = {}
        self.search = search
        self.allow_stdlib = allow_stdlib
        self.provided = {}
        self.modules = {}  # the board's sys.modules
        self.package_dirs = {}  # package name -> its board directory ("/flash/lib/pkg/")
        self.builtins = dict(vars(builtins), __import__=self.import_)

    def provide(self, key):
        """The one module object behind a modmap key, made on first use."""
        if key not in self.provided:
            self.provided[key] = self.providers[key]()
        return self.provided[key]

    def _not_found(self, name):
        return ImportError(f"no module named '{name}'")

    def _places(self, parent):
        if parent is None:
            return self.search
        return [(parent.__path__[0], self.package_dirs[parent.__name__])]

    def _find_file(self, name, parent):
        """(source path or None, board file name, (host dir, board dir) of a package or None),
        or None when no file of that name is there."""
        rel = name.rsplit(".", 1)[-1]
        for host_dir, prefix in self._places(parent):
            host = os.path.join(host_dir, rel)
            if os.path.isdir(host):  # a package; MicroPython needs no __init__.py
                init = os.path.join(host, "__init__.py")
                return ((init if os.path.isfile(init) else None), f"{prefix}{rel}/__init__.py",
                        (host, f"{prefix}{rel}/"))
            if os.path.isfile(host + ".py"):
                return host + ".py", f"{prefix}{rel}.py", None
        return None

    def exec_file(self, module, path, board_name):
        """Run a .py file as the board would: its code under board_name, board builtins."""
        with open(path, "rb") as f:
            source = f.read()
        console.register_script_file(board_name)
        code = compile(source, board_name, "exec", dont_inherit=True)
        module.__dict__["__builtins__"] = self.builtins
        exec(code, module.__dict__)

    def _load_file(self, name, parent):
        found = self._find_file(name, parent)
        if found is None:
            return None
        path, board_name, package = found
        module = types.ModuleType(name)
        module.__file__ = board_name
        module.__package__ = name if package is not None else name.rpartition(".")[0]
        module.__dict__["__builtins__"] = self.builtins
        if package is not None:
            module.__path__ = [package[0]]
            self.package_dirs[name] = package[1]
        self.modules[name] = module
        if path is None:
            return module
        try:
            self.exec_file(module, path, board_name)
        except BaseException:
            self.modules.pop(name, None)
            raise
        return module

    def _load_top(self, name):
        if name in self.modules:
            return self.modules[name]
        if name in modmap.BUILTIN:
            return self.provide(modmap.BUILTIN[name])
        module = self._load_file(name, None)
        if module is not None:
            return module
        if name in modmap.WEAK_LINKS:
            return self.provide(modmap.WEAK_LINKS[name])
        if self.allow_stdlib:
            return builtins.__import__(name)
        raise self._not_found(name)

    def _load_sub(self, parent, fullname):
        """A submodule: from the script's own package, or CPython's under --stdlib."""
        if fullname in self.modules:
            return self.modules[fullname]
        if parent.__name__ in self.package_dirs:
            module = self._load_file(fullname, parent)
            if module is not None:
                setattr(parent, fullname.rsplit(".", 1)[-1], module)
                return module
        elif self.allow_stdlib and not any(parent is m for m in self.provided.values()):
            return importlib.import_module(fullname)
        raise self._not_found(fullname)

    @staticmethod
    def _resolve(name, globals, level):
        """The absolute name of a relative import from the module whose globals are given."""
        parts = ((globals or {}).get("__package__") or "").split(".")
        if not parts[0] or level - 1 >= len(parts):
            raise ImportError("can't perform relative import")
        base = ".".join(parts[:len(parts) - (level - 1)])
        return f"{base}.{name}" if name else base

    def import_(self, name, globals=None, locals=None, fromlist=(), level=0):
        """builtins.__import__ for board code."""
        if level:
            name = self._resolve(name, globals, level)
        parts = name.split(".")
        top = module = self._load_top(parts[0])
        for i in range(1, len(parts)):
            module = self._load_sub(module, ".".join(parts[:i + 1]))
        if not fromlist:
            return top  # `import a.b` binds a (a relative import always has a fromlist)
        for attr in fromlist:
            if attr != "*" and not hasattr(module, attr) and hasattr(module, "__path__"):
                try:
                    self._load_sub(module, f"{module.__name__}.{attr}")
                except ImportError:
                    pass  # `from m import x` then fails with the usual ImportError
        return module

