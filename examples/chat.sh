#!/bin/sh
# chat.sh: a chat room.  Everyone in a group sees one conversation: the
# same lines in the same order, with people coming and going in their
# place among them.
#
#	sh examples/chat.sh NAME [GROUP]	chat as NAME in GROUP (default
#						"chat"); end with ^D
#	sh examples/chat.sh --selftest		three scripted people, checked
#
# One member per person: lines typed go out framed (tocast -F), and tocast
# -r writes back everything the group delivers with a record for each view
# (to-frame(5)), which toview turns into text for awk to show:
#
#	* alice joined		her "hello" (everyone says hello again when
#				someone new comes, so the newcomer learns who
#				is here)
#	<alice> hi		what she said
#	* alice left		her "bye", or a view without her
set -eu
prog=chat
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: chat.sh name [group] | --selftest"
}

# Shows the stream and says hello (to the FIFO, our input) when someone new
# is in the view; ends when our own "bye" comes back.
# shellcheck disable=SC2016 # awk's $
show='
function hello() { print "hello", me >fifo; fflush(fifo) }
BEGIN { printf "" >fifo; fflush(fifo); printf "" >ready; close(ready) }
/^view / {
	new = 0
	split("", inview)
	for (i = 3; i <= NF - 2; i++) {
		inview[$i] = 1
		if (!($i in seen)) { seen[$i] = 1; new = 1; if (!nviews) here[$i] = 1 }
	}
	nviews++
	for (id in name)
		if (!(id in inview)) { print "* " name[id] " left"; delete name[id] }
	if (new)
		hello()
	next
}
/^data / {
	s = $3; sub(/^sender=/, "", s)
	p = $0; sub(/^[^:]*: /, "", p)
	split(p, a, " ")
	if (a[1] == "hello" && !(s in name)) {
		name[s] = a[2]
		print "* " a[2] (s in here ? " is here" : " joined")
	} else if (a[1] == "say") {
		sub(/^say /, "", p)
		print "<" name[s] "> " p
	} else if (a[1] == "bye") {
		print "* " name[s] " left"
		delete name[s]
		if (a[2] == me) exit
	}
}'

# One person, scripted for the self-test (run by the script itself): wait
# until all three are here, say three things, wait until all nine are in,
# then leave.
if [ "${1:-}" = --script ]; then
	me=$2 out=$3
	t=0
	await() {
		until [ "$(grep -c "$1" "$out")" -ge "$2" ]; do
			t=$((t + 1))
			[ "$t" -le 400 ] || exit 1
			sleep 0.05
		done
	}
	await '^\* ' 3
	for k in 1 2 3; do
		echo "$me says $k"
		sleep 0.0$k
	done
	await '^<' 9
	exit
fi

if [ "${1:-}" = --selftest ]; then
	[ $# -eq 1 ] || { usage >&2; exit 64; }
	tmpdir
	TMPDIR=$dir	# for the FIFO each person makes
	export TMPDIR
	g=chat-$$
	for p in alice bob carol; do
		# shellcheck disable=SC2016 # sh -c's $
		start "$p" sh -c 'sh "$1" --script "$2" "$3" | sh "$1" "$2" "$4"' \
		    sh "$0" "$p" "$dir/$p.out" "$g"
	done
	wait_all
	for p in alice bob carol; do
		grep '^<' "$dir/$p.out" >"$dir/$p.said"
		for q in alice bob carol; do
			grep -q -x -e "\* $q joined" -e "\* $q is here" \
			    "$dir/$p.out" || fail "$p never saw $q come"
			[ "$(grep -c "^<$q> $q says" "$dir/$p.said")" -eq 3 ] ||
			    fail "$p did not see all $q said"
		done
	done
	cmp "$dir/alice.said" "$dir/bob.said" || fail "alice and bob differ"
	cmp "$dir/alice.said" "$dir/carol.said" || fail "alice and carol differ"
	echo "3 people saw one conversation of $(wc -l <"$dir/alice.said") lines:"
	cat "$dir/alice.out"
	exit
fi

case ${1:-} in
-h | --help) usage; exit 0 ;;
'' | -* | *[!A-Za-z0-9_-]*) usage >&2; exit 64 ;;
esac
[ $# -le 2 ] || { usage >&2; exit 64; }
me=$1 g=${2:-chat}

dir=$(mktemp -d "${TMPDIR:-/tmp}/to-chat.XXXXXX")
mkfifo "$dir/fifo"
frame <"$dir/fifo" | tocast -g "$g" -F -r | toview |
    lawk -v me="$me" -v fifo="$dir/fifo" -v ready="$dir/ready" "$show" &
pids=$!
# Hello, what we type, then bye, into the FIFO.  Then we close it, once awk
# has it open too, so that frame sees its end when awk is done.
exec 3>"$dir/fifo"
echo "hello $me" >&3
while IFS= read -r l; do
	printf 'say %s\n' "$l"
done >&3
echo "bye $me" >&3
t=0
until [ -e "$dir/ready" ]; do
	t=$((t + 1))
	[ "$t" -le 200 ] || { echo "chat: awk did not start" >&2; exit 1; }
	sleep 0.05
done
exec 3>&-
wait
pids=
