#!/usr/bin/env bats
# torecv(1): options, bad input, and how it ends in a live group.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

@test "torecv --help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr torecv --help
	[[ "${lines[0]}" == "usage: torecv [-0AeFvV] [-g group]"* ]]
	[ -z "$stderr" ]
	run -0 --separate-stderr torecv -h
	[[ "${lines[0]}" == "usage: torecv "* ]]
}

@test "torecv --version prints the version" {
	run -0 --separate-stderr torecv --version
	[[ "$output" =~ ^torecv\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "torecv: an unknown option is a usage error" {
	run -64 --separate-stderr torecv --bogus
	[ "${stderr_lines[0]}" = "torecv: option --bogus is unknown" ]
	[[ "${stderr_lines[1]}" == "usage: torecv "* ]]
	run -64 --separate-stderr torecv -g g -w 2
	[ "${stderr_lines[0]}" = "torecv: option -w is unknown" ]
	run -64 --separate-stderr torecv -g g --echo
	[ "${stderr_lines[0]}" = "torecv: option --echo is unknown" ]
}

@test "torecv: operands are a usage error" {
	run -64 --separate-stderr torecv -g g file
	[ "${stderr_lines[0]}" = "torecv: unexpected argument: file" ]
}

# bad OPTION VALUE: exit 64 with one line on stderr that names the option.
bad() {
	run -64 --separate-stderr torecv -g g "$1" "$2"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "torecv: $1 $2: "* ]]
	[ -z "$output" ]
}

@test "torecv: bad -n, -T, -M and -p values" {
	bad -n 0
	bad -n -5
	bad -n many
	bad -T 0
	bad -T soon
	bad -M 0
	bad -M 2g
	bad -p nosuch
	bad --suspect 5
	bad --suspect 3600001
	bad --suspect soon
	bad --stall 0
	bad --stall -1
	bad --stall soon
}

@test "torecv: --suspect and --stall name themselves in errors" {
	run -64 --separate-stderr torecv -g g --suspect 5
	[ "$stderr" = "torecv: --suspect 5: too small, expected 10 to 3600000" ]
	run -64 --separate-stderr torecv -g g --stall soon
	[ "$stderr" = "torecv: --stall soon: invalid time, expected seconds greater than 0" ]
	run -64 --separate-stderr torecv -g g --suspect
	[ "${stderr_lines[0]}" = "torecv: option --suspect needs an argument" ]
}

@test "torecv: -0 and -F together are a usage error" {
	run -64 --separate-stderr torecv -0 -F -g g
	[ "$stderr" = "torecv: -0 and -F cannot be used together" ]
}

@test "torecv: no group is a usage error" {
	run -64 --separate-stderr torecv
	[ "$stderr" = "torecv: no group: use -g or set TO_GROUP" ]
}

@test "torecv: an invalid TO_FAULTS is a usage error naming it" {
	TO_FAULTS=loss=lots run -64 --separate-stderr \
	    timeout 10 torecv -g "$(group)"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *TO_FAULTS=loss=lots* ]]
}

@test "torecv -p list names the protocols" {
	run -0 --separate-stderr torecv -p list
	[[ "$output" =~ (^|$'\n')"dynseq  "[^\ ] ]]
}

@test "torecv: TO_GROUP is the default group" {
	export TO_GROUP
	TO_GROUP=$(group)
	start r1 torecv -v -n 2
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c \
	    "seq 2 | timeout $LIMIT tocast -T 10 -w 2"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(seq 2)" ]
}

@test "torecv -n: exits 0 after count records, and leaves" {
	g=$(group)
	seq 100 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 5
	wait_for r1 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" tocast -g "$g" -T 10 -w 2 \
	    "$BATS_TEST_TMPDIR/in"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(seq 5)" ]
	grep -q "torecv: left group" "$(err r1)"
}

@test "torecv: SIGTERM leaves the group and exits 0" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view"
	kill -TERM "${PID[r1]}"
	wait_exit r1 10
	[ "$EXIT" -eq 0 ]
	grep -q "torecv: left group" "$(err r1)"
}

@test "torecv: SIGINT leaves the group and exits 0" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view"
	# timeout(1) passes on the signals it gets
	kill -INT "${PID[r1]}"
	wait_exit r1 10
	[ "$EXIT" -eq 0 ]
}

@test "torecv | head -1: a closed pipe is a clean end" {
	g=$(group)
	start_sh p "torecv -g $g -v | head -n 1 > $BATS_TEST_TMPDIR/head.out;
	    exit \${PIPESTATUS[0]}"
	wait_for p "joined view"
	run -0 --separate-stderr timeout "$LIMIT" bash -c \
	    "seq 1000 | timeout $LIMIT tocast -g $g -T 10 -w 2"
	wait_exit p 20
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/head.out")" = 1 ]
}

@test "torecv -A: exits once the senders have left" {
	g=$(group)
	start r1 torecv -g "$g" -v -A
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c \
	    "seq 3 | timeout $LIMIT tocast -g $g -T 10 -w 2"
	wait_exit r1 20
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(seq 3)" ]
}

@test "torecv -T: gives up with 69 when nothing is delivered" {
	g=$(group)
	t0=$SECONDS
	run -69 --separate-stderr timeout 20 torecv -g "$g" -T 0.5
	((SECONDS - t0 <= 5))
	[ "${stderr_lines[-1]}" = "torecv: timed out waiting for 1 message (have 0)" ]
	run -69 --separate-stderr timeout 20 torecv -g "$g" -n 3 -T 0.5
	[ "${stderr_lines[-1]}" = "torecv: timed out waiting for 3 messages (have 0)" ]
}

@test "torecv -e: views are lines among the messages" {
	g=$(group)
	start r1 torecv -g "$g" -v -e -n 3
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c \
	    "seq 3 | timeout $LIMIT tocast -g $g -T 10 -w 2"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	run -0 cat "$(out r1)"
	[[ "${lines[0]}" =~ ^"view 1: "[0-9a-f]{16}" (1 member)"$ ]]
	[[ "${lines[1]}" =~ ^"view 2: "[0-9a-f]{16}" "[0-9a-f]{16}" (2 members)"$ ]]
	[ "$(printf '%s\n' "${lines[@]:2}")" = "$(seq 3)" ]
	# the same lines as -v says, without the "torecv: joined "
	[ "$(sed -n 's/^torecv: joined //p' "$(err r1)")" = \
	    "$(printf '%s\n' "${lines[@]:0:2}")" ]
}

@test "torecv -e -0: a view is a NUL-terminated record too" {
	g=$(group)
	start r1 torecv -g "$g" -v -e -0 -n 1
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c \
	    "echo hi | timeout $LIMIT tocast -g $g -T 10 -w 2"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	run -0 bash -c "tr '\\0' '\\n' < $(out r1)"
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "view 2: "*" (2 members)" ]]
	[ "${lines[2]}" = hi ]
}

@test "torecv: a stdout nobody reads: the group waits, then it leaves with 75" {
	g=$(group)
	start r2 torecv -g "$g" -v -n 1000000
	wait_for r2 "joined view"
	# stdout a pipe to a sleep that never reads; kill the sleep after
	start_sh slow "exec 3> >(exec sleep $LIMIT); s=\$!
	    torecv -g $g -v --stall 2 >&3; st=\$?; kill \$s; exit \$st"
	wait_for slow "joined view"
	start_sh tc "seq 1000000 | tocast -g $g -w 3 -v"
	wait_for slow "stdout full: pausing"
	t0=$SECONDS
	# tocast in bounded memory meanwhile (its VmRSS, in kB)
	tc=$(pgrep -n -f -- "tocast -g $g -w 3") || {
		echo "no tocast of group $g; tc's stderr:" >&2
		cat "$(err tc)" >&2
		false
	}
	max=0
	while kill -0 "${PID[slow]}" 2>/dev/null && ((SECONDS - t0 < 10)); do
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$tc/status" \
		    2>/dev/null || echo 0)
		((rss > max)) && max=$rss
		sleep 0.1
	done
	echo "# tocast VmRSS at most $max kB while a member was blocked" >&3
	((max < 65536))
	wait_exit slow 10
	[ "$EXIT" -eq 75 ]
	((SECONDS - t0 <= 6))
	grep -q "^torecv: stdout blocked for 2 s: leaving the group$" \
	    "$(err slow)"
	# the others go on without it, and lose nothing
	wait_exit tc 30
	[ "$EXIT" -eq 0 ]
	wait_exit r2 30
	[ "$EXIT" -eq 0 ]
	seq 1000000 | cmp - "$(out r2)"
}
