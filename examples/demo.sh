#!/bin/sh
# demo.sh: three members of one group deliver the same 1000 records in the
# same order.  Two torecv receive; tocast sends and, with -r, writes what it
# delivers too.  The three streams must be byte for byte the same.
#
# Runs the binaries next to it (../cmd) if they are built, else those on
# PATH.  Everything it starts it kills again on exit, by PID.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/../cmd/tocast" ]; then
	PATH="$here/../cmd:$PATH"
fi
n=1000
g=demo-$$
dir=$(mktemp -d "${TMPDIR:-/tmp}/to-demo.XXXXXX")
pids=

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

fail() {
	echo "demo: $*" >&2
	for f in "$dir"/*.err; do
		[ -s "$f" ] && sed "s|^|${f##*/}: |" "$f" >&2
	done
	exit 1
}

# Two receivers, each done after n records.
for r in r1 r2; do
	torecv -g "$g" -n "$n" -v >"$dir/$r.out" 2>"$dir/$r.err" &
	pids="$pids $!"
done

# Ready once both have joined the group (10 s at most).
tries=0
until grep -q "joined view" "$dir/r1.err" 2>/dev/null &&
    grep -q "joined view" "$dir/r2.err" 2>/dev/null; do
	tries=$((tries + 1))
	[ "$tries" -le 200 ] || fail "receivers not ready after 10 s"
	sleep 0.05
done

# The sender waits for all three, casts, and leaves once all delivered.
seq "$n" | tocast -g "$g" -w 3 -r -v >"$dir/c.out" 2>"$dir/c.err" ||
    fail "tocast exited $?"
for p in $pids; do
	wait "$p" || fail "a receiver exited $?"
done
pids=

cmp "$dir/r1.out" "$dir/r2.out" || fail "receivers differ"
cmp "$dir/r1.out" "$dir/c.out" || fail "receiver and sender differ"
seq "$n" | cmp - "$dir/r1.out" || fail "the stream is not the input"

grep "(3 members)" "$dir/c.err" | head -n 1
echo "3 members delivered $n records in the same order:"
head -n 3 "$dir/r1.out"
echo ...
tail -n 2 "$dir/r1.out"
