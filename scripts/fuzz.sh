#!/usr/bin/env bash
# fuzz.sh [SECONDS] — build the libFuzzer harnesses (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz/, and run each for SECONDS (default 60) from its seed corpus. A crash, a leak or a
# broken contract fails the run and prints the input that caused it, in hex. The corpus grows
# in a temporary copy: the tree's seeds (tests/fuzz/corpus/) never change. The PEM harness's
# seeds are made at run time from the test certificate fixture (no key is ever committed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
readonly build=build-fuzz harnesses=(config address pem repr)

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DUPYSOCK_FUZZ=ON -DUPYSOCK_SANITIZE=address,undefined \
  -DUPYSOCK_WERROR=ON -DUPYSOCK_BUILD_TESTS=OFF -DUPYSOCK_BUILD_EXAMPLES=OFF -DUPYSOCK_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]/#/fuzz_}"

work=$(mktemp -d "${TMPDIR:-/tmp}/upysock-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# PEM seeds: C + a CA file, K + a certificate and its key in one file, plus the fixture's bad files.
pem_seeds() {
  local certs=$work/certs d=$1
  sh tests/fixtures/make-certs.sh "$certs" >/dev/null 2>&1
  local c=$certs/flash/cert
  { printf C; cat "$c/ca.pem"; } >"$d/ca"
  { printf C; cat "$c/garbage.pem"; } >"$d/garbage"
  { printf K; cat "$c/server.pem" "$c/server.key"; } >"$d/server"
  { printf K; cat "$c/client.pem" "$c/client.key"; } >"$d/client"
  { printf K; cat "$c/client.pem" "$c/encrypted.key"; } >"$d/encrypted"
  { printf K; cat "$c/client.pem" "$c/server.key"; } >"$d/mismatch"
}

failed=()
for h in "${harnesses[@]}"; do
  corpus=$work/corpus-$h
  mkdir -p "$corpus" "$work/run-$h"
  if [[ $h == pem ]]; then pem_seeds "$corpus"; else cp tests/fuzz/corpus/"$h"/* "$corpus"/; fi
  log=$work/$h.log rc=0
  # Leaks count (detect_leaks); the first crash ends the run and is written to crash-*.
  (cd "$work/run-$h" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    timeout -k 10 $((seconds + 120)) "$OLDPWD/$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/run-$h/" "$corpus") \
    >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  printf 'fuzz_%-8s %s executions in %ss, corpus %s inputs, exit %d\n' "$h" "${execs:-?}" "$seconds" \
    "$(find "$corpus" -type f | wc -l)" "$rc"
  if ((rc != 0)); then
    failed+=("$h")
    tail -n 60 "$log"
    for f in "$work/run-$h"/crash-* "$work/run-$h"/leak-* "$work/run-$h"/timeout-* "$work/run-$h"/oom-*; do
      [[ -f $f ]] || continue
      echo "---- fuzz_$h input $(basename "$f") ($(stat -c %s "$f") bytes), hex:"
      od -An -tx1 -v "$f"
    done
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: every harness ran ${seconds}s without a finding"
