#!/usr/bin/env bash
# install-deps.sh [--reliability] [PACKAGE...] — install upysock's build and test dependencies
# from Debian's packages, plus any PACKAGE named, but only those that are missing: when
# everything is there it does nothing (no apt-get, no network), so it is safe to run again and
# again, and offline. --reliability adds what the reliability suite needs (docs/reliability.md):
# clang and its runtimes for the fuzzers, valgrind.
#
# The one list of what upysock needs on Debian 12. scripts/demo.sh, scripts/test.sh, .ci/run and
# the Dockerfile all install through here.
set -euo pipefail

reliability=()
if [[ ${1:-} == --reliability ]]; then
  shift
  reliability=(
    clang              # scripts/fuzz.sh: libFuzzer harnesses
    libclang-rt-14-dev # ... their runtimes (-fsanitize=fuzzer,address,undefined)
    valgrind           # scripts/valgrind.sh: memcheck over the suites
  )
fi

packages=(
  build-essential # gcc, make, libc headers
  cmake           # >= 3.20 (Debian 12 has 3.25)
  pkg-config      # finds OpenSSL; also how a program can link upysock
  libssl-dev      # OpenSSL 3: the TLS layer
  openssl         # the command: certificates for the TLS tutorial
  libcmocka-dev   # the test suites
  iproute2        # ip: the multicast test's network namespace (skipped without it)
  python3-dev     # the Python front (python/): CPython headers; brings /usr/bin/python3
  tshark          # reads the pcap and key log (docs/observe.md) in the tests; skipped without it
  jq              # the trace checks in test_observe (the docs' jq line); skipped without it
  "${reliability[@]}"
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark's wireshark-common asks whether to make dumpcap setuid: no (we never capture)
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
