#!/usr/bin/env bash
# Checks upysock-bench output: every line is one JSON object, either a measurement with the
# required keys or a "skipped" line; with --bench, also that every scenario that program lists
# printed a line. Asserts no timing. Reads the output from FILE or stdin.
#
#   bench/check_json.sh [--bench build/bench/upysock-bench] [FILE]
#   build/bench/upysock-bench --quick > bench.out && bench/check_json.sh --bench build/bench/upysock-bench bench.out
#
# Uses jq when it is installed, else python3; one of them must be (both are Debian 12 packages).
set -euo pipefail

bench=
if [[ ${1:-} == --bench ]]; then
    bench=$2
    shift 2
fi
input=${1:-/dev/stdin}
lines=$(cat -- "$input")
if [[ -z $lines ]]; then
    echo "check_json: no output" >&2
    exit 1
fi

measured='has("scenario") and has("unit") and has("upysock") and has("raw") and has("ratio")
          and has("rounds") and has("min_ratio") and has("max_ratio")
          and (.upysock | type == "number") and (.raw | type == "number") and (.rounds | type == "number")'

check_line() {
    if command -v jq > /dev/null; then
        jq -e "type == \"object\" and ((has(\"scenario\") and has(\"skipped\")) or ($measured))" \
            <<< "$1" > /dev/null 2>&1
    elif command -v python3 > /dev/null; then
        python3 -c '
import json, sys
o = json.loads(sys.argv[1])
keys = ("scenario", "unit", "upysock", "raw", "ratio", "rounds", "min_ratio", "max_ratio")
ok = isinstance(o, dict) and "scenario" in o and ("skipped" in o or (
    all(k in o for k in keys) and all(isinstance(o[k], (int, float)) for k in ("upysock", "raw", "rounds"))))
sys.exit(0 if ok else 1)' "$1" 2> /dev/null
    else
        echo "check_json: needs jq or python3" >&2
        exit 2
    fi
}

status=0
n=0
while IFS= read -r line; do
    n=$((n + 1))
    if ! check_line "$line"; then
        echo "check_json: line $n is not a valid result: $line" >&2
        status=1
    fi
done <<< "$lines"

# Every scenario the program knows must have printed at least one line.
if [[ -n $bench ]]; then
    while IFS= read -r name; do
        if ! grep -q "\"scenario\":\"$name\"" <<< "$lines"; then
            echo "check_json: scenario $name printed nothing" >&2
            status=1
        fi
    done < <("$bench" --list)
fi

skipped=$(grep -c '"skipped"' <<< "$lines" || true)
echo "check_json: $n lines, $skipped skipped, $( ((status)) && echo FAILED || echo ok)"
exit $status
