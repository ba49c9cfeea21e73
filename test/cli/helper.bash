# helper.bash: what the command-line tests share.  Load with "load helper".
#
# Multi-process tests start members in the background with start, wait for
# their readiness lines with wait_for (a deadline loop, never a bare sleep),
# and collect their exit status with wait_exit.  teardown kills, by PID,
# whatever a test started and left running.  Every member runs under
# timeout(1), so nothing outlives a test by long.

bats_require_minimum_version 1.5.0

PATH="$BATS_TEST_DIRNAME/../../cmd:$PATH"
unset TO_GROUP TO_TRANSPORT TO_FAULTS
# The local transport's rendezvous directories go where bats cleans up.
export XDG_RUNTIME_DIR="$BATS_FILE_TMPDIR"

LIMIT=60		# seconds any one member may run
declare -gA PID=()	# name -> pid of what start started
EXIT=			# status of the member wait_exit waited for

# A group name of this test's own.
group() {
	local f=${BATS_TEST_FILENAME##*/}
	echo "t$$-${f%.bats}-$BATS_TEST_NUMBER"
}

# start NAME CMD [ARG ...]: run CMD in the background, stdin from
# /dev/null, stdout and stderr in $BATS_TEST_TMPDIR/NAME.out and NAME.err.
start() {
	local name=$1
	shift
	timeout "$LIMIT" "$@" </dev/null >"$BATS_TEST_TMPDIR/$name.out" \
	    2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	PID[$name]=$!
}

# start_sh NAME SCRIPT: like start, for a shell pipeline.
start_sh() {
	start "$1" bash -c "$2"
}

# wait_file FILE PATTERN [SECONDS]: until FILE has a line matching.
wait_file() {
	local end=$((SECONDS + ${3:-20}))

	until grep -q -e "$2" "$1" 2>/dev/null; do
		if ((SECONDS >= end)); then
			echo "no '$2' in ${1##*/} within ${3:-20}s; it has:" >&2
			cat "$1" >&2
			return 1
		fi
		sleep 0.05
	done
}

# wait_for NAME PATTERN [SECONDS]: until NAME.err has a line matching.
wait_for() {
	wait_file "$BATS_TEST_TMPDIR/$1.err" "$2" "${3:-20}"
}

# wait_exit NAME [SECONDS]: wait for NAME to exit, its status in EXIT.
# shellcheck disable=SC2034 # EXIT is for the tests
wait_exit() {
	local pid=${PID[$1]} end=$((SECONDS + ${2:-30}))

	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= end)); then
			echo "$1 still running after ${2:-30}s; its stderr:" >&2
			cat "$BATS_TEST_TMPDIR/$1.err" >&2
			return 1
		fi
		sleep 0.05
	done
	EXIT=0
	wait "$pid" || EXIT=$?
	unset "PID[$1]"
}

# out NAME, err NAME: the file a member writes its stdout, stderr to.
out() { echo "$BATS_TEST_TMPDIR/$1.out"; }
err() { echo "$BATS_TEST_TMPDIR/$1.err"; }

# Kill, by PID, whatever is still running; give it a moment to leave.
teardown() {
	local name pid

	for name in "${!PID[@]}"; do
		kill "${PID[$name]}" 2>/dev/null || true
	done
	for name in "${!PID[@]}"; do
		wait_exit "$name" 5 || kill -KILL "${PID[$name]}" 2>/dev/null ||
		    true
	done
}

# frames FILE: a to-frame(5) stream as text, one record a line:
# "view ID N" and "data GSEQ PAYLOAD" (or "data - PAYLOAD" without
# metadata).  Fails on a bad stream header.
frames() {
	local -a b
	local i=8 n l type ml m p s c

	read -r -a b < <(od -An -v -tu1 "$1" | tr '\n' ' ')
	n=${#b[@]}
	((n == 0)) && return 0
	[ "${b[*]:0:8}" = "84 79 70 82 0 1 0 0" ] || return 1
	while ((i + 6 <= n)); do
		l=$(be "${b[@]:i:4}")
		type=${b[i + 4]}
		ml=${b[i + 5]}
		m=$((i + 6))
		p=$((m + ml))
		if ((type == 2)); then
			echo "view $(be "${b[@]:m:8}") $(be "${b[@]:m+8:4}")"
		else
			s=
			for c in "${b[@]:p:l-2-ml}"; do
				# shellcheck disable=SC2059 # an octal escape
				s+=$(printf "\\$(printf %03o "$c")")
			done
			if ((ml >= 32)); then
				echo "data $(be "${b[@]:m+24:8}") $s"
			else
				echo "data - $s"
			fi
		fi
		i=$((i + 4 + l))
	done
	((i == n))
}

# be BYTE ...: a big-endian unsigned number.
be() {
	local v=0 c

	for c in "$@"; do
		v=$(((v << 8) | c))
	done
	echo "$v"
}

# child NAME: the pid of what NAME runs under timeout(1) (for start_sh,
# the shell; pgrep -P it for the pipeline's commands).
child() {
	pgrep -P "${PID[$1]}" | head -n 1
}

# grandchild NAME COMMAND: the pid of COMMAND run by NAME's shell
# (start_sh), waiting up to 5 s for it to be there.
grandchild() {
	local p

	for _ in $(seq 50); do
		p=$(pgrep -x "$2" -P "$(child "$1")" 2>/dev/null) &&
		    { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# now_ms: the time of day in milliseconds.
now_ms() {
	echo $((${EPOCHREALTIME/./} / 1000))
}

# A to-frame(5) stream written by hand, for logs with known faults:
# frame_hdr, then frame_view ID MEMBER ... and frame_data VIEW SENDER SEQ
# GSEQ PAYLOAD (ids below 2^63, the payload without NUL or backslash).
frame_hdr() {
	printf 'TOFR\0\1\0\0'
}

# u32 N, u64 N: big-endian, as printf escapes.
u32() {
	printf '\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
	    $(($1 >> 8 & 255)) $(($1 & 255))
}
u64() {
	u32 $(($1 >> 32 & 0xffffffff))
	u32 $(($1 & 0xffffffff))
}

frame_view() {
	local id=$1 m s

	shift
	s="$(u32 $((14 + 8 * $#)))\\x02\\x0c$(u64 "$id")$(u32 $#)"
	for m; do
		s+=$(u64 "$m")
	done
	# shellcheck disable=SC2059 # escapes built above
	printf "$s"
}

frame_data() {
	local n

	n=$(LC_ALL=C; echo ${#5})
	# shellcheck disable=SC2059 # escapes built by u32, u64
	printf "$(u32 $((34 + n)))\\x01\\x20$(u64 "$1")$(u64 "$2")$(u64 "$3")$(u64 "$4")"
	printf '%s' "$5"
}
