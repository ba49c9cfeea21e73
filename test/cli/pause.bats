#!/usr/bin/env bats
# Members stopped with SIGSTOP for longer than the suspect time, then let
# go with SIGCONT, while a stream flows (issue 15's smallest cases): the
# group goes on without the stopped one, which on waking closes its view
# alone and is merged back.  A stopped sender's echo must hold every line
# it cast, in order, and it must exit 0 once its input ends; every log
# must agree with the others (toview -c), and each member that missed
# part of the stream says so and exits 3.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

SUSPECT=300		# ms, for every member
N=20000			# lines cast: 200 bunches of 100, 10 ms apart

# receivers PROTO: a and b, torecv -F writing their logs.
receivers() {
	local r

	for r in a b; do
		start "$r" torecv -g "$g" -p "$1" -F -v --suspect "$SUSPECT"
		wait_for "$r" "joined view"
	done
}

# stream PROTO [ARG ...]: tc casts 1..N, a steady stream, echoing -r.
stream() {
	local p=$1
	shift
	start_sh tc "for k in \$(seq 0 199); do
		seq \$((k * 100 + 1)) \$(((k + 1) * 100)); sleep 0.01
	    done | tocast -g $g -p $p -w 3 -r -v --suspect $SUSPECT $*"
}

# stop NAME [COMMAND]: SIGSTOP what NAME runs for 1.5 s (5 suspect
# times), once its stream is under way, then SIGCONT.
stop() {
	local pid

	wait_file "$(out tc)" '^1$'
	if [ -n "${2:-}" ]; then
		pid=$(grandchild "$1" "$2")
	else
		pid=$(child "$1")
	fi
	[ -n "$pid" ]
	wait_file "$(out tc)" '^2000$'
	kill -STOP "$pid"
	sleep 1.5
	kill -CONT "$pid"
}

# finish: tc exits 3 with its whole echo, having said that its stream
# has a gap (the stopped member delivered alone what the others did not,
# and the others what it did not: torecv(1), tocast(1)); a and b leave
# on SIGTERM, with 0 or, having said so too, 3; the logs agree, and each
# receiver has the lines in order.
finish() {
	local r

	wait_exit tc 40
	[ "$EXIT" -eq 3 ]
	grep -q "missing here" "$(err tc)"
	cmp "$(out tc)" <(seq "$N")
	grep -q "joined view .* (1 member)" "$(err "$1")"
	for r in a b; do
		kill -TERM "$(child "$r")"
		wait_exit "$r" 5
		[ "$EXIT" -eq 0 ] || { [ "$EXIT" -eq 3 ] &&
		    grep -q "missing here" "$(err "$r")"; }
	done
	run -0 --separate-stderr toview -c "$(out a)" "$(out b)"
	echo "# $output" >&3
	for r in a b; do
		toview "$(out "$r")" | sed -n 's/^data .*: //p' >"$BATS_TEST_TMPDIR/$r.lines"
		sort -n -c "$BATS_TEST_TMPDIR/$r.lines"
	done
}

@test "pause: a sender stopped past the suspect time, totem --pack off" {
	g=$(group)
	receivers totem
	stream totem --pack off
	stop tc tocast
	finish tc
}

@test "pause: a sender stopped past the suspect time, dynseq" {
	g=$(group)
	receivers dynseq
	stream dynseq
	stop tc tocast
	finish tc
}

@test "pause: a sender stopped past the suspect time, dynord --pack off" {
	g=$(group)
	receivers dynord
	stream dynord --pack off
	stop tc tocast
	finish tc
}

@test "pause: rank 0, the orderer, stopped past the suspect time, dynord" {
	g=$(group)
	receivers dynord
	stream dynord --pack off
	stop a
	finish a
}
