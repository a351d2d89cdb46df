#!/bin/sh
# install_check.sh BUILD_DIR PYTHON PACKAGE_DIR: `cmake --install --prefix` into a fresh
# directory, then the installed module imports with nothing but that prefix's dist-packages on
# the path (no LD_LIBRARY_PATH: the extension carries the library), links no libupysock.so, and
# the installed upysock-run starts the runner. In a sanitizer build UPYSOCK_TEST_PRELOAD names the
# sanitizer's runtime, which the interpreter (not instrumented) must load first; the sh launcher
# is then not run (a shell with the TSan runtime preloaded crashes), only the import is checked.
set -eu
build=$1 python=$2 pkgdir=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
so=$(ls "$prefix/$pkgdir"/upysock/_upysock.*.so)
if ldd "$so" | grep -q libupysock; then
    echo "FAIL: $so needs libupysock.so" >&2
    exit 1
fi
unset LD_LIBRARY_PATH
cd "$prefix" # python -c puts the working directory first on sys.path
preload=${UPYSOCK_TEST_PRELOAD:-}
PYTHONPATH="$prefix/$pkgdir" LD_PRELOAD="$preload" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    "$python" -c '
import sys, upysock._upysock as u
prefix = sys.argv[1]
assert u.__file__.startswith(prefix), u.__file__
s = u.usocket.socket()
s.close()
print("imported from", u.__file__)
' "$prefix"
# The default prefix needs no PYTHONPATH at all: Debian's interpreter searches /usr/local's
# dist-packages, which is where `cmake --install` puts the package by default.
if [ "$python" = /usr/bin/python3 ]; then
    env -u PYTHONPATH "$python" -c 'import sys; assert sys.argv[1] in sys.path, sys.path' "/usr/local/$pkgdir"
    echo "/usr/local/$pkgdir is on /usr/bin/python3's default sys.path"
fi
if [ -z "$preload" ]; then
    env -u PYTHONPATH "$prefix/bin/upysock-run" --help >/dev/null
    echo "upysock-run --help: ok"
fi
