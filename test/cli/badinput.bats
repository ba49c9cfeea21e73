#!/usr/bin/env bats
# Bad input at the tools: options, values, files, key files, framed input,
# a closed stdout.  Each gives one clear line on stderr and the exit status
# of the pages' EXIT STATUS, and what was accepted before it is not lost.
# (tocast.bats and torecv.bats cover the -w, -W, -M, -T, -p, -t, -g values,
# missing and unreadable input files, a bad 4th frame and a record over -M.)

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

# key NAME BYTES [MODE]: a key file of random bytes, mode 600 by default.
key() {
	local f="$BATS_TEST_TMPDIR/$1"

	(umask 077 && head -c "$2" /dev/urandom > "$f")
	chmod "${3:-600}" "$f"
	echo "$f"
}

# refused TOOL STATUS MESSAGE ARG ...: TOOL ARG ... exits STATUS with the
# one line "TOOL: MESSAGE" on stderr and nothing on stdout.
refused() {
	local tool=$1 status=$2 msg=$3

	shift 3
	run "-$status" --separate-stderr timeout 10 "$tool" "$@"
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "$tool: $msg" ]
	[ -z "$output" ]
}

@test "-k: a missing, empty-named or directory key file exits 66" {
	cd "$BATS_TEST_TMPDIR"
	mkdir keys
	for t in tocast torecv; do
		refused $t 66 "-k nosuch.key: No such file or directory" \
		    -g g -k nosuch.key
		refused $t 66 "-k keys: Is a directory" -g g -k keys
		refused $t 66 "-k : No such file or directory" -g g --key=
	done
}

@test "-k: an unreadable key file exits 66" {
	if [ "$(id -u)" -eq 0 ]; then
		skip "running as root: chmod 000 does not stop root reading"
	fi
	k=$(key locked.key 32 000)
	refused tocast 66 "-k $k: Permission denied" -g g -k "$k"
}

@test "-k: a key file open to group or others exits 64" {
	for mode in 644 640 604 660 606 620 602 700; do
		k=$(key "k$mode" 32 "$mode")
		if [ $mode = 700 ]; then
			# the owner's bits are the owner's business
			run -69 --separate-stderr timeout 10 torecv -g "$(group)" \
			    -k "$k" -T 0.2
			continue
		fi
		refused tocast 64 "-k $k: insecure permissions 0$mode, expected no access for group and others (chmod 600 $k)" \
		    -g g -k "$k"
	done
}

@test "-k: a key file shorter than 32 bytes or over 64k exits 64" {
	for n in 0 1 31; do
		k=$(key "short$n" "$n")
		refused torecv 64 "-k $k: key too short ($n bytes), expected at least 32 bytes of random data" \
		    -g g -k "$k"
	done
	k=$(key long 65537)
	refused tocast 64 "-k $k: key too long, expected at most 65536 bytes" \
	    -g g -k "$k"
	# 32 bytes and 64k are fine: the member starts (and times out)
	for n in 32 65536; do
		k=$(key "ok$n" "$n")
		run -69 --separate-stderr timeout 10 torecv -g "$(group)" \
		    -k "$k" -T 0.2
		[ "$stderr" = "torecv: timed out waiting for 1 message (have 0)" ]
	done
}

@test "TO_KEYFILE: named in the message; -k overrides it; empty is none" {
	bad=$(key bad.key 31)
	good=$(key good.key 32)
	TO_KEYFILE=$bad refused tocast 64 "TO_KEYFILE $bad: key too short (31 bytes), expected at least 32 bytes of random data" \
	    -g g /dev/null
	TO_KEYFILE=$bad run -69 --separate-stderr timeout 10 \
	    torecv -g "$(group)" -k "$good" -T 0.2
	TO_KEYFILE= run -69 --separate-stderr timeout 10 \
	    torecv -g "$(group)" -T 0.2
}

@test "-k: the key file is checked before joining and before input" {
	k=$(key short 8)
	# no group formed, nothing read from stdin: it fails at once
	run -64 --separate-stderr bash -c \
	    "yes | timeout 10 tocast -g $(group) -w 5 -k $k"
	[[ "$stderr" == "tocast: -k $k: key too short"* ]]
}

@test "-k needs an argument" {
	run -64 --separate-stderr torecv -g g -k
	[ "${stderr_lines[0]}" = "torecv: option -k needs an argument" ]
	[[ "${stderr_lines[1]}" == "usage: torecv "* ]]
	run -64 --separate-stderr tocast -g g --key
	[ "${stderr_lines[0]}" = "tocast: option --key needs an argument" ]
}

@test "usage lines and pages name -k" {
	run -0 --separate-stderr tocast -h
	[[ "$output" == *"[-k keyfile]"* ]]
	run -0 --separate-stderr torecv -h
	[[ "$output" == *"[-k keyfile]"* ]]
	for p in tocast torecv; do
		grep -q '^\.It Fl k Ar keyfile' \
		    "$BATS_TEST_DIRNAME/../../man/$p.1"
		grep -q '^\.It Ev TO_KEYFILE' \
		    "$BATS_TEST_DIRNAME/../../man/$p.1"
	done
}

@test "tocast: an input file that is a directory exits 66 before joining" {
	cd "$BATS_TEST_TMPDIR"
	mkdir d
	refused tocast 66 "d: Is a directory" -g "$(group)" -w 2 d
}

# framed FILE BYTES: printf BYTES into FILE.
framed() {
	# shellcheck disable=SC2059 # the bytes are a printf format
	printf "$2" > "$BATS_TEST_TMPDIR/$1"
}

@test "tocast -F: malformed streams exit 65 naming the record" {
	g=$(group)
	framed magic 'XXXX\0\1\0\0\0\0\0\3\1\0a'
	framed version 'TOFR\0\2\0\0\0\0\0\3\1\0a'
	framed hdrcut 'TOF'
	framed cut 'TOFR\0\1\0\0\0\0\0\7\1\0hel'
	framed shortmeta 'TOFR\0\1\0\0\0\0\0\7\1\5hello'
	framed nometa 'TOFR\0\1\0\0\0\0\0\1\1'
	framed badview 'TOFR\0\1\0\0\0\0\0\16\2\14\0\0\0\0\0\0\0\1\0\0\0\1'
	for f in magic version hdrcut cut shortmeta nometa badview; do
		refused tocast 65 "$BATS_TEST_TMPDIR/$f: record 1: malformed frame" \
		    -F -g "$g" -T 10 "$BATS_TEST_TMPDIR/$f"
	done
	framed huge 'TOFR\0\1\0\0\377\377\377\377\1\0'
	refused tocast 65 "$BATS_TEST_TMPDIR/huge: record 1: record too large (max 1024 bytes)" \
	    -F -M 1k -g "$g" -T 10 "$BATS_TEST_TMPDIR/huge"
}

@test "tocast -F: an empty stream is no records, and exit 0" {
	: > "$BATS_TEST_TMPDIR/empty"
	run -0 --separate-stderr bash -c "timeout 10 tocast -F -r \
	    -g $(group) -T 10 $BATS_TEST_TMPDIR/empty > $BATS_TEST_TMPDIR/out"
	[ -z "$stderr" ]
	# the echo has the view and no data
	run -0 frames "$BATS_TEST_TMPDIR/out"
	[[ "${lines[0]}" == "view "* ]]
	[[ "$output" != *data* ]]
}

@test "tocast -F -r: the records before a cut-short frame are echoed" {
	framed in 'TOFR\0\1\0\0\0\0\0\3\1\0a\0\0\0\3\1\0b\0\0\0\7\1\0he'
	run -65 --separate-stderr bash -c "timeout 10 tocast -F -r \
	    -g $(group) -T 10 < $BATS_TEST_TMPDIR/in > $BATS_TEST_TMPDIR/out"
	[ "$stderr" = "tocast: stdin: record 3: malformed frame" ]
	run -0 frames "$BATS_TEST_TMPDIR/out"
	[ "$(printf '%s\n' "${lines[@]}" | grep '^data' | cut -d' ' -f3)" = \
	    "$(printf 'a\nb')" ]
}

@test "torecv: a closed stdout exits 74 before joining" {
	run -74 --separate-stderr bash -c "timeout 10 torecv -g $(group) >&-"
	[ "$stderr" = "torecv: stdout: Bad file descriptor" ]
}

@test "tocast -r: a closed stdout exits 74; without -r it does not matter" {
	run -74 --separate-stderr bash -c \
	    "echo x | timeout 10 tocast -r -g $(group) >&-"
	[ "$stderr" = "tocast: stdout: Bad file descriptor" ]
	run -0 --separate-stderr bash -c \
	    "echo x | timeout 10 tocast -g $(group) -T 10 >&-"
	[ -z "$stderr" ]
}

@test "tocast: a closed stdin is an empty input" {
	run -0 --separate-stderr bash -c "timeout 10 tocast -g $(group) <&-"
	[ -z "$stderr" ]
}

@test "keyed group: records before a malformed one are all delivered" {
	g=$(group)
	k=$(key group.key 32)
	{
		printf 'TOFR\0\1\0\0'
		printf '\0\0\0\3\1\0a\0\0\0\3\1\0b\0\0\0\3\1\0c'
		printf '\0\0\0\3\11\0x'	# type 9
	} > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -k "$k" -v -n 3
	wait_for r1 "joined view"
	run -65 --separate-stderr bash -c \
	    "timeout $LIMIT tocast -F -g $g -k $k -T 10 -w 2 < $BATS_TEST_TMPDIR/in"
	[ "${stderr_lines[-1]}" = "tocast: stdin: record 4: malformed frame" ]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	[ "$(cat "$(out r1)")" = "$(printf 'a\nb\nc')" ]
}
