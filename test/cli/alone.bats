#!/usr/bin/env bats
# torecv -A exits when the senders have left, however many receivers
# there are.

load helper

@test "torecv -A: two receivers both exit once the sender has left" {
	g=$(group)
	start r1 torecv -g "$g" -v -A
	start r2 torecv -g "$g" -v -A
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -0 --separate-stderr bash -c \
	    "seq 3 | timeout $LIMIT tocast -g $g -T 10 -w 3"
	for r in r1 r2; do
		wait_exit "$r" 15
		[ "$EXIT" -eq 0 ]
		[ "$(cat "$(out "$r")")" = "$(seq 3)" ]
	done
}
