#!/bin/sh
# Every public header compiles when it is the first and only thing a file includes, with strict
# C11 and no feature macros: a binding or a program may include any one of them on its own.
#   headers_alone.sh INCLUDE_DIR CC
set -eu
inc=$1 cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0 count=0
for h in "$inc"/upysock/*.h; do
    name=$(basename "$h")
    printf '#include <upysock/%s>\nint main(void) { return 0; }\n' "$name" >"$tmp/t.c"
    if ! "$cc" -std=c11 -pedantic -Wall -Wextra -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o"; then
        echo "FAIL: upysock/$name does not compile alone" >&2
        status=1
    fi
    count=$((count + 1))
done
[ "$count" -gt 0 ] || { echo "no headers under $inc/upysock" >&2; exit 1; }
echo "$count headers checked"
exit $status
