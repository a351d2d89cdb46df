#!/usr/bin/env bash
# test.sh — build upysock and run its whole test suite: the README's test command.
#
#   ./scripts/test.sh [--no-install] [--build-dir DIR] [-DNAME=VALUE ...] [-- CTEST_ARGS ...]
#
# Installs the Debian packages that are missing (scripts/install-deps.sh; --no-install skips
# that), configures DIR (default: build) with warnings as errors, builds with one job per core
# and runs every test with `ctest --output-on-failure`. -D options go to CMake, e.g.
# -DUPYSOCK_SANITIZE=thread; arguments after -- go to ctest, e.g. -- -R usocket.
# Exit status: that of the build, else that of ctest. Safe to run again: only what changed is
# rebuilt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=1 build_dir=build cmake_args=() ctest_args=()
while (($#)); do
  case $1 in
    --no-install) install=0; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    -D*) cmake_args+=("$1"); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

((install)) && ./scripts/install-deps.sh
cmake -S . -B "$build_dir" -DUPYSOCK_WERROR=ON "${cmake_args[@]}"
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure "${ctest_args[@]}"
