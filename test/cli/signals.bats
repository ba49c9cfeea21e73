#!/usr/bin/env bats
# tocast leaves within 2 s of a signal whatever its state, and says what
# it leaves undelivered.

load helper

# A receiver, stopped, and a tocast that has cast 10 records it cannot
# see delivered at every member (the stopped one is not suspected for a
# minute).  Its input comes through a FIFO the test holds on fd 4.
stuck() {
	g=$(group)
	start rx torecv -g "$g" -v --suspect 60000
	wait_for rx "joined view"
	mkfifo "$BATS_TEST_TMPDIR/in"
	start_sh tc "exec tocast -g $g -w 2 -v --suspect 60000 \
	    <$BATS_TEST_TMPDIR/in"
	exec 4>"$BATS_TEST_TMPDIR/in"
	wait_for tc "joined view .*(2 members)"
	rx=$(child rx)
	kill -STOP "$rx"
	seq 10 >&4
	exec 4>&-
	sleep 0.5
}

cont_rx() {
	kill -CONT "$rx" 2>/dev/null || true
}

@test "tocast: SIGTERM while waiting for delivery: gone within 2 s, says so" {
	stuck
	t0=$(now_ms)
	kill -TERM "$(child tc)"
	wait_exit tc 10
	t1=$(now_ms)
	cont_rx
	echo "# exit $EXIT after $((t1 - t0)) ms" >&3
	((t1 - t0 < 2000))
	[ "$EXIT" -eq 143 ]
	grep -E "^tocast: SIGTERM: 10 records cast: [0-9]+ delivered here, [0-9]+ not, not known delivered at every member$" "$(err tc)"
}

@test "tocast: a second SIGINT ends it at once, saying what was delivered" {
	stuck
	tc=$(child tc)
	kill -INT "$tc"
	sleep 1.2
	t0=$(now_ms)
	kill -INT "$tc" 2>/dev/null || true
	wait_exit tc 10
	t1=$(now_ms)
	cont_rx
	echo "# exit $EXIT $((t1 - t0)) ms after the second" >&3
	[ "$EXIT" -eq 130 ]
	grep -E "^tocast: SIGINT: 10 records cast: [0-9]+ delivered here, [0-9]+ not, not known delivered at every member$" "$(err tc)"
}

@test "tocast: SIGTERM once all is delivered: exit 0, nothing said" {
	g=$(group)
	start rx torecv -g "$g" -v
	wait_for rx "joined view"
	mkfifo "$BATS_TEST_TMPDIR/in"
	start_sh tc "exec tocast -g $g -w 2 <$BATS_TEST_TMPDIR/in"
	exec 4>"$BATS_TEST_TMPDIR/in"
	seq 10 >&4
	wait_file "$(out rx)" "^10$"
	kill -TERM "$(child tc)"
	wait_exit tc 5
	exec 4>&-
	[ "$EXIT" -eq 0 ]
	[ ! -s "$(err tc)" ]
}
