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

@test "-w 33 is a usage error: a view holds 32 members at most" {
	# bounded: a tocast that took -w 33 would wait for 33 members
	run -64 --separate-stderr timeout 10 tocast -g g -w 33 </dev/null
	[ "$stderr" = "tocast: -w 33: too large, expected 1 to 32" ]
}

@test "a 33rd member is refused: the group is full, exit 69" {
	g=$(group)
	for i in $(seq 32); do
		start "r$i" torecv -g "$g" -v
	done
	wait_for r1 "(32 members)" 60
	run -69 --separate-stderr timeout "$LIMIT" torecv -g "$g" -T 30
	[ "${stderr_lines[-1]}" = "torecv: group $g: the group is full: 32 members, the most a view holds is 32" ]
	# and the 32 were left alone: no view after the one of 32
	sleep 1
	[ "$(grep "joined view" "$(err r1)" | tail -n 1 | grep -c "(32 members)")" -eq 1 ]
}

@test "-s: a member of another stack below mbrship is named, exit 69" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view"
	run -69 --separate-stderr bash -c "echo x |
	    timeout $LIMIT tocast -g $g -s dynseq:mbrship:nak:com -w 2 -T 20"
	[[ "${stderr_lines[-1]}" =~ ^"tocast: group $g: member "[0-9a-f]{16}" runs another protocol stack than dynseq:mbrship:nak:com (check -s)"$ ]]
}

@test "-s: another stack above mbrship is named as -p is" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view"
	run -69 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -s totem:mbrship:frag:nak:com -w 2 -T 20 /dev/null
	[ "${stderr_lines[-1]}" = "tocast: group $g: the group runs dynseq (-M 67108864), not totem (-M 67108864)" ]
}
