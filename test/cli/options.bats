#!/usr/bin/env bats
# What to(7) and --help say of the options is what the tools do.

load helper

@test "tocast --compress and --pack-max, as to(7) names them, work" {
	g=$(group)
	start r1 torecv -g "$g" -v -n 5000
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c "seq 5000 |
	    timeout $LIMIT tocast -g $g -w 2 --compress 6 --pack-max 2000 -v"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	seq 5000 | cmp - "$(out r1)"
	run -64 --separate-stderr tocast -g g --compress 10
	[ "$stderr" = "tocast: --compress 10: too large, expected 0 to 9" ]
	run -64 --separate-stderr tocast -g g --pack-max 0
	[ "$stderr" = "tocast: --pack-max 0: too small, expected 1 to 1073741824" ]
}

@test "torecv --help: -n counts records, as the page says" {
	run -0 --separate-stderr torecv --help
	[[ "$output" == *$'\n  -n, --count=count            exit after count records\n'* ]]
	grep -A3 '^\.It Fl n Ar count' "$BATS_TEST_DIRNAME/../../man/torecv.1" |
	    grep -qx records.
}
