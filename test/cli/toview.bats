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

@test "toview -c: logs that agree, one of them ending early" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y
	    frame_view 2 "$A"; frame_data 2 "$A" 2 3 z))
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y))
	run -0 --separate-stderr toview -c "$a" "$b"
	[ "$output" = "toview: 2 logs, 5 messages, 3 views: agree" ]
	[ -z "$stderr" ]
}

@test "toview -c: a log cut inside a record is bad input, 65, checked up to there" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y))
	c=$(log c < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; printf '\0\0\0\50\1'))
	run -65 --separate-stderr toview -c "$a" "$c"
	[ -z "$output" ]
	[[ "$stderr" == "toview: "*"/c: record 3: cut short: the log ends inside a record" ]]
	# and what came before it is checked all the same
	d=$(log d < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 X; printf '\0\0\0\50\1'))
	run -65 --separate-stderr toview -c "$a" "$d"
	[ "${#stderr_lines[@]}" -eq 2 ]
	[[ "${stderr_lines[1]}" == "toview: "*"/d: record 2: view 1: sender 1111111111111111 seq 1 gseq 1: content differs from "*"/a: record 2" ]]
}

@test "toview -c: names each violation, one line each, and exits 1" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$B" 1 2 y))
	# the same two messages the other way round
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$B" 1 1 y; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$a" "$b"
	[ -z "$output" ]
	[[ "${stderr_lines[0]}" == "toview: "*"/b: record 2: view 1: sender 2222222222222222 seq 1 gseq 1: global order: "*"/a: record 2 (sender 1111111111111111 seq 1) has this gseq in this view" ]]
	[[ "${stderr_lines[1]}" == "toview: "*"/b: record 3: view 1: sender 1111111111111111 seq 1 gseq 2: total order: after record 2 (sender 2222222222222222 seq 1), but "*"/a has them the other way round (records 2 and 3)" ]]
	[ "${#stderr_lines[@]}" -eq 2 ]
	# in a view of other members (the other side of a partition)
	c=$(log c < <(frame_hdr; frame_view 1 "$B" "$A"
	    frame_data 1 "$B" 1 1 y; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$a" "$c"
	[[ "$stderr" == *"/c: record 3: view 1: sender 1111111111111111 seq 1 gseq 2: total order: after record 2 (sender 2222222222222222 seq 1), but "*"/a has them the other way round (records 2 and 3)" ]]
	# a duplicate
	d=$(log d < <(frame_hdr; frame_view 1 "$A"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$A" 1 2 x))
	run -1 --separate-stderr toview -c "$d"
	[[ "$stderr" == *"/d: record 3: view 1: sender 1111111111111111 seq 1 gseq 2: duplicate of record 2" ]]
	# another content
	e=$(log e < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 X; frame_data 1 "$B" 1 2 y))
	run -1 --separate-stderr toview -c "$a" "$e"
	[[ "$stderr" == *"/e: record 2: view 1: sender 1111111111111111 seq 1 gseq 1: content differs from "*"/a: record 2" ]]
	# different messages between the same two views
	f=$(log f < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_view 2 "$A" "$B"))
	g=$(log g < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_view 2 "$A" "$B"))
	run -1 --separate-stderr toview -c "$f" "$g"
	[[ "$stderr" == *"/f and "*"/g: between view 1 (records 1 and 1) and view 2: virtual synchrony: "*"/f: record 2 (sender 1111111111111111 seq 1) is not in "*"/g" ]]
}

@test "toview -c: a log without metadata is malformed, 65" {
	a=$(log a < <(frame_hdr; printf '\0\0\0\3\1\0x'))
	run -65 --separate-stderr toview -c "$a"
	[[ "$stderr" == *"/a: record 1: data without metadata: not a log of torecv -F" ]]
	b=$(log b < <(frame_hdr; printf '\0\0\0\3\11\0x'))
	run -65 --separate-stderr toview -c "$b"
	[[ "$stderr" == *"/b: record 1: malformed frame" ]]
}

# Hand-made logs for each property of to(7) that -c checks.

# frame_tview ID MEMBER ...: a transitional VIEW record, 16 bytes of
# metadata with flags 0x1, as frame_view writes a regular one
frame_tview() {
	local id=$1 m s

	shift
	s="$(u32 $((18 + 8 * $#)))\\x02\\x10$(u64 "$id")$(u32 $#)$(u32 1)"
	for m; do
		s+=$(u64 "$m")
	done
	# shellcheck disable=SC2059 # escapes built above
	printf "$s"
}

C=3689348814741910323	# 3333333333333333

@test "toview -c: a message from no member, before any view, or of another view" {
	a=$(log a < <(frame_hdr; frame_data 1 "$A" 1 1 x; frame_view 1 "$A"
	    frame_data 1 "$C" 1 2 y; frame_data 1 "$C" 2 3 z
	    frame_data 7 "$A" 2 4 w))
	run -1 --separate-stderr toview -c "$a"
	diff -u - <(printf '%s\n' "${stderr_lines[@]}" | sed 's#^toview: .*/a: #a: #') <<-'EOF2'
	a: record 1: no view: sender 1111111111111111 seq 1 gseq 1: delivered before any view
	a: record 3: view 1: sender 3333333333333333 seq 1 gseq 2: the sender is not a member of view 1 (record 2)
	a: record 5: view 1: sender 1111111111111111 seq 2 gseq 4: the message carries view id 7
	EOF2
}

@test "toview -c: gaps in sender seqs only where a view left the sender out" {
	# A leaves the view and comes back: what it sent meanwhile is not here
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_view 2 "$B"; frame_view 3 "$B" "$A"
	    frame_data 3 "$A" 5 9 y))
	run -0 --separate-stderr toview -c "$a"
	# A stays: seqs 2 to 4 are missing, and gseq 2
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_view 2 "$A" "$B"
	    frame_data 2 "$A" 5 9 y; frame_data 2 "$B" 1 11 z))
	run -1 --separate-stderr toview -c "$b"
	diff -u - <(printf '%s\n' "${stderr_lines[@]}" | sed 's#^toview: .*/b: #b: #') <<-'EOF2'
	b: record 4: view 2: sender 1111111111111111 seq 5 gseq 9: sender seq 2 to 4 missing: the sender and this member stayed in the view since seq 1 (record 2)
	b: record 5: view 2: sender 2222222222222222 seq 1 gseq 11: gseq 10 missing
	EOF2
}

@test "toview -c: views named by id and members; ids go up; one member in all" {
	a=$(log a < <(frame_hdr; frame_view 2 "$A" "$B"; frame_view 2 "$A"
	    frame_view 1 "$A"; frame_view 3 "$B"))
	run -1 --separate-stderr toview -c "$a"
	diff -u - <(printf '%s\n' "${stderr_lines[@]}" | sed 's#^toview: .*/a: #a: #') <<-'EOF2'
	a: record 2: view 2: view id not above that of view 2 (record 1)
	a: record 3: view 1: view id not above that of view 2 (record 2)
	a: record 4: view 3: no member is in this view and every view before it: not the log of one member
	EOF2
}

@test "toview -c: logs that share no view say so; ending early, a gap is still one" {
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x))
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$C"
	    frame_data 1 "$A" 1 1 x))
	run -1 --separate-stderr toview -c "$a" "$b"
	[[ "$stderr" == "toview: "*"/a and "*"/b: no view in common" ]]
	# b ends first, but misses gseq 1 and 2 that a delivered before
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$A" 2 2 y
	    frame_data 1 "$A" 3 3 z; frame_data 1 "$A" 4 4 w))
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B"
	    frame_data 1 "$A" 3 3 z))
	run -1 --separate-stderr toview -c "$a" "$b"
	[[ "$stderr" == "toview: "*"/b: record 2: view 1: sender 1111111111111111 seq 3 gseq 3: gseq 1 to 2 missing: the first here in this view, and "*"/a: record 2: view 1: sender 1111111111111111 seq 1 gseq 1 delivers gseq 1 in it" ]]
}

@test "toview -c: transitional views (flag 0x1) keep the sides of a partition apart" {
	# {A,B,C} splits into {A,B} and {C}; each side flushes what it has
	# of view 1 after a transitional view, numbered on from gseq 1
	a=$(log a < <(frame_hdr; frame_view 1 "$A" "$B" "$C"
	    frame_data 1 "$A" 1 1 x; frame_tview 2 "$A" "$B"
	    frame_data 1 "$C" 1 2 c1; frame_view 2 "$A" "$B"
	    frame_data 2 "$A" 2 3 y))
	b=$(log b < <(frame_hdr; frame_view 1 "$A" "$B" "$C"
	    frame_data 1 "$A" 1 1 x; frame_tview 2 "$A" "$B"
	    frame_data 1 "$C" 1 2 c1; frame_view 2 "$A" "$B"))
	c=$(log c < <(frame_hdr; frame_view 1 "$A" "$B" "$C"
	    frame_data 1 "$A" 1 1 x; frame_tview 2 "$C"
	    frame_data 1 "$C" 1 2 c1; frame_data 1 "$C" 2 3 c2
	    frame_view 2 "$C"))
	run -0 --separate-stderr toview -c "$a" "$b" "$c"
	[ "$output" = "toview: 3 logs, 8 messages, 9 views: agree" ]
	run -0 --separate-stderr toview "$c"
	[ "${lines[2]}" = "transitional view 2: 3333333333333333 (1 member)" ]
	run -0 --separate-stderr toview -j "$c"
	[ "${lines[2]}" = '{"type":"view","view":2,"transitional":true,"members":[{"rank":0,"id":"3333333333333333","orders":true}]}' ]
	# the same without the transitional views: gseq 3 of view 1 is two
	# messages
	c=$(log c < <(frame_hdr; frame_view 1 "$A" "$B" "$C"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$C" 2 2 c2
	    frame_view 2 "$C"))
	d=$(log d < <(frame_hdr; frame_view 1 "$A" "$B" "$C"
	    frame_data 1 "$A" 1 1 x; frame_data 1 "$C" 1 2 c1))
	run -1 --separate-stderr toview -c "$c" "$d"
	[[ "$stderr" == *"/d: record 3: view 1: sender 3333333333333333 seq 1 gseq 2: global order: "*"/c: record 3 (sender 3333333333333333 seq 2) has this gseq in this view" ]]
	# a transitional view of members the closing view did not have, and
	# one that leads elsewhere
	e=$(log e < <(frame_hdr; frame_view 1 "$A" "$B"; frame_tview 2 "$A" "$C"
	    frame_view 3 "$A" "$C"))
	run -1 --separate-stderr toview -c "$e"
	diff -u - <(printf '%s\n' "${stderr_lines[@]}" | sed 's#^toview: .*/e: #e: #') <<-'EOF2'
	e: record 2: transitional view 2: member 3333333333333333 was not in view 1 (record 1), which it closes
	e: record 3: view 3: not the view that transitional view 2 (record 2) leads to
	EOF2
}

# Real runs, and doctored copies of their logs.

MUTATE="$BATS_TEST_DIRNAME/mutate.py"

# wait_data LOG N [SECONDS]: until LOG holds N DATA records.
wait_data() {
	local end=$((SECONDS + ${3:-30}))

	until (($(toview "$1" 2>/dev/null | grep -c '^data') >= $2)); do
		if ((SECONDS >= end)); then
			echo "${1##*/}: fewer than $2 messages in ${3:-30}s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# run_clean NAME N: two torecv -F and a tocast -r -F of N lines in group
# NAME; their logs in $BATS_FILE_TMPDIR/NAME-{a,b,c}.log.
run_clean() {
	local g n=$2 x

	g=$(group)-$1
	start "$1-a" torecv -g "$g" -F -v
	start "$1-b" torecv -g "$g" -F -v
	wait_for "$1-a" "joined view"
	wait_for "$1-b" "joined view"
	start_sh "$1-c" "seq $n | $MUTATE frame | tocast -g $g -w 3 -r -F"
	wait_exit "$1-c" 30
	[ "$EXIT" -eq 0 ]
	wait_data "$(out "$1-a")" "$n"
	wait_data "$(out "$1-b")" "$n"
	for x in a b; do
		kill -TERM "$(child "$1-$x")"
		wait_exit "$1-$x" 10
		[ "$EXIT" -eq 0 ]
	done
	for x in a b c; do
		cp "$(out "$1-$x")" "$BATS_FILE_TMPDIR/$1-$x.log"
	done
}

# run_kill NAME N: three torecv -F and a tocast -r -F of N lines; one
# receiver (v) is killed with SIGKILL after the first N/2, and the rest
# go once the others have installed a view without it.
run_kill() {
	local g n=$2 x go="$BATS_TEST_TMPDIR/go"

	g=$(group)-$1
	for x in a b v; do
		start "$1-$x" torecv -g "$g" -F -v
	done
	wait_for "$1-a" "(3 members)"
	start_sh "$1-c" "{ seq $((n / 2)); until [ -e $go ]; do sleep 0.05;
	    done; seq $((n / 2 + 1)) $n; } | $MUTATE frame |
	    tocast -g $g -w 4 -r -F"
	wait_data "$(out "$1-v")" $((n / 2))
	kill -KILL "$(child "$1-v")"
	wait_exit "$1-v" 10
	# a and b go on without it, in a view of three again
	local end=$((SECONDS + 20))
	until (($(grep -c "(3 members)" "$(err "$1-a")") >= 2)); do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
	touch "$go"
	wait_exit "$1-c" 30
	[ "$EXIT" -eq 0 ]
	wait_data "$(out "$1-a")" "$n"
	wait_data "$(out "$1-b")" "$n"
	for x in a b; do
		kill -TERM "$(child "$1-$x")"
		wait_exit "$1-$x" 10
	done
	for x in a b v c; do
		cp "$(out "$1-$x")" "$BATS_FILE_TMPDIR/$1-$x.log"
	done
}

# real_logs: the logs of the real runs, made by the first test to need
# them: g1 and g2 (two unrelated groups), k (a member killed).
real_logs() {
	cd "$BATS_FILE_TMPDIR"
	[ -e real.done ] && return 0
	run_clean g1 200
	run_clean g2 50
	run_kill k 1000
	touch real.done
}

# mutate KIND LOG [OTHER]: x.log, a copy of LOG with one fault; the facts
# of the record touched in R V S Q G.
mutate() {
	local facts

	"$MUTATE" "$@" > x.log 2> facts
	read -r R V S Q G < facts
	facts=$(sed -n 2p facts)
	[ -z "$facts" ] || read -r VR VNEW <<< "$facts"
}

@test "toview -c: the untouched logs of real runs agree, a member killed or not" {
	real_logs
	run -0 --separate-stderr toview -c g1-a.log g1-b.log g1-c.log
	[[ "$output" == "toview: 3 logs, 600 messages, "*" views: agree" ]]
	run -0 --separate-stderr toview -c g2-a.log g2-b.log g2-c.log
	# the killed member's log ends inside a view; so does a copy cut
	# cleanly after any record
	run -0 --separate-stderr toview -c k-a.log k-b.log k-v.log k-c.log
	[[ "$output" == "toview: 4 logs, "*" messages, "*" views: agree" ]]
	[ -z "$stderr" ]
	toview k-a.log | grep -q '^view .* (3 members)$'
	mutate head k-b.log
	run -0 --separate-stderr toview -c k-a.log x.log k-c.log
	# but a log of another group has nothing in common with them
	run -1 --separate-stderr toview -c g1-a.log g2-b.log
	[ "$stderr" = "toview: g1-a.log and g2-b.log: no view in common" ]
}

@test "toview -c mutation: a record deleted" {
	real_logs
	mutate delete g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender $S seq $((Q + 1)) gseq $((G + 1)): gseq $G missing" ]
	[ "${stderr_lines[1]}" = "toview: x.log: record $R: view $V: sender $S seq $((Q + 1)) gseq $((G + 1)): sender seq $Q missing: the sender and this member stayed in the view since seq $((Q - 1)) (record $((R - 1)))" ]
	[[ "$stderr" == *"toview: g1-a.log and x.log: between view $V (records "*") and view "*": virtual synchrony: g1-a.log: record "*" (sender $S seq $Q) is not in x.log"* ]]
	# the same after the view change of the kill
	mutate delete k-a.log
	run -1 --separate-stderr toview -c x.log k-b.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender $S seq $((Q + 1)) gseq $((G + 1)): gseq $G missing" ]
}

@test "toview -c mutation: a record twice" {
	real_logs
	mutate dup g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[[ "$stderr" == *"toview: x.log: record $((R + 1)): view $V: sender $S seq $Q gseq $G: duplicate of record $R"* ]]
	[[ "$stderr" == *"toview: g1-a.log and x.log: between view $V "*": virtual synchrony: g1-a.log delivers 200 messages between them, x.log 201"* ]]
}

@test "toview -c mutation: two records swapped" {
	real_logs
	mutate swap g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[[ "$stderr" == *"toview: x.log: record $((R + 1)): view $V: sender $S seq $Q gseq $G: sender order: after seq $((Q + 1)) (record $R)"* ]]
	[[ "$stderr" == *"toview: x.log: record $((R + 1)): view $V: sender $S seq $Q gseq $G: total order: after record $R (sender $S seq $((Q + 1))), but g1-a.log has them the other way round"* ]]
}

@test "toview -c mutation: a sender rewritten to no member" {
	real_logs
	mutate sender g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender deadbeefdeadbeef seq $Q gseq $G: the sender is not a member of view $V (record $((R - Q)))" ]
	# alone, too
	run -1 --separate-stderr toview -c x.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender deadbeefdeadbeef seq $Q gseq $G: the sender is not a member of view $V (record $((R - Q)))" ]
}

@test "toview -c mutation: a sender seq rewritten" {
	real_logs
	mutate seq g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender $S seq $((Q + 1000)) gseq $G: sender seq $Q to $((Q + 999)) missing: the sender and this member stayed in the view since seq $((Q - 1)) (record $((R - 1)))" ]
	[ "${stderr_lines[1]}" = "toview: x.log: record $((R + 1)): view $V: sender $S seq $((Q + 1)) gseq $((G + 1)): sender order: after seq $((Q + 1000)) (record $R)" ]
	[[ "$stderr" == *"toview: x.log: record $R: view $V: sender $S seq $((Q + 1000)) gseq $G: global order: g1-a.log: record "*" (sender $S seq $Q) has this gseq in this view"* ]]
}

@test "toview -c mutation: a global seq rewritten" {
	real_logs
	mutate gseq g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "${stderr_lines[0]}" = "toview: x.log: record $R: view $V: sender $S seq $Q gseq $((G + 1000)): gseq $G to $((G + 999)) missing" ]
	[ "${stderr_lines[1]}" = "toview: x.log: record $((R + 1)): view $V: sender $S seq $((Q + 1)) gseq $((G + 1)): total order: after gseq $((G + 1000)) (record $R)" ]
}

@test "toview -c mutation: a view id rewritten, in a message or a view" {
	real_logs
	mutate view g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "$stderr" = "toview: x.log: record $R: view $V: sender $S seq $Q gseq $G: the message carries view id $((V + 1000))" ]
	mutate viewrec g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[[ "${stderr_lines[0]}" == "toview: x.log: record $((VR + 1)): view $VNEW: sender $S seq "*": the message carries view id $V" ]]
	[[ "${stderr_lines[1]}" == "toview: x.log: record "*": view $((V + 1)): view id not above that of view $VNEW (record $VR)" ]]
}

@test "toview -c mutation: a payload rewritten" {
	real_logs
	mutate payload g1-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[[ "$stderr" = "toview: x.log: record $R: view $V: sender $S seq $Q gseq $G: content differs from g1-a.log: record "* ]]
}

@test "toview -c mutation: the logs of two groups spliced" {
	real_logs
	mutate splice g1-b.log g2-b.log
	run -1 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[[ "$stderr" == *"toview: x.log: record $((R + 1)): view "*": no member is in this view and every view before it: not the log of one member"* ]]
	run -1 --separate-stderr toview -c x.log
	[[ "$stderr" == *"toview: x.log: record $((R + 1)): view "*": no member is in this view and every view before it: not the log of one member"* ]]
}

@test "toview -c mutation: a log cut inside a record" {
	real_logs
	mutate cut g1-b.log
	run -65 --separate-stderr toview -c g1-a.log x.log g1-c.log
	[ "$stderr" = "toview: x.log: record $R: cut short: the log ends inside a record" ]
	[ -z "$output" ]
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
