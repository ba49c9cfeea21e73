#!/usr/bin/env bats
# A member stopped long enough to be taken for dead comes back with part
# of the stream missing: it says so, and its exit status tells.

load helper

# slow N: N lines, 1 to N, about 50 a second.
slow() {
	echo "for i in \$(seq $1); do echo \$i; sleep 0.02; done"
}

@test "torecv: stopped 4 s and merged back, it names the gap and exits 3" {
	g=$(group)
	start a torecv -g "$g" -v
	start b torecv -g "$g" -v
	start d torecv -g "$g" -v --gaps-ok
	for r in a b d; do
		wait_for "$r" "joined view"
	done
	start_sh tc "$(slow 400) | tocast -g $g -w 4 -v"
	wait_file "$(out b)" "^20$"
	bp=$(child b) dp=$(child d)
	kill -STOP "$bp" "$dp"
	sleep 4
	kill -CONT "$bp" "$dp"
	for r in b d; do
		wait_for "$r" "merges .* apart since view [0-9]*: messages delivered apart are missing here"
	done
	wait_exit tc 60
	[ "$EXIT" -eq 0 ]
	kill -TERM "$bp" "$dp" "$(child a)"
	wait_exit b
	[ "$EXIT" -eq 3 ]
	grep -q "cut off alone from view [0-9]*, which went on without us" \
	    "$(err b)"
	(($(wc -l <"$(out b)") < 400))
	wait_exit d
	[ "$EXIT" -eq 0 ]
	# a stayed in the view, and has every line
	wait_exit a
	seq 400 | cmp - "$(out a)"
}

@test "tocast -r: stopped 4 s and merged back, it names the gap and exits 3" {
	g=$(group)
	start a torecv -g "$g" -v
	wait_for a "joined view"
	start_sh tc "$(slow 400) | exec tocast -g $g -w 2 -r -v"
	wait_file "$(out tc)" "^20$"
	tp=$(grandchild tc tocast)
	kill -STOP "$tp"
	sleep 4
	kill -CONT "$tp"
	wait_exit tc 60
	[ "$EXIT" -eq 3 ]
	grep -q "merges 1 member apart since view [0-9]*: messages delivered apart are missing here" "$(err tc)"
	kill -TERM "$(child a)"
}
