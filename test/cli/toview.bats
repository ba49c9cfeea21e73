#!/usr/bin/env bats
# toview(1): options, rendering a framed stream, checking logs, watching.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

A=1229782938247303441	# 1111111111111111
B=2459565876494606882	# 2222222222222222

@test "toview --help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr toview --help
	[[ "${lines[0]}" == "usage: toview [-jV] -g group "* ]]
	[[ "$output" == *"toview -c [-M bytes] log ..."* ]]
	[ -z "$stderr" ]
}

@test "toview --version prints the version" {
	run -0 --separate-stderr toview --version
	[[ "$output" =~ ^toview\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "toview: bad options and combinations are usage errors" {
	run -64 --separate-stderr toview --bogus
	[ "${stderr_lines[0]}" = "toview: option --bogus is unknown" ]
	[[ "${stderr_lines[1]}" == "usage: toview "* ]]
	run -64 --separate-stderr toview -w 2
	[ "${stderr_lines[0]}" = "toview: option -w is unknown" ]
	run -64 --separate-stderr toview -c -g g x.log
	[ "$stderr" = "toview: -c and -g cannot be used together" ]
	run -64 --separate-stderr toview -n 3 x.log
	[ "$stderr" = "toview: -i, -n, -s, -t and -T need -g" ]
	run -64 --separate-stderr toview -c
	[ "${stderr_lines[0]}" = "toview: -c needs the logs to check" ]
	run -64 --separate-stderr toview a b
	[ "${stderr_lines[0]}" = "toview: unexpected argument: b" ]
	run -64 --separate-stderr toview -g g file
	[ "${stderr_lines[0]}" = "toview: unexpected argument: file" ]
	run -64 --separate-stderr toview -g 'no/slash'
	[[ "$stderr" == "toview: -g no/slash: invalid group name"* ]]
}

# The stream of the golden tests: two views, three messages.
golden() {
	frame_hdr
	frame_view 1 "$A"
	frame_view 2 "$A" "$B"
	frame_data 2 "$A" 1 1 hello
	frame_data 2 "$B" 1 2 "$(printf 'a\tb\nc\001"')"
	frame_data 2 "$B" 2 3 ""
	printf '\0\0\0\4\1\0hi'		# a DATA record without metadata
}

@test "toview renders a framed stream as text, a record a line" {
	golden > "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr toview "$BATS_TEST_TMPDIR/in"
	diff -u - <(printf '%s\n' "${lines[@]}") <<-'EOF'
	view 1: 1111111111111111 (1 member)
	view 2: 1111111111111111 2222222222222222 (2 members)
	data view=2 sender=1111111111111111 seq=1 gseq=1 len=5: hello
	data view=2 sender=2222222222222222 seq=1 gseq=2 len=7: a\tb\nc\x01"
	data view=2 sender=2222222222222222 seq=2 gseq=3 len=0:
	data len=2: hi
	EOF
	# and from stdin
	run -0 --separate-stderr toview < "$BATS_TEST_TMPDIR/in"
	[ "${#lines[@]}" -eq 6 ]
}

@test "toview -j writes JSON lines with every field" {
	golden > "$BATS_TEST_TMPDIR/in"
	{
		frame_hdr
		frame_data 3 "$A" 9 9 "$(printf 'caf\303\251 \377')"
	} > "$BATS_TEST_TMPDIR/bin"
	run -0 --separate-stderr toview -j "$BATS_TEST_TMPDIR/in"
	diff -u - <(printf '%s\n' "${lines[@]}") <<-'EOF'
	{"type":"view","view":1,"members":[{"rank":0,"id":"1111111111111111","orders":true}]}
	{"type":"view","view":2,"members":[{"rank":0,"id":"1111111111111111","orders":true},{"rank":1,"id":"2222222222222222","orders":false}]}
	{"type":"data","view":2,"sender":"1111111111111111","seq":1,"gseq":1,"len":5,"data":"hello"}
	{"type":"data","view":2,"sender":"2222222222222222","seq":1,"gseq":2,"len":7,"data":"a\tb\nc\u0001\""}
	{"type":"data","view":2,"sender":"2222222222222222","seq":2,"gseq":3,"len":0,"data":""}
	{"type":"data","len":2,"data":"hi"}
	EOF
	# UTF-8 as is; anything else in hexadecimal
	run -0 toview -j "$BATS_TEST_TMPDIR/bin"
	[ "$output" = '{"type":"data","view":3,"sender":"1111111111111111","seq":9,"gseq":9,"len":7,"hex":"636166c3a920ff"}' ]
	printf 'TOFR\0\1\0\0\0\0\0\7\1\0caf\303\251' > "$BATS_TEST_TMPDIR/utf8"
	run -0 toview -j "$BATS_TEST_TMPDIR/utf8"
	[ "$output" = "$(printf '{"type":"data","len":5,"data":"caf\303\251"}')" ]
}

@test "toview: a malformed record exits 65 after the records before it" {
	{
		frame_hdr
		frame_data 1 "$A" 1 1 one
		printf '\0\0\0\3\11\0x'
	} > "$BATS_TEST_TMPDIR/in"
	run -65 --separate-stderr toview "$BATS_TEST_TMPDIR/in"
	[ "$output" = "data view=1 sender=1111111111111111 seq=1 gseq=1 len=3: one" ]
	[[ "$stderr" == "toview: "*"/in: record 2: malformed frame" ]]
	printf 'TOFX\0\1\0\0' > "$BATS_TEST_TMPDIR/magic"
	run -65 --separate-stderr toview < "$BATS_TEST_TMPDIR/magic"
	[ "$stderr" = "toview: stdin: record 1: malformed frame" ]
	{ frame_hdr; frame_data 1 "$A" 1 1 one; } | head -c 20 \
	    > "$BATS_TEST_TMPDIR/cut"
	run -65 --separate-stderr toview "$BATS_TEST_TMPDIR/cut"
	[[ "$stderr" == *"/cut: record 1: cut short" ]]
	# an empty stream is no records
	run -0 --separate-stderr toview /dev/null
	[ -z "$output" ]
}

@test "toview: a missing file exits 66" {
	run -66 --separate-stderr toview "$BATS_TEST_TMPDIR/nosuch"
	[[ "$stderr" == *"/nosuch: No such file or directory" ]]
	run -66 --separate-stderr toview -c "$BATS_TEST_TMPDIR/nosuch"
	run -66 --separate-stderr toview "$BATS_TEST_TMPDIR"
	[[ "$stderr" == *": Is a directory" ]]
}

@test "toview | head: a reader that goes away is a clean end" {
	cd "$BATS_TEST_TMPDIR"
	frame_data 1 "$A" 1 1 1 > r
	for _ in $(seq 12); do cat r r > rr && mv rr r; done	# 4096 of them
	{ frame_hdr; cat r; } > in
	run -0 bash -c "toview in | head -n 1; exit \${PIPESTATUS[0]}"
	[ "$output" = "data view=1 sender=1111111111111111 seq=1 gseq=1 len=1: 1" ]
}

# log NAME: write a log from the frame_* calls that follow on stdin
log() { cat > "$BATS_TEST_TMPDIR/$1"; echo "$BATS_TEST_TMPDIR/$1"; }

@test "toview -c: logs that agree, one of them cut short by a crash" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y
	    frame_view 2 "$A"; frame_data 2 "$A" 2 3 z))
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y))
	run -0 --separate-stderr toview -c "$a" "$b"
	[ "$output" = "toview: 2 logs, 5 messages, 3 views: agree" ]
	[ -z "$stderr" ]
	# a log that ends inside a record is checked up to there
	c=$(log c < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; printf '\0\0\0\50\1'))
	run -0 --separate-stderr toview -c "$a" "$b" "$c"
	[ "$output" = "toview: 3 logs, 6 messages, 4 views: agree" ]
	[[ "$stderr" == "toview: "*"/c: record 3: cut short, checked up to there" ]]
}

@test "toview -c: names the first violation and exits 1" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y))
	# the same two messages the other way round
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$B" 1 1 y; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$a" "$b"
	[ -z "$output" ]
	[[ "$stderr" == *"/a and "*"/b: message 2222222222222222:1 has global seq 2 and 1" ]]
	# in a view of other members (the other side of a partition)
	c=$(log c < <(frame_hdr; frame_view 1 "$B" "$A"
	    frame_data 1 "$B" 1 1 y; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$a" "$c"
	[[ "$stderr" == *"/a and "*"/c: total order differs at "*"/c entry 3 (1111111111111111:1)" ]]
	# a duplicate
	d=$(log d < <(frame_hdr; frame_view 1 "$A"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$d"
	[[ "$stderr" == *"/d: entry 3: duplicate message 1111111111111111:1" ]]
	# another content
	e=$(log e < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 X; frame_data 1 "$B" 1 2 y))
	run -1 --separate-stderr toview -c "$a" "$e"
	[[ "$stderr" == *"message 1111111111111111:1 differs in content" ]]
	# different messages between the same two views
	f=$(log f < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_view 2 "$A" "$B"))
	g=$(log g < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_view 2 "$A" "$B"))
	run -1 --separate-stderr toview -c "$f" "$g"
	[[ "$stderr" == *"different messages between views 1 and 2" ]]
}

@test "toview -c: a log without metadata is malformed, 65" {
	a=$(log a < <(frame_hdr; printf '\0\0\0\3\1\0x'))
	run -65 --separate-stderr toview -c "$a"
	[[ "$stderr" == *"/a: record 1: data without metadata: not a log of torecv -F" ]]
	b=$(log b < <(frame_hdr; printf '\0\0\0\3\11\0x'))
	run -65 --separate-stderr toview -c "$b"
	[[ "$stderr" == *"/b: record 1: malformed frame" ]]
}

# Watching a live group.

# wait_out NAME PATTERN [SECONDS]: until NAME.out has a line matching.
wait_out() {
	local end=$((SECONDS + ${3:-20}))

	until grep -q -e "$2" "$(out "$1")" 2>/dev/null; do
		if ((SECONDS >= end)); then
			echo "no '$2' on the stdout of $1 within ${3:-20}s" >&2
			return 1
		fi
		sleep 0.05
	done
}

@test "toview -g: prints views with ranks, the orderer, pids and ports" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view 1"
	start w toview -g "$g" -n 3
	wait_out w "^view 1:"
	start r2 torecv -g "$g" -v
	wait_for r2 "joined view"
	wait_out w "^view 2:"
	kill -TERM "$(child r2)"
	wait_exit r2 10
	wait_exit w 20
	[ "$EXIT" -eq 0 ]
	id1=$(sed -n 's/^torecv: joined view 1: \([0-9a-f]*\) .*/\1/p' \
	    "$(err r1)")
	pid1=$(child r1)
	run -0 cat "$(out w)"
	[ "${lines[0]}" = "view 1: $id1 (1 member)" ]
	[[ "${lines[1]}" =~ ^"  rank 0  $id1  pid $pid1  127.0.0.1:"[0-9]+"  orders"$ ]]
	[[ "${lines[2]}" == "view 2: $id1 "*" (2 members)" ]]
	[[ "${lines[4]}" =~ ^"  rank 1  "[0-9a-f]{16}"  pid "[0-9]+"  127.0.0.1:"[0-9]+$ ]]
	[ "${lines[5]}" = "view 3: $id1 (1 member)" ]
	[ "${#lines[@]}" -eq 7 ]
}

@test "toview -g -j: one JSON line a view" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view 1"
	run -0 --separate-stderr timeout 20 toview -g "$g" -j -n 1 -T 10
	[[ "$output" =~ ^\{\"type\":\"view\",\"view\":1,\"members\":\[\{\"rank\":0,\"id\":\"[0-9a-f]{16}\",\"pid\":$(child r1),\"addr\":\"127.0.0.1:[0-9]+\",\"orders\":true\}\]\}$ ]]
}

@test "toview -g -T: gives up with 69 when no view comes" {
	t0=$SECONDS
	run -69 --separate-stderr timeout 20 toview -g "$(group)" -T 0.5
	((SECONDS - t0 <= 5))
	[ "$stderr" = "toview: timed out waiting for 1 view (have 0)" ]
	run -69 --separate-stderr timeout 20 toview -g "$(group)" -n 2 -T 0.5
	[ "$stderr" = "toview: timed out waiting for 2 views (have 0)" ]
}

@test "toview -g: the watcher is not a member, and SIGTERM ends it with 0" {
	g=$(group)
	start r1 torecv -g "$g" -v
	wait_for r1 "joined view 1"
	start w toview -g "$g"
	wait_out w "^view 1:"
	start r2 torecv -g "$g" -v
	wait_for r1 "joined view 2"
	grep -q "joined view 2: .* (2 members)" "$(err r1)"
	wait_out w "^view 2: .* (2 members)"
	kill -TERM "$(child w)"		# not twice, through timeout(1)
	wait_exit w 10
	[ "$EXIT" -eq 0 ]
}

@test "toview in a live pipe: each record goes on before its input ends" {
	local g out="$BATS_TEST_TMPDIR/live.txt"
	g=$(group)
	# the framed input stays open 10 s; the record must be out long before
	start_sh live "(printf 'TOFR\\0\\1\\0\\0\\0\\0\\0\\7\\1\\0hello'; sleep 10) |
	    tocast -F -r -g $g | toview >$out"
	wait_file "$out" 'len=5: hello$' 4
	grep -q '^view 1: ' "$out"
}
