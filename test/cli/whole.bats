#!/usr/bin/env bats
# A reader that stalls, then reads again, finds whole records: a tool
# that gives its stdout up never leaves part of a record in it.

load helper

# whole_frames FILE: a to-frame(5) stream that ends on a record boundary;
# prints how many records it holds.
whole_frames() {
	od -An -v -tu1 "$1" | awk '
	    { for (i = 1; i <= NF; i++) b[n++] = $i }
	    END {
		if (n == 0) { print 0; exit 0 }
		if (n < 8) exit 1
		for (i = 8; i + 4 <= n; i += 4 + l) {
			l = b[i] * 16777216 + b[i + 1] * 65536 + b[i + 2] * 256
			l += b[i + 3]
			r++
		}
		if (i != n) exit 1
		print r
	    }'
}

# lines_whole FILE FORMAT: FILE holds the first lines of seq -f FORMAT,
# the last one whole.
lines_whole() {
	local n

	[ -s "$1" ]
	[ "$(tail -c 1 "$1" | od -An -tx1 | tr -d ' ')" = 0a ]
	n=$(wc -l <"$1")
	seq -f "$2" "$n" | cmp - "$1"
}

@test "torecv: stdout given up after --stall holds whole lines" {
	g=$(group)
	start_sh rx "set -o pipefail; torecv -g $g -v --stall 2 |
	    (sleep 4; exec cat)"
	wait_for rx "joined view"
	start_sh tc "seq 1000000 | tocast -g $g -w 2"
	wait_exit rx 30
	[ "$EXIT" -eq 75 ]
	grep -q "stdout blocked for 2 s" "$(err rx)"
	lines_whole "$(out rx)" %g
}

@test "torecv -F: stdout given up after --stall holds whole frames" {
	g=$(group)
	start_sh rx "set -o pipefail; torecv -g $g -F -v --stall 2 |
	    (sleep 4; exec cat)"
	wait_for rx "joined view"
	start_sh tc "seq -f %099g 200000 | tocast -g $g -w 2"
	wait_exit rx 30
	[ "$EXIT" -eq 75 ]
	n=$(whole_frames "$(out rx)")
	((n > 100))
}

@test "tocast -r: its echo given up after --stall holds whole lines" {
	g=$(group)
	start rx torecv -g "$g" -v
	wait_for rx "joined view"
	start_sh tc "set -o pipefail; seq -f %099g 200000 |
	    tocast -g $g -w 2 -r --stall 2 | (sleep 4; exec cat)"
	wait_exit tc 60
	[ "$EXIT" -eq 75 ]
	# lines of 100 bytes: a pipe's 65536 never ends on one
	lines_whole "$(out tc)" %099g
}
