#!/bin/sh
# No two files of the library depend on each other, directly or through others: the file graph,
# derived from the object files' symbols (file A depends on file B when A uses a symbol B
# defines), has no cycle. Prints the graph's edges and any cycle (tsort's report).
#   file_graph.sh OBJECT_DIR [NM]
set -eu
dir=$1 nm=${2:-nm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find "$dir" -name '*.o' | sort >"$tmp/objects"
[ -s "$tmp/objects" ] || { echo "no object files under $dir" >&2; exit 1; }
while read -r o; do
    name=${o#"$dir"/}
    name=${name%.o}
    "$nm" --defined-only --extern-only "$o" | awk -v f="$name" 'NF == 3 {print $3, f}' >>"$tmp/defs"
    "$nm" --undefined-only "$o" | awk -v f="$name" '{print $NF, f}' >>"$tmp/uses"
done <"$tmp/objects"
# symbol → definer joined with symbol → user gives user → definer edges.
sort -k1,1 "$tmp/defs" >"$tmp/defs.s"
sort -k1,1 "$tmp/uses" >"$tmp/uses.s"
join "$tmp/uses.s" "$tmp/defs.s" | awk '$2 != $3 {print $2, $3}' | sort -u >"$tmp/edges"
echo "file dependencies (user -> definer):"
awk '{print "  " $1 " -> " $2}' "$tmp/edges"
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loops"; then
    echo "FAIL: the file graph has a cycle:" >&2
    cat "$tmp/loops" >&2
    exit 1
fi
echo "no cycles among $(wc -l <"$tmp/objects") object files"
