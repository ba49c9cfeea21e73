#!/bin/sh
# replog.sh: a replicated append-only log.  Three members on this machine
# each append entries to the log and each keep a replica of it: tocast -r
# writes every entry the group delivers, from every member, in the one
# total order.  The replicas are framed (-F, to-frame(5)), so they hold the
# views too and toview -c can check them; their text, one entry a line with
# its place in the order, must be byte for byte the same.
#
#	sh examples/replog.sh [-n ENTRIES]	each member appends ENTRIES
#						(default 200)
set -eu
prog=replog
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: replog.sh [-n entries]"
}

# One member (run by the script itself): append "mI entry K" for K = 1..N,
# then "end of mI", and keep the input open until the three ends are
# delivered, so that the replica holds everything before it leaves.
if [ "${1:-}" = --member ]; then
	i=$2 n=$3 g=$4 log=$5
	# shellcheck disable=SC2094 # it reads the log tocast writes
	{
		seq -f "m$i entry %.0f" "$n"
		echo "end of m$i"
		await_ends "$log" 3
	} | frame | tocast -g "$g" -F -r -w 3 -v >"$log"
	exit
fi

opt_count -n 200 "$@"

tmpdir
g=replog-$$
members m "$n" "$g"

# The text of each replica: "GSEQ ENTRY", one entry a line.
for i in 1 2 3; do
	toview "$dir/m$i.log" |
	    sed -n 's/^data .* gseq=\([0-9]*\) len=[0-9]*: /\1 /p' >"$dir/m$i.txt"
done
cmp "$dir/m1.txt" "$dir/m2.txt" || fail "replicas 1 and 2 differ"
cmp "$dir/m1.txt" "$dir/m3.txt" || fail "replicas 1 and 3 differ"
lines=$(wc -l <"$dir/m1.txt")
[ "$lines" -eq $((3 * n + 3)) ] ||
    fail "$lines entries in the log, expected $((3 * n + 3))"
# Each member's entries, all of them, in the order it appended them.
for i in 1 2 3; do
	sed -n "s/^[0-9]* m$i entry //p" "$dir/m1.txt" >"$dir/seq$i"
	seq "$n" | cmp -s - "$dir/seq$i" || fail "m$i's entries are out of order"
done
toview -c "$dir/m1.log" "$dir/m2.log" "$dir/m3.log" ||
    fail "toview -c found the replicas disagree"
echo "3 replicas of $lines entries, identical:"
head -n 3 "$dir/m1.txt"
echo ...
tail -n 2 "$dir/m1.txt"
