#!/usr/bin/env bats
# Group keys (-k): a keyed group delivers as any other; members with
# different keys, or with and without one, never form one view, and say
# why.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

key() {
	local f="$BATS_TEST_TMPDIR/$1"

	(umask 077 && head -c "${2:-32}" /dev/urandom > "$f")
	echo "$f"
}

@test "a keyed group delivers 1000 lines in one order" {
	g=$(group)
	k=$(key group.key 48)
	seq 1000 > "$BATS_TEST_TMPDIR/in"
	start r1 torecv -g "$g" -k "$k" -v -n 1000
	export TO_KEYFILE=$k
	start r2 torecv -g "$g" -v -n 1000
	wait_for r1 "joined view"
	wait_for r2 "joined view"
	run -0 --separate-stderr timeout "$LIMIT" \
	    tocast -g "$g" -k "$k" -T 10 -w 3 -r -v "$BATS_TEST_TMPDIR/in"
	[[ "$stderr" == *"tocast: joined view "*"(3 members)"* ]]
	[[ "$stderr" != *"dropping datagrams"* ]]
	# -v counts: nothing of ours dropped (another group's stray
	# datagram to a port it reused would count as foreign)
	[[ "$stderr" =~ "tocast: datagrams: "[0-9]+" sent, "[0-9]+" received, dropped: 0 malformed, "[0-9]+" foreign, 0 unauthentic, 0 unsealed, 0 replayed" ]]
	wait_exit r1
	[ "$EXIT" -eq 0 ]
	wait_exit r2
	[ "$EXIT" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/in" "$(out r1)"
	cmp "$(out r1)" "$(out r2)"
}

@test "the group's records do not travel in the clear" {
	g=$(group)
	k=$(key group.key)
	start r1 torecv -g "$g" -k "$k" -v -n 1
	wait_for r1 "joined view"
	# a snooping non-member of the group, on the same rendezvous
	start spy torecv -g "$g" -v
	wait_for spy "joined view"
	run -0 --separate-stderr bash -c "echo attack-at-dawn |
	    timeout $LIMIT tocast -g $g -k $k -T 10 -w 2"
	wait_exit r1
	[ "$(cat "$(out r1)")" = attack-at-dawn ]
	kill -TERM "${PID[spy]}"
	wait_exit spy
	[ ! -s "$(out spy)" ]
	grep -q "sealed with a key (-k) we do not have" "$(err spy)"
}

@test "members with different keys never form one view, and say why" {
	g=$(group)
	k1=$(key one.key)
	k2=$(key two.key)
	start a torecv -g "$g" -k "$k1" -v -T 3
	start b torecv -g "$g" -k "$k2" -v -T 3
	wait_for a "dropping datagrams from [0-9a-f]\{16\}: not sealed with our key (-k)"
	wait_for b "dropping datagrams from [0-9a-f]\{16\}: not sealed with our key (-k)"
	wait_exit a
	[ "$EXIT" -eq 69 ]
	wait_exit b
	[ "$EXIT" -eq 69 ]
	# each was alone in every view it joined
	for m in a b; do
		grep "joined view" "$(err $m)" | grep -q "(1 member)"
		! grep "joined view" "$(err $m)" | grep -v "(1 member)"
		[ "$(grep -c "dropping datagrams" "$(err $m)")" -eq 1 ]
		grep -Eq "dropped: 0 malformed, 0 foreign, [1-9][0-9]* unauthentic" "$(err $m)"
	done
	# the warning names the other member
	ida=$(grep -o 'joined view [0-9]*: [0-9a-f]*' "$(err a)" | head -1 | cut -d' ' -f4)
	grep -q "dropping datagrams from $ida:" "$(err b)"
}

@test "a member with a key and one without never form one view" {
	g=$(group)
	k=$(key group.key)
	start a torecv -g "$g" -k "$k" -v -T 3
	start b torecv -g "$g" -v -T 3
	wait_for a "dropping datagrams from [0-9a-f]\{16\}: not sealed, and we have a key (-k)"
	wait_for b "dropping datagrams from [0-9a-f]\{16\}: sealed with a key (-k) we do not have"
	wait_exit a
	[ "$EXIT" -eq 69 ]
	wait_exit b
	[ "$EXIT" -eq 69 ]
	for m in a b; do
		! grep "joined view" "$(err $m)" | grep -v "(1 member)"
	done
	grep -Eq "[1-9][0-9]* unsealed" "$(err a)"
	grep -Eq "[1-9][0-9]* unauthentic" "$(err b)"
}

@test "the warning comes without -v too, once" {
	g=$(group)
	k=$(key group.key)
	start a torecv -g "$g" -k "$k" -T 2
	start b torecv -g "$g" -T 2
	wait_exit a
	wait_exit b
	[ "$(cat "$(err a)")" = "$(printf '%s\n%s' \
	    "$(grep 'dropping datagrams' "$(err a)")" \
	    "torecv: timed out waiting for 1 message (have 0)")" ]
	[ "$(grep -c 'dropping datagrams' "$(err a)")" -eq 1 ]
}
