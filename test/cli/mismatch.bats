#!/usr/bin/env bats
# Members that cannot work together say why and exit 69, instead of
# hanging in silence.

load helper

@test "-M: a caster whose -M is not the group's is refused, naming both" {
	g=$(group)
	start r1 torecv -g "$g" -v -M 100k -n 2
	wait_for r1 "joined view"
	run -69 --separate-stderr bash -c "(head -c 200000 /dev/zero |
	    tr '\0' a; echo; echo small) |
	    timeout $LIMIT tocast -g $g -w 2 -T 20"
	[ "${stderr_lines[-1]}" = "tocast: group $g: the group runs dynseq (-M 102400), not dynseq (-M 67108864)" ]
}

@test "-M: a receiver whose -M is not the group's is refused, naming both" {
	g=$(group)
	start r1 torecv -g "$g" -v -M 1m
	wait_for r1 "joined view"
	run -69 --separate-stderr timeout "$LIMIT" torecv -g "$g" -T 20
	[ "${stderr_lines[-1]}" = "torecv: group $g: the group runs dynseq (-M 1048576), not dynseq (-M 67108864)" ]
}
