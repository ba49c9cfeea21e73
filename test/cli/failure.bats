#!/usr/bin/env bats
# Members killed with SIGKILL in the middle of a 100,000-message burst, and
# a member joining in the middle of one: the survivors install a new view
# within twice the suspect timeout, and toview -c finds that the delivery
# logs of all of them, the victim's included, agree.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

declare -gA seen=()	# name -> views it had before the kill
N=100000		# messages in a burst
SUSPECT=500		# ms, for every member
MIDWAY=1000000		# bytes of a's log: well into the burst (~4.3 MB)

# receivers [ARG ...]: start a, b and c, torecv -F writing their logs, each
# once the one before it is in; a is rank 0 and orders first.
receivers() {
	local r

	for r in a b c; do
		start "$r" torecv -g "$g" -F -v --suspect "$SUSPECT" "$@"
		wait_for "$r" "joined view"
	done
}

# burst: tocast casts 1..N once the view has a, b, c and itself, a
# datagram each (--pack off), the paper's burst, which lasts long enough
# to kill a member in the middle of it; packed ones end within 0.1 s
# (kills in packed bursts: test_protocols, every protocol, in the
# simulator).
burst() {
	start_sh tc "seq $N | tocast -g $g -w 4 -v --pack off \
	    --suspect $SUSPECT"
}

# packed: the same N lines in 100 bunches 10 ms apart, packed as tocast
# does by default, so that the stream is still flowing at midway.
packed() {
	start_sh tc "for k in \$(seq 0 99); do
		seq \$((k * $N / 100 + 1)) \$(((k + 1) * $N / 100)); sleep 0.01
	    done | tocast -g $g -w 4 -v --suspect $SUSPECT"
}

# midway: until a's log is MIDWAY bytes long.
midway() {
	local end=$((SECONDS + 30))

	until (($(stat -c %s "$(out a)") >= MIDWAY)); do
		if ((SECONDS >= end)); then
			echo "a's log did not grow to $MIDWAY bytes" >&2
			return 1
		fi
		sleep 0.01
	done
}

# self NAME: the member id of NAME, the last of its first view.
self() {
	sed -n '/joined view/{s/.*: \([0-9a-f ]*\) (.*/\1/p;q;}' "$(err "$1")" |
	    awk '{ print $NF }'
}

views() { grep -c "joined view" "$(err "$1")"; }

# slay NAME [COMMAND]: SIGKILL the member NAME runs (COMMAND under the
# shell of start_sh), noting the time and the views of the others.
slay() {
	local pid

	pid=$(child "$1")
	[ -z "${2:-}" ] || pid=$(pgrep -x "$2" -P "$pid")
	[ -n "$pid" ]
	victim=$(self "$1")
	for m in a b c; do
		seen[$m]=$(views "$m")
	done
	killed=$(now_ms)
	kill -KILL "$pid"
}

# new_view NAME: until NAME installs a view without the victim; that it
# took at most twice the suspect timeout after the kill.
new_view() {
	local end=$((SECONDS + 20)) line ms

	until (($(views "$1") > seen[$1])); do
		if ((SECONDS >= end)); then
			echo "$1 installed no view after the kill" >&2
			cat "$(err "$1")" >&2
			return 1
		fi
		sleep 0.01
	done
	ms=$(($(now_ms) - killed))
	line=$(grep "joined view" "$(err "$1")" | tail -n 1)
	echo "# $1: new view ${ms} ms after the SIGKILL: ${line#*: }" >&3
	[[ "$line" != *"$victim"* ]]
	((ms <= 2 * SUSPECT))
}

# payloads NAME: the messages of NAME's log, a line each.
payloads() {
	toview "$(out "$1")" | sed -n 's/^data .*: //p'
}

# agree LOG ...: toview -c over the logs of these members.
agree() {
	local r logs=()

	for r; do
		logs+=("$(out "$r")")
	done
	run -0 --separate-stderr toview -c "${logs[@]}"
	[[ "$output" == "toview: $# logs, "*" views: agree" ]]
	echo "# $output" >&3
}


# survivors_whole VICTIM SURVIVOR...: once a member was killed, tocast
# ends well, each survivor has the whole burst and the victim a part of
# it, and every log, the victim's too, agrees.
survivors_whole() {
	local victim=$1 r
	shift
	wait_exit tc 60
	[ "$EXIT" -eq 0 ]
	for r in "$@"; do
		wait_exit "$r"
		[ "$EXIT" -eq 0 ]
		payloads "$r" | cmp - <(seq "$N")
	done
	wait_exit "$victim"
	(($(payloads "$victim" | wc -l) < N))
	agree "$@" "$victim"
}

@test "failure: SIGKILL of a receiver in a 100,000-message burst" {
	g=$(group)
	receivers -n "$N"
	burst
	midway
	slay b
	new_view a
	new_view c
	survivors_whole b a c
}

@test "failure: SIGKILL of a receiver in a packed stream" {
	g=$(group)
	receivers -n "$N"
	packed
	midway
	slay b
	new_view a
	new_view c
	survivors_whole b a c
}

@test "failure: SIGKILL of the sender in a 100,000-message burst" {
	g=$(group)
	receivers
	burst
	midway
	slay tc tocast
	for r in a b c; do
		new_view "$r"
	done
	# to torecv itself: timeout(1) would pass it on twice, and a second
	# SIGTERM ends torecv at once
	for r in a b c; do
		kill -TERM "$(child "$r")"
		wait_exit "$r"
		[ "$EXIT" -eq 0 ]
	done
	wait_exit tc
	# every survivor has the same prefix of the burst
	k=$(payloads a | wc -l)
	((k > 0 && k < N))
	for r in a b c; do
		payloads "$r" | cmp - <(seq "$k")
	done
	agree a b c
}

@test "failure: SIGKILL of rank 0, the first orderer, in a burst" {
	g=$(group)
	receivers -n "$N"
	grep -q "joined view 1: $(self a) (1 member)" "$(err a)"
	burst
	midway
	slay a
	new_view b
	new_view c
	grep "joined view" "$(err b)" | tail -n 1 | grep -q ": $(self b) "
	survivors_whole a b c
}

@test "failure: a member joins in the middle of a burst" {
	g=$(group)
	for r in a b; do
		start "$r" torecv -g "$g" -F -v -n "$N"
		wait_for "$r" "joined view"
	done
	start_sh tc "seq $N | tocast -g $g -w 3 -v --pack off"
	midway
	start c torecv -g "$g" -F -v -A
	for r in tc a b c; do
		wait_exit "$r" 60
		[ "$EXIT" -eq 0 ]
	done
	# c's stream starts at its first view, then the rest of the burst
	toview "$(out c)" | head -n 1 | grep -q "^view [0-9]*: .*$(self c) "
	first=$(payloads c | head -n 1)
	((first > 1))
	payloads c | cmp - <(seq "$first" "$N")
	agree a b c
}

@test "failure: SIGKILL of a receiver under loss, duplication and reordering" {
	export TO_FAULTS=loss=2%,dup=1%,reorder=1%
	g=$(group)
	receivers -n "$N"
	burst
	midway
	slay c
	new_view a
	new_view b
	wait_exit tc 60
	[ "$EXIT" -eq 0 ]
	for r in a b; do
		wait_exit "$r"
		[ "$EXIT" -eq 0 ]
		payloads "$r" | cmp - <(seq "$N")
	done
	wait_exit c
	agree a b c
}
