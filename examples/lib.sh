# lib.sh: what the example scripts share.  Source it with ". lib.sh" after
# setting prog (the script's name, for messages); it gives:
#
#	PATH		the binaries of ../cmd first, if they are built
#	tmpdir		make $dir, a temporary directory removed on exit
#			(unless KEEP is set, for a look after a failure), and
#			points XDG_RUNTIME_DIR there so the local transport's
#			rendezvous directories go with it
#	start NAME CMD	run CMD in the background under timeout(1), stdout
#			and stderr in $dir/NAME.out and NAME.err; kill by PID
#			on exit (the whole process group timeout(1) leads)
#	wait_for FILE PATTERN [SECONDS]	until FILE has a line matching
#	wait_all	wait for everything started; fail if one failed
#	members P ARG...	start P1, P2, P3: sh $0 --member I ARG...
#			$dir/PI.log; then wait_all
#	fail MSG	say MSG and the members' stderr, exit 1
#	frame		lines on stdin to to-frame(5) records on stdout
#	await_ends FILE N	until FILE holds N "end of NAME" records
#	lawk ARG ...	awk reading its input a line at a time as it comes
#	opt_count -X DEFAULT "$@"	a self-test's options: --help, or -X N
#			for a count, in $n (DEFAULT without); else usage, 64
#	count N		whether N is a whole number from 1 up
# shellcheck shell=sh
set -eu
: "${prog:?set prog before sourcing lib.sh}"

here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/../cmd/tocast" ]; then
	PATH="$here/../cmd:$PATH"
fi
limit=${LIMIT:-60}	# seconds any one member may run
dir=
pids=

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	# A member leaves gracefully on SIGTERM; give it a second, then
	# kill its whole process group (env: dash's kill takes no group).
	for p in $pids; do
		t=0
		while kill -0 "$p" 2>/dev/null && [ "$t" -lt 20 ]; do
			sleep 0.05
			t=$((t + 1))
		done
		env kill -s KILL -- "-$p" 2>/dev/null || :
	done
	if [ -n "$dir" ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

tmpdir() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/to-$prog.XXXXXX")
	XDG_RUNTIME_DIR=$dir
	export XDG_RUNTIME_DIR
}

fail() {
	echo "$prog: $*" >&2
	for f in "$dir"/*.err; do
		if [ -s "$f" ]; then
			sed "s|^|${f##*/}: |" "$f" >&2
		fi
	done
	exit 1
}

start() {
	name=$1
	shift
	timeout "$limit" "$@" </dev/null >"$dir/$name.out" 2>"$dir/$name.err" &
	pids="$pids $!"
	eval "pid_$name=\$!"
}

wait_for() {
	t=0
	until grep -q -e "$2" "$1" 2>/dev/null; do
		t=$((t + 1))
		[ "$t" -le $((${3:-10} * 20)) ] ||
		    fail "no '$2' in ${1##*/} within ${3:-10} s"
		sleep 0.05
	done
}

wait_all() {
	for p in $pids; do
		wait "$p" || fail "a member exited $?"
	done
	pids=
}

members() {
	p=$1
	shift
	for i in 1 2 3; do
		start "$p$i" sh "$0" --member "$i" "$@" "$dir/$p$i.log"
	done
	wait_all
}

# A DATA record without metadata is a 4-byte length, type 1, metadata
# length 0, then the line (to-frame(5)).
frame() {
	printf 'TOFR\0\1\0\0'
	while IFS= read -r l; do
		n=$(LC_ALL=C; echo $((${#l} + 2)))
		# shellcheck disable=SC2059 # the escapes are built here
		printf "$(printf '\\%03o' $((n >> 24 & 255)) $((n >> 16 & 255)) \
		    $((n >> 8 & 255)) $((n & 255)) 1 0)%s" "$l"
	done
}

count() {
	case $1 in
	'' | *[!0-9]* | 0*) return 1 ;;
	esac
}

# The members of a self-test each cast "end of NAME" last and keep their
# input open until every end is delivered, so they leave with everything.
# No deadline here: the member's timeout(1) bounds it.
await_ends() {
	until [ "$(grep -ao 'end of [a-z]*[0-9]*' "$1" | wc -l)" -ge "$2" ]; do
		sleep 0.05
	done
}

# mawk reads a pipe in large blocks, so a line can wait for more behind
# it; -W interactive makes it take each line as it comes.
lawk() {
	if awk -W version 2>&1 | grep -q mawk; then
		awk -W interactive "$@"
	else
		awk "$@"
	fi
}

opt_count() {
	flag=$1 n=$2
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage; exit 0 ;;
		"$flag") count "${2:-}" || { usage >&2; exit 64; }
			n=$2; shift 2 ;;
		*)	usage >&2; exit 64 ;;
		esac
	done
}
