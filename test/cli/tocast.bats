#!/usr/bin/env bats
# tocast(1): options, bad input, and whole groups on the local transport.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

# Options and bad input: nothing here needs a second member.

@test "tocast --help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr tocast --help
	[[ "${lines[0]}" == "usage: tocast [-0FqrvV] [--compress level] [-g group]"* ]]
	[ -z "$stderr" ]
	run -0 --separate-stderr tocast -h
	[[ "${lines[0]}" == "usage: tocast "* ]]
}

@test "tocast --version prints the version" {
	run -0 --separate-stderr tocast --version
	[[ "$output" =~ ^tocast\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run -0 tocast -V
	[[ "$output" == "tocast "* ]]
}

@test "tocast: an unknown option is a usage error" {
	run -64 --separate-stderr tocast --bogus
	[ "${stderr_lines[0]}" = "tocast: option --bogus is unknown" ]
	[[ "${stderr_lines[1]}" == "usage: tocast "* ]]
	[ -z "$output" ]
	run -64 --separate-stderr tocast -x
	[ "${stderr_lines[0]}" = "tocast: option -x is unknown" ]
	run -64 --separate-stderr tocast -n 3 -g g
	[ "${stderr_lines[0]}" = "tocast: option -n is unknown" ]
	run -64 --separate-stderr tocast -g
	[ "${stderr_lines[0]}" = "tocast: option -g needs an argument" ]
}

# bad OPTION VALUE: exit 64 with one line on stderr that names the option.
bad() {
	run -64 --separate-stderr tocast -g g "$1" "$2"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "tocast: $1 $2: "* ]]
	[ -z "$output" ]
}

@test "tocast: bad -w values" {
	bad -w 0
	bad -w 1001
	bad -w abc
	bad -w ""
}

@test "tocast: bad -W values" {
	bad -W 0
	bad -W 1000001
	bad -W 1x
}

@test "tocast: bad -M values" {
	bad -M 0
	bad -M 2G
	bad -M 1025M
	bad -M 10x
	bad -M -1
	bad -M k
}

@test "tocast: bad -T values" {
	bad -T 0
	bad -T -1
	bad -T abc
	bad -T 1s
	bad -T nan
}

@test "tocast: bad --pack values" {
	bad --pack bogus
	bad --pack 0ms
	bad --pack 11s
	bad --pack visit
}

@test "tocast: an unknown protocol is a usage error naming the valid ones" {
	bad -p nosuch
	[[ "$stderr" == *dynseq* ]]
}

@test "tocast: an unknown transport is a usage error" {
	bad -t tcp://1.2.3.4
	TO_TRANSPORT=bogus run -64 --separate-stderr tocast -g g
	[[ "$stderr" == "tocast: TO_TRANSPORT bogus: "* ]]
}

@test "tocast: -0 and -F together are a usage error" {
	run -64 --separate-stderr tocast -0 -F -g g
	[ "$stderr" = "tocast: -0 and -F cannot be used together" ]
}

@test "tocast: no group is a usage error" {
	run -64 --separate-stderr tocast
	[ "$stderr" = "tocast: no group: use -g or set TO_GROUP" ]
	TO_GROUP='' run -64 --separate-stderr tocast
	[ "$stderr" = "tocast: no group: use -g or set TO_GROUP" ]
}

@test "tocast: a bad group name is a usage error" {
	bad -g "a b"
	bad -g "a/b"
	bad -g "$(printf 'x%.0s' {1..64})"
	TO_GROUP="../x" run -64 --separate-stderr tocast
	[[ "$stderr" == "tocast: TO_GROUP ../x: invalid group name"* ]]
}

@test "tocast: a missing input file exits 66 before joining" {
	cd "$BATS_TEST_TMPDIR"
	echo x > ok.txt
	run -66 --separate-stderr tocast -g "$(group)" -w 2 ok.txt nosuch.txt
	[ "$stderr" = "tocast: nosuch.txt: No such file or directory" ]
}

@test "tocast: an unreadable input file exits 66" {
	if [ "$(id -u)" -eq 0 ]; then
		skip "running as root: chmod 000 does not stop root reading"
	fi
	cd "$BATS_TEST_TMPDIR"
	echo secret > locked.txt
	chmod 000 locked.txt
	run -66 --separate-stderr tocast -g "$(group)" locked.txt
	[ "$stderr" = "tocast: locked.txt: Permission denied" ]
}

@test "tocast: an invalid TO_FAULTS is a usage error naming it" {
	TO_FAULTS=bogus run -64 --separate-stderr tocast -g "$(group)" \
	    /dev/null
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *TO_FAULTS=bogus* ]]
}

@test "tocast -p list names the protocols" {
	run -0 --separate-stderr tocast -p list
	[[ "$output" =~ (^|$'\n')"dynseq  "[^\ ] ]]
	[ -z "$stderr" ]
}

# Whole groups on the local transport.

@test "tocast: 2 receivers and a sender deliver 1000 lines in one order" {
	g=$(group)
	seq 1000 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 1000
	start r2 torecv -g "$g" -v -n 1000
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -T 10 -w 3 -r -v "$BATS_TEST_TMPDIR/in"
	[[ "$stderr" == *"tocast: joined view "*"(3 members)"* ]]
	[[ "$stderr" == *"tocast: sent 1000 records"* ]]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	wait_exit r2
	[ "$EXIT" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/in" "$(out r1)"
	cmp "$(out r1)" "$(out r2)"
	diff -u "$BATS_TEST_TMPDIR/in" <(printf '%s\n' "${lines[@]}")
}

@test "tocast: the same order despite loss, duplication and reordering" {
	export TO_FAULTS=loss=10%,dup=2%,reorder=2%
	g=$(group)
	seq 1000 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 1000
	start r2 torecv -g "$g" -v -n 1000
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" tocast -g "$g" -T 10 -w 3 \
	    "$BATS_TEST_TMPDIR/in"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	wait_exit r2
	[ "$EXIT" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/in" "$(out r1)"
	cmp "$(out r1)" "$(out r2)"
}

# sent N: the datagrams tocast -v says it sent
sent() {
	sed -n 's/^tocast: datagrams: \([0-9]*\) sent,.*/\1/p' <<<"$stderr"
}

@test "tocast --pack: a stream goes many to a datagram, unless off" {
	g=$(group)
	seq 5000 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 10000
	wait_for r1 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -T 10 -w 2 -v "$BATS_TEST_TMPDIR/in"
	[ "$(sent)" -lt 500 ]
	run -0 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -T 10 -w 2 -v --pack off "$BATS_TEST_TMPDIR/in"
	[ "$(sent)" -ge 5000 ]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	cmp <(cat "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/in") "$(out r1)"
}

@test "tocast: a small window still delivers everything" {
	g=$(group)
	seq 500 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 500
	wait_for r1 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -T 10 -w 2 -W 1 "$BATS_TEST_TMPDIR/in"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/in" "$(out r1)"
}

@test "tocast: files are cast in order, stdin as -" {
	g=$(group)
	cd "$BATS_TEST_TMPDIR"
	printf 'a1\na2' > a
	printf 'c1\n' > c
	start r1 torecv -g "$g" -v -n 4
	wait_for r1 "joined view"
	run -0 --separate-stderr bash -c \
	    "echo b1 | timeout $LIMIT tocast -g $g -T 10 -w 2 a - c"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(printf 'a1\na2\nb1\nc1')" ]
}

@test "tocast -0: NUL-terminated records" {
	g=$(group)
	printf 'a\0b c\0d\ne\0' > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -0 -g "$g" -v -n 3
	start r2 torecv -g "$g" -v -n 3
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" tocast -0 -g "$g" -T 10 -w 3 \
	    "$BATS_TEST_TMPDIR/in"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	wait_exit r2
	[ "$EXIT" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/in" "$(out r1)"
	printf 'a\nb c\nd\ne\n' | cmp - "$(out r2)"
}

@test "tocast -F: framed records round trip through torecv -F" {
	g=$(group)
	# stream header, then "hello", "" and "a b" as DATA records without
	# metadata, and a VIEW record that tocast skips
	{
		printf 'TOFR\0\1\0\0'
		printf '\0\0\0\7\1\0hello'
		printf '\0\0\0\2\1\0'
		printf '\0\0\0\26\2\14\0\0\0\0\0\0\0\11\0\0\0\1'
		printf '\0\0\0\0\0\0\0\1'
		printf '\0\0\0\5\1\0a b'
	} > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -F -g "$g" -v -n 3
	wait_for r1 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" tocast -F -g "$g" -T 10 -w 2 \
	    "$BATS_TEST_TMPDIR/in"
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	run -0 frames "$(out r1)"
	[[ "${lines[0]}" == "view "* ]]
	data=$(printf '%s\n' "${lines[@]}" | grep '^data ')
	[ "$(echo "$data" | cut -d' ' -f3-)" = "$(printf 'hello\n\na b')" ]
	# global sequence numbers increase
	echo "$data" | cut -d' ' -f2 | sort -n -c
}

@test "tocast: a malformed 4th frame exits 65, the 3 before delivered" {
	g=$(group)
	{
		printf 'TOFR\0\1\0\0'
		printf '\0\0\0\3\1\0a\0\0\0\3\1\0b\0\0\0\3\1\0c'
		printf '\0\0\0\3\11\0x'	# type 9
	} > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 3
	start r2 torecv -g "$g" -v -n 3
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -65 --separate-stderr bash -c \
	    "timeout $LIMIT tocast -F -g $g -T 10 -w 3 < $BATS_TEST_TMPDIR/in"
	[ "${stderr_lines[-1]}" = "tocast: stdin: record 4: malformed frame" ]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	wait_exit r2
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(printf 'a\nb\nc')" ]
	cmp "$(out r1)" "$(out r2)"
}

@test "tocast: a record over -M exits 65, the records before delivered" {
	g=$(group)
	printf 'one\ntwo\n0123456789abcdef\nthree\n' > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -v -n 2 -M 10
	wait_for r1 "joined view"
	run -65 --separate-stderr timeout "$LIMIT" \
	    tocast -M 10 -g "$g" -T 10 -w 2 "$BATS_TEST_TMPDIR/in"
	[[ "${stderr_lines[-1]}" == "tocast: "*"/in: record 3: record too large (max 10 bytes)" ]]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(printf 'one\ntwo')" ]
}

@test "tocast -T: gives up with 69 when the group does not fill" {
	g=$(group)
	t0=$SECONDS
	run -69 --separate-stderr timeout 20 tocast -g "$g" -w 5 -T 1 /dev/null
	((SECONDS - t0 <= 6))
	[ "${stderr_lines[-1]}" = "tocast: timed out waiting for 5 members (have 1)" ]
}

@test "tocast -r: the echo ends cleanly when its reader goes away" {
	g=$(group)
	run -0 --separate-stderr timeout "$LIMIT" bash -c \
	    "yes | tocast -g $g -r | head -n 2; exit \${PIPESTATUS[1]}"
	[ "$output" = "$(printf 'y\ny')" ]
}

@test "tocast -r: a stdout nobody reads pauses it, then it gives up with 75" {
	g=$(group)
	start r2 torecv -g "$g" -v -A
	wait_for r2 "joined view"
	# stdout a pipe to a sleep that never reads; kill the sleep after
	start_sh tc "exec 3> >(exec sleep $LIMIT); s=\$!
	    seq 200000 | tocast -g $g -w 2 -r -v --stall 2 >&3; st=\$?
	    kill \$s; exit \$st"
	wait_for tc "stdout full: pausing"
	t0=$SECONDS
	wait_exit tc 20
	[ "$EXIT" -eq 75 ]
	((SECONDS - t0 <= 8))
	grep -q "^tocast: stdout took nothing for 2 s: stopped reading$" \
	    "$(err tc)"
	# what it cast got through, all of it: it saw it delivered first
	n=$(sed -n 's/^tocast: sent \([0-9]*\) records$/\1/p' "$(err tc)")
	((n > 0))
	wait_exit r2 20
	[ "$EXIT" -eq 0 ]
	seq "$n" | cmp - "$(out r2)"
}

@test "tocast -p: joining a group that runs another protocol exits 69 and says so" {
	g=$(group)
	start r1 torecv -g "$g" -v -n 1
	wait_for r1 "joined view"
	run -69 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -p totem -w 2 -T 10 /dev/null
	[ "${stderr_lines[-1]}" = "tocast: group $g: the group runs dynseq (-M 67108864), not totem (-M 67108864)" ]
}
