#!/usr/bin/env bash
# demo.sh — the Pycom socket tutorials, as C programs, on this machine's loopback: installs the
# Debian packages that are missing, builds, then runs each tutorial server with a client against
# it and shows what both print.
#
#   ./scripts/demo.sh [--no-install] [--no-build] [--build-dir DIR]
#
#   --no-install   do not look for missing packages (the Docker image's default command)
#   --no-build     run the programs already built in DIR instead of building first
#   --build-dir    the build tree (default: build)
#
# Stages; each runs when its programs are in the build tree:
#   1. tutorial_server (tutorial 1: blocking server, a thread per client)
#        + tutorial_server_peer: three clients, one after another
#   2. the same server + tutorial_client (tutorial 2: two non-blocking sockets and a poll thread)
#   3. tls_server + tutorial_ssl_client (tutorial 3: non-blocking TLS client), with the TLS
#        tests' certificates (tests/fixtures/make-certs.sh) in a temporary /flash (UPYSOCK_FLASH);
#        the client's pcap and TLS key log are kept in DIR/demo-tls.pcap and DIR/demo-tls.keys
#        (docs/observe.md), and the tshark line that shows the decrypted payload is printed (and
#        run, when tshark is installed)
# Then, when the Python front is built (DIR/python/upysock), the tutorials' own .py files,
# unchanged (examples/python/), run by `python3 -m upysock`:
#   4. tutorial1_server.py + tutorial_server_peer, then + tutorial2_client.py
#   5. tutorial3_ssl_client.py against tls_server: the board's TypeError for its `(p)`; then
#        tutorial3_ssl_client_fixed.py (`(p,)`), which gets the echo byte by byte
#   6. a fault (docs/faults.md): fault_reset_client against the tutorial 1 server, with its
#        connection reset before the answer: the board's OSError 104, sticky, and poll's HUP;
#        then (Python front) fault_reset_client.py with the same rule given from outside
# A .py client runs with --exit-when-idle: its poll thread never returns, as on the board.
#
# The programs keep the tutorials' LAN addresses. Each server's address is remapped to a free
# loopback port (UPYSOCK_REMAP='*=127.0.0.1:0'); its virtual-LAN log line
# "upysock: listen 192.168.0.249:6543 -> 127.0.0.1:PORT" (UPYSOCK_LOG=fd:3) says which, and the
# clients' tutorial port (6543), and the server's device port if it differs, are remapped to it.
# So a server here must listen through upysock, needs no arguments, and finds its certificates
# under /flash/cert (tests/fixtures/make-certs.sh names them). Every wait is bounded; nothing is
# left running.
# Exit status 0 when every stage that ran printed what the tutorial prints.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=1 build=1 build_dir=build
while (($#)); do
  case $1 in
    --no-install) install=0; shift ;;
    --no-build) build=0; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

readonly LISTEN_WAIT=10   # seconds for a server to announce its port
readonly CLIENT_WAIT=30   # seconds for a client run
readonly SERVER_LIFE=120  # seconds a server may live at most, whatever happens to this script
readonly TUTORIAL_PORT=6543 # the port every tutorial client connects to
readonly MAKE_CERTS=tests/fixtures/make-certs.sh
readonly TYPE_ERROR="TypeError: object 'poll' isn't a tuple or list"

if ((install)); then
  ./scripts/install-deps.sh
fi
if ((build)); then
  echo "-- building in $build_dir/ (compiler messages, if any, follow)"
  cmake -S . -B "$build_dir" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)" >/dev/null
fi
bin=$build_dir/examples
[[ -x $bin/tutorial_server ]] || { echo "demo.sh: no $bin/tutorial_server (build first)" >&2; exit 1; }
# The Python front, when built: the interpreter it was built for runs the .py tutorials.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" 2>/dev/null || true; }
python=$(cache Python3_EXECUTABLE)
pyfront=0 pyenv=(PYTHONPATH="$build_dir/python")
if [[ -n $python ]] && compgen -G "$build_dir/python/upysock/_upysock*.so" >/dev/null; then
  pyfront=1
fi
# In a sanitizer build the extension is instrumented and the interpreter is not: the
# interpreter loads the sanitizer's runtime first (as the build's Python tests do).
case $(cache UPYSOCK_SANITIZE) in
  *address*) pyenv+=(LD_PRELOAD="$("$(cache CMAKE_C_COMPILER)" -print-file-name=libasan.so)"
                     ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0") ;;
  *thread*) pyenv+=(LD_PRELOAD="$("$(cache CMAKE_C_COMPILER)" -print-file-name=libtsan.so)") ;;
esac

# program NAME: sets prog to the command line of an example, and shown to how the demo shows
# it: a C program of the build tree, or a tutorial .py file run by the Python front (a client
# with --exit-when-idle).
program() {
  local opts=()
  case $1 in
    *_server.py) ;;
    *.py) opts=(--exit-when-idle) ;;
    *) prog=("$bin/$1") shown=$1; return ;;
  esac
  shown="python3 -m upysock ${opts[*]:+${opts[*]} }examples/python/$1"
  prog=(env "${pyenv[@]}" "$python" -m upysock ${opts[@]+"${opts[@]}"} "examples/python/$1")
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/upysock-demo.XXXXXX")
server_pid="" log_fd=""
cleanup() {
  if [[ -n $server_pid ]]; then stop_server; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }
fail() {
  if [[ -n $server_pid && -s $tmp/$server_name.out ]]; then
    say "  $server_name's output so far:"
    show "$server_name" "$tmp/$server_name.out"
  fi
  say "demo.sh: FAILED: $*" >&2
  exit 1
}
# show PREFIX FILE [FROM_LINE]: a program's output, indented and labelled.
show() { tail -n "+${3:-1}" "$2" | sed "s/^/    $1 | /"; }
count() { grep -c -- "$1" "$2" || true; }

# start_server PROGRAM [ENV...]: run PROGRAM with its listen address moved to a free loopback
# port, under `timeout` so that it cannot outlive SERVER_LIFE. Waits for the log line that names
# the port; sets server_pid, server_name, dev_addr (the device address it listens on), dev_port
# and host_port.
start_server() {
  server_name=$1
  shift
  local fifo=$tmp/$server_name.log line deadline=$((SECONDS + LISTEN_WAIT))
  rm -f "$fifo"
  mkfifo "$fifo"
  exec {log_fd}<>"$fifo" # read-write: never blocks, and the server never writes into a closed pipe
  program "$server_name"
  env UPYSOCK_REMAP='*=127.0.0.1:0' UPYSOCK_LOG=fd:3 "$@" \
    timeout -k 5 "$SERVER_LIFE" "${prog[@]}" >"$tmp/$server_name.out" 2>&1 3>"$fifo" {log_fd}>&- &
  server_pid=$!
  while :; do
    if IFS= read -r -t 1 -u "$log_fd" line; then
      if [[ $line =~ ^upysock:\ listen\ ([0-9.]+):([0-9]+)\ -\>\ 127\.0\.0\.1:([0-9]+)$ ]]; then
        dev_addr=${BASH_REMATCH[1]} dev_port=${BASH_REMATCH[2]} host_port=${BASH_REMATCH[3]}
        return 0
      fi
    elif ! kill -0 "$server_pid" 2>/dev/null; then
      fail "$server_name exited before listening"
    elif ((SECONDS >= deadline)); then
      fail "$server_name did not report a listening port within ${LISTEN_WAIT}s"
    fi
  done
}

# stop_server: SIGTERM (the tutorial server runs until then), which `timeout` passes on and
# follows with SIGKILL after 5 s if needed, so the wait is bounded.
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  exec {log_fd}<&-
}

# run_client NAME PROGRAM [ARGS...]: run a client against the current server, with the
# tutorial's port remapped to the server's; its output goes to $tmp/NAME.out. Fails the demo
# unless the client exits with status $want_status (default 0) having printed a line that
# contains $want_line (default 'Data received: ').
run_client() {
  local name=$1 rc=0
  shift
  local remap="*:$TUTORIAL_PORT=127.0.0.1:$host_port"
  ((dev_port == TUTORIAL_PORT)) || remap+=",*:$dev_port=127.0.0.1:$host_port"
  program "$1"
  say "  \$ UPYSOCK_REMAP='$remap' $shown${2:+ ${*:2}}"
  env UPYSOCK_REMAP="$remap" ${client_env[@]+"${client_env[@]}"} \
    timeout -k 5 "$CLIENT_WAIT" "${prog[@]}" "${@:2}" >"$tmp/$name.out" 2>&1 || rc=$?
  show "$1" "$tmp/$name.out"
  if ((rc == 124)); then
    fail "$1 did not finish within ${CLIENT_WAIT}s"
  elif ((rc != ${want_status:-0})); then
    fail "$1 exited with status $rc"
  fi
  (($(count "${want_line:-Data received: }" "$tmp/$name.out") > 0)) || fail "$1 printed no '${want_line:-Data received: }' line"
}

# expect_received FROM_LINE COUNT: the tutorial server printed at least COUNT Received lines
# from line FROM_LINE of its output on (one per client).
expect_received() {
  local n
  n=$(tail -n "+$1" "$tmp/$server_name.out" | grep -c "^Received: " || true)
  show "$server_name" "$tmp/$server_name.out" "$1"
  ((n >= $2)) || fail "$server_name printed $n 'Received:' lines, expected $2"
}

lines() { wc -l <"$1"; }
client_env=()
stages=0

say "== upysock demo: the Pycom socket tutorials on loopback (build tree: $build_dir)"
start_server tutorial_server
say "-- tutorial_server listens on the device's $dev_addr:$dev_port -> 127.0.0.1:$host_port"

say
say "== 1. tutorial 1 server, three clients one after another (tutorial_server_peer)"
run_client peer tutorial_server_peer 3
expect_received 1 3
stages=$((stages + 1))

if [[ -x $bin/tutorial_client ]]; then
  say
  say "== 2. tutorial 2: two non-blocking sockets and a poll thread (tutorial_client)"
  from=$(($(lines "$tmp/tutorial_server.out") + 1))
  run_client client tutorial_client
  expect_received "$from" 2
  stages=$((stages + 1))
else
  say
  say "-- 2. skipped: $bin/tutorial_client is not built"
fi
stop_server

if [[ -x $bin/tls_server && -x $bin/tutorial_ssl_client && -f $MAKE_CERTS ]]; then
  say
  say "== 3. tutorial 3: non-blocking TLS client (tutorial_ssl_client) against tls_server"
  sh "$MAKE_CERTS" "$tmp" >/dev/null 2>&1 || fail "$MAKE_CERTS could not make the certificates"
  say "  certificates: $MAKE_CERTS -> UPYSOCK_FLASH=$tmp/flash (/flash/cert/*.pem)"
  pcap=$build_dir/demo-tls.pcap keys=$build_dir/demo-tls.keys
  rm -f "$keys" # the key log is appended to
  client_env=(UPYSOCK_FLASH="$tmp/flash" UPYSOCK_PCAP="$pcap" UPYSOCK_KEYLOG="$keys")
  start_server tls_server UPYSOCK_FLASH="$tmp/flash"
  say "-- tls_server listens on the device's $dev_addr:$dev_port -> 127.0.0.1:$host_port"
  say "  (the client writes what the board would put on the wire: UPYSOCK_PCAP=$pcap UPYSOCK_KEYLOG=$keys)"
  run_client ssl_client tutorial_ssl_client
  stop_server
  show tls_server "$tmp/tls_server.out"
  say "  the decrypted conversation, as Wireshark shows it:"
  say "  \$ tshark -r $pcap -o tls.keylog_file:$keys -q -z follow,tls,ascii,0"
  if command -v tshark >/dev/null; then
    timeout 60 tshark -r "$pcap" -o "tls.keylog_file:$keys" -q -z follow,tls,ascii,0 2>/dev/null \
      >"$tmp/follow.out" || true
    show tshark "$tmp/follow.out"
    (($(count "Data to send" "$tmp/follow.out") > 0)) || fail "tshark did not show the decrypted 'Data to send'"
  else
    say "  (tshark is not installed: scripts/install-deps.sh installs it)"
  fi
  stages=$((stages + 1))
else
  say
  say "-- 3. skipped: tls_server, tutorial_ssl_client or $MAKE_CERTS is missing"
fi

if ((pyfront)); then
  say
  say "== 4. the tutorials' .py files, unchanged, on the Python front: python3 -m upysock tutorial1_server.py"
  client_env=()
  start_server tutorial1_server.py
  say "-- tutorial1_server.py listens on the device's $dev_addr:$dev_port -> 127.0.0.1:$host_port"
  run_client py_peer tutorial_server_peer 3
  expect_received 1 3
  from=$(($(lines "$tmp/tutorial1_server.py.out") + 1))
  run_client py_client tutorial2_client.py
  expect_received "$from" 2
  stop_server
  stages=$((stages + 1))

  if [[ -x $bin/tls_server && -f $tmp/flash/cert/my_CA_cert.pem ]]; then
    say
    say "== 5. tutorial3_ssl_client.py against tls_server: the board's TypeError for its (p), then the (p,) fix"
    client_env=(UPYSOCK_FLASH="$tmp/flash")
    start_server tls_server UPYSOCK_FLASH="$tmp/flash"
    want_status=1 want_line=$TYPE_ERROR run_client py_ssl_client tutorial3_ssl_client.py
    say "  (exit status 1, no thread started, as on the board; tls_server's thread for that connection"
    say "   then sees the client's process end without a close_notify: MBEDTLS_ERR_SSL_CONN_EOF)"
    run_client py_ssl_client_fixed tutorial3_ssl_client_fixed.py
    stop_server
    show tls_server "$tmp/tls_server.out"
    stages=$((stages + 1))
  fi
else
  say
  say "-- 4, 5. skipped: the Python front is not built in $build_dir (needs python3-dev)"
fi

if [[ -x $bin/fault_reset_client ]]; then
  say
  say "== 6. testing an error path: the server's connection is reset before its answer (fault_reset_client)"
  client_env=()
  start_server tutorial_server
  want_line="ECONNRESET" run_client fault_client fault_reset_client
  (($(count "OSError: \[Errno 104\] ECONNRESET" "$tmp/fault_client.out") == 2)) || fail "the reset was not sticky"
  if ((pyfront)); then
    say "  the same rule from outside, on the Python front (UPYSOCK_FAULTS, or the runner's --faults):"
    say "  UPYSOCK_FAULTS='reset *:6543 after=0 dir=recv'"
    client_env=(UPYSOCK_FAULTS='reset *:6543 after=0 dir=recv')
    want_line="ECONNRESET" run_client py_fault_client fault_reset_client.py
    client_env=()
  fi
  stop_server
  stages=$((stages + 1))
fi

say
say "== demo passed: $stages stage(s) ran, every client got its answers"
