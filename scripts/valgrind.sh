#!/usr/bin/env bash
# valgrind.sh [-- CTEST_ARGS ...] — the module suites under valgrind memcheck (build-valgrind/):
# every suite's executable runs under valgrind (CMake's test launcher), and any memcheck error or
# definitely lost block fails it. Timeouts are scaled for valgrind's pace; the helper programs a
# suite starts run natively. tests/valgrind.supp holds what OpenSSL and glibc do on purpose.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ctest_args=()
[[ ${1:-} == -- ]] && { shift; ctest_args=("$@"); }
readonly build=build-valgrind
valgrind=(valgrind --quiet --error-exitcode=97 --leak-check=full --show-leak-kinds=definite
          --errors-for-leak-kinds=definite --num-callers=30 "--suppressions=$PWD/tests/valgrind.supp")
emulator=$(IFS=';'; echo "${valgrind[*]}")

cmake -S . -B "$build" -DUPYSOCK_WERROR=ON -DUPYSOCK_BUILD_EXAMPLES=OFF -DUPYSOCK_BUILD_BENCH=OFF \
  -DUPYSOCK_TEST_TIMEOUT_SCALE=10 "-DCMAKE_CROSSCOMPILING_EMULATOR=$emulator" >/dev/null
cmake --build "$build" -j"$(nproc)"
# install_consumer builds a program with the compiler (no suite to check); the allocation
# torture's leak check is the ASan build's (it forks hundreds of runs: too slow here).
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure -E '^(install_consumer|alloc_torture_.*)$' "${ctest_args[@]}"
