#!/bin/sh
# Install the current build into a temporary prefix, build tests/consumer against it with CMake
# (find_package, shared and static) and with pkg-config, run all three and check what they print.
#
#   install_consumer.sh BUILD_DIR CONSUMER_SOURCE_DIR C_COMPILER [SANITIZERS]
#
# SANITIZERS is the build's UPYSOCK_SANITIZE: a sanitized library needs sanitized programs.
set -eu

build=$1 consumer=$2 cc=$3 sanitize=${4:-}
flags=
[ -z "$sanitize" ] || flags="-fsanitize=$sanitize"

work=$(mktemp -d "${TMPDIR:-/tmp}/upysock-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

# The consumer must see the library's defaults, whatever the caller exported.
for var in $(env | sed -n 's/^\(UPYSOCK_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$var"
done

step() { echo "== $*"; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }

pcdir=$(dirname "$(find "$prefix" -name upysock.pc)")
libdir=$(dirname "$pcdir")
version=$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion upysock)

cat >"$work/expected" <<END
upysock $version, profile pycom-1.20.2
getaddrinfo: [(2, 1, 0, '', ('192.168.0.234', 6543))]
listening, fileno 54
OSError: [Errno 202] EAI_FAIL
END

check() { # NAME PROGRAM
    "$2" >"$work/$1.out" 2>&1 || { echo "$1 failed:"; cat "$work/$1.out"; exit 1; }
    diff -u "$work/expected" "$work/$1.out" || { echo "$1 printed something else"; exit 1; }
    echo "$1: ok"
}

step "find_package(upysock)"
cmake -S "$consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log"; exit 1; }
cmake --build "$work/cmake" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
check cmake-shared "$work/cmake/consumer"
check cmake-static "$work/cmake/consumer_static"

step "pkg-config upysock"
# Word splitting of the pkg-config output is intended: it is a list of flags.
# shellcheck disable=SC2046
"$cc" $flags -o "$work/consumer_pc" "$consumer/main.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs upysock)
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} check pkg-config "$work/consumer_pc"
