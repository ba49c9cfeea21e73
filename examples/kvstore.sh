#!/bin/sh
# kvstore.sh: a replicated key-value store.  Every replica applies the
# commands the group delivers,
#
#	set KEY VALUE
#	del KEY
#
# in the one total order, so every replica ends in the same state however
# the writers race.  A replica of the group "kv" for a minute, printing its
# state at the end, and a writer:
#
#	timeout 60 torecv -g kv | sh examples/kvstore.sh --apply
#	echo "set colour blue" | tocast -g kv -w 2
#
#	sh examples/kvstore.sh [-n COMMANDS]	self-test: three replicas, each
#						also a writer of COMMANDS random
#						commands (default 300) on 20 keys
set -eu
prog=kvstore
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: kvstore.sh [-n commands] | --apply"
}

# The store: apply each command on stdin, dump the state, sorted, at the end.
apply() {
	# shellcheck disable=SC2016 # awk's $
	awk '$1 == "set" { kv[$2] = $3 } $1 == "del" { delete kv[$2] }
	    END { for (k in kv) print k, kv[k] | "sort" }'
}
if [ "${1:-}" = --apply ]; then
	apply
	exit
fi

# One replica (run by the script itself): write random commands, with a
# seed of its own, while applying what the group delivers; then "end of
# rI" and stay until the three ends are in.
if [ "${1:-}" = --member ]; then
	i=$2 n=$3 g=$4 log=$5
	# shellcheck disable=SC2094 # it reads the log tee writes
	{
		awk -v s="$i" -v n="$n" 'BEGIN { srand(s); for (j = 1; j <= n; j++) {
			k = "k" int(rand() * 20)
			if (rand() < 0.25) print "del", k
			else print "set", k, "r" s "." j } }'
		echo "end of r$i"
		await_ends "$log" 3
	} | tocast -g "$g" -r -w 3 -v | tee "$log" | apply
	exit
fi

opt_count -n 300 "$@"

tmpdir
g=kvstore-$$
members r "$n" "$g"

for i in 1 2 3; do
	lines=$(grep -c -e '^set ' -e '^del ' "$dir/r$i.log") || :
	[ "$lines" -eq $((3 * n)) ] ||
	    fail "replica $i applied $lines commands, expected $((3 * n))"
done
[ -s "$dir/r1.out" ] || fail "replica 1 is empty"
cmp "$dir/r1.out" "$dir/r2.out" || fail "replicas 1 and 2 differ"
cmp "$dir/r1.out" "$dir/r3.out" || fail "replicas 1 and 3 differ"
echo "3 replicas applied $((3 * n)) commands from 3 writers; the same" \
    "$(wc -l <"$dir/r1.out") keys in each:"
head -n 5 "$dir/r1.out"
