#!/usr/bin/env bats
# Members on hosts of their own: network namespaces on a bridge
# (lab.sh), so every datagram crosses a real network stack with its own
# addresses, ARP, MTU and multicast membership.  Over udp (IP multicast)
# and udpu (unicast to a peer list), with loss (nftables), a crashed
# host, a partition that heals, and messages from 1 byte to 16 MiB.
#
# Needs root (namespaces) and nft; skipped otherwise.  Every test makes
# its own lab and teardown removes it, also when the test fails.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154,SC2034

load ../cli/helper
load lab.sh

# The helper's teardown kills what start started; ours then removes the lab.
eval "cli_$(declare -f teardown)"

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	command -v nft >/dev/null || skip "needs nft (nftables)"
	LIMIT=120	# seconds any member may run (helper.bash)
	G=$(group)
	LAB_NAME="to$$t$BATS_TEST_NUMBER"
}

teardown() {
	cli_teardown
	[ -z "${LAB_NAME:-}" ] || lab_down "$LAB_NAME"
}

# on I NAME CMD [ARG ...]: start NAME on host I.
on() {
	local i=$1 name=$2

	shift 2
	start "$name" ip netns exec "$(lab_host "$i")" "$@"
}

# on_sh I NAME SCRIPT: start a pipeline on host I.
on_sh() {
	start "$2" ip netns exec "$(lab_host "$1")" bash -c "$3"
}

# wait_count NAME PATTERN N [SECONDS]: until N lines of NAME.err match.
wait_count() {
	local file="$BATS_TEST_TMPDIR/$1.err" end=$((SECONDS + ${4:-30}))

	until (($(grep -c -e "$2" "$file" 2>/dev/null) >= $3)); do
		if ((SECONDS >= end)); then
			echo "no $3 '$2' from $1 within ${4:-30}s; its stderr:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.05
	done
}

# views NAME N: how many views of N members NAME joined so far.
views() {
	grep -c "($2 members)" "$(err "$1")" || :
}

# wait_lines NAME N [SECONDS]: until NAME.out has N lines.
wait_lines() {
	local file="$BATS_TEST_TMPDIR/$1.out" end=$((SECONDS + ${3:-30}))

	until (($(wc -l <"$file") >= $2)); do
		if ((SECONDS >= end)); then
			echo "$1 wrote $(wc -l <"$file") of $2 lines" >&2
			return 1
		fi
		sleep 0.05
	done
}

# ok NAME [SECONDS]: NAME exits 0.
ok() {
	wait_exit "$1" "${2:-60}"
	if ((EXIT != 0)); then
		echo "$1 exited $EXIT; its stderr:" >&2
		cat "$(err "$1")" >&2
		return 1
	fi
}

# same FILE FILE: byte for byte.
same() {
	cmp "$1" "$2" || {
		echo "$1 and $2 differ" >&2
		return 1
	}
}

# prefix FILE FILE: the first is the start of the second (a member that
# left earlier delivered less, but nothing else and in the same order).
prefix() {
	cmp -n "$(stat -c %s "$1")" "$1" "$2" || {
		echo "$1 is not a prefix of $2" >&2
		return 1
	}
}

# lacks FILE PATTERN: no line of FILE matches.
lacks() {
	if grep -q -e "$2" "$1"; then
		echo "$1 has '$2'" >&2
		return 1
	fi
}

# mkrec FILE SIZE ...: NUL-terminated records of random bytes but NUL.
mkrec() {
	local f=$1 n

	shift
	: >"$f"
	for n in "$@"; do
		head -c "$n" /dev/urandom | tr '\0' '\1' >>"$f"
		printf '\0' >>"$f"
	done
}

# spec KIND I [second]: the transport for a member on host I.  For udpu,
# host 1 names no one (it is first) and the others name host 1; a second
# member on a host takes port 5999 and names the first one there.
spec() {
	if [ "$1" = udp ]; then
		echo udp
	elif [ -n "${3:-}" ]; then
		echo "udpu://$(lab_addr "$2")?port=5999"
	elif [ "$2" -eq 1 ]; then
		echo udpu
	else
		echo "udpu://$(lab_addr 1)"
	fi
}

# snmp I FIELD: a counter of /proc/net/snmp's Ip line on host I.
# shellcheck disable=SC2016 # awk's $
snmp() {
	lab_exec "$1" awk -v f="$2" '$1 == "Ip:" {
		if (!h) { for (i = 2; i <= NF; i++) col[$i] = i; h = 1 }
		else print $col[f] }' /proc/net/snmp
}

@test "udp: 3 hosts deliver 1,000,000 lines in the same order" {
	local n=1000000 i

	lab_up 3 "$LAB_NAME"
	seq "$n" >"$BATS_TEST_TMPDIR/in"
	for i in 2 3; do
		on "$i" r$i torecv -g "$G" -t udp -i eth0 -n "$n" -v
		wait_for r$i "joined view"
	done
	on 1 c tocast -g "$G" -t udp -i eth0 -w 3 -r -v "$BATS_TEST_TMPDIR/in"
	ok c 110
	ok r2
	ok r3
	same "$BATS_TEST_TMPDIR/in" "$(out r2)"
	same "$BATS_TEST_TMPDIR/in" "$(out r3)"
	same "$BATS_TEST_TMPDIR/in" "$(out c)"
}

@test "udp: 5 hosts, two senders: every member's log agrees" {
	local n=20000 i

	lab_up 5 "$LAB_NAME"
	seq -f 'a %.0f' "$n" >"$BATS_TEST_TMPDIR/a"
	seq -f 'b %.0f' "$n" >"$BATS_TEST_TMPDIR/b"
	for i in 3 4 5; do
		on "$i" r$i torecv -g "$G" -t udp -n $((2 * n)) -v
	done
	on 1 a tocast -g "$G" -t udp -w 5 -r "$BATS_TEST_TMPDIR/a"
	on 2 b tocast -g "$G" -t udp -w 5 -r "$BATS_TEST_TMPDIR/b"
	for i in a b r3 r4 r5; do
		ok $i
	done
	same "$(out r3)" "$(out r4)"
	same "$(out r3)" "$(out r5)"
	prefix "$(out a)" "$(out r3)"
	prefix "$(out b)" "$(out r3)"
	grep '^a' "$(out r3)" | same "$BATS_TEST_TMPDIR/a" -
	grep '^b' "$(out r3)" | same "$BATS_TEST_TMPDIR/b" -
}

# loss P N: 3 hosts, P% of UDP lost on every host, one sender of N lines.
loss() {
	local p=$1 n=$2 t=$3 i

	lab_up 3 "$LAB_NAME"
	lab_loss all "$p"
	seq "$n" >"$BATS_TEST_TMPDIR/in"
	for i in 2 3; do
		on "$i" r$i torecv -g "$G" -t "$t" -n "$n" -v
	done
	on 1 c tocast -g "$G" -t "$t" -w 3 -r -v "$BATS_TEST_TMPDIR/in"
	ok c 110
	ok r2
	ok r3
	same "$BATS_TEST_TMPDIR/in" "$(out r2)"
	same "$BATS_TEST_TMPDIR/in" "$(out r3)"
	same "$BATS_TEST_TMPDIR/in" "$(out c)"
	# the rule did drop
	run lab_exec 2 nft list chain inet lab loss
	[[ "$output" =~ counter\ packets\ [1-9] ]]
}

@test "udp: 5% loss on every host" {
	loss 5 100000 udp
}

@test "udp: 20% loss on every host" {
	loss 20 50000 udp
}

@test "udp: a host killed mid-burst: the survivors agree" {
	local n=100000 i n3 n4

	lab_up 4 "$LAB_NAME"
	seq -f 'a %.0f' "$n" >"$BATS_TEST_TMPDIR/a"
	for i in 3 4; do
		on "$i" r$i torecv -g "$G" -t udp -v
	done
	on_sh 2 b "seq -f 'b %.0f' 100000000 | tocast -g $G -t udp -w 4 -q"
	# a sends a datagram a line, so that it is still sending at the crash
	# (packed, its 100,000 lines are out before r3 has 20,000)
	on 1 a tocast -g "$G" -t udp -w 4 -r -v --pack off \
	    "$BATS_TEST_TMPDIR/a"
	wait_lines r3 20000
	n3=$(views r3 3)
	n4=$(views r4 3)
	lab_crash 2
	wait_count r3 "(3 members)" $((n3 + 1))
	wait_count r4 "(3 members)" $((n4 + 1))
	ok a 100
	# everything is delivered; the receivers stop on SIGTERM (sent to
	# torecv itself: timeout(1) would send it twice, the second fatal)
	lab_signal 3 TERM
	lab_signal 4 TERM
	ok r3
	ok r4
	same "$(out r3)" "$(out r4)"
	prefix "$(out a)" "$(out r3)"
	grep '^a' "$(out r3)" | same "$BATS_TEST_TMPDIR/a" -
	grep -q '^b' "$(out r3)"
}

# partition KIND: 5 hosts over udp or udpu; 1 2 against 3 4 5, traffic
# on both sides, heal, and one view again.
partition() {
	local i seen=()

	lab_up 5 "$LAB_NAME"
	for i in 1 2 3 4 5; do
		on "$i" r$i torecv -g "$G" -t "$(spec "$1" $i)" -v
	done
	for i in 1 2 3 4 5; do
		wait_for r$i "(5 members)"
		seen[i]=$(views r$i $((i < 3 ? 2 : 3)))
	done
	lab_cut "1 2" "3 4 5"
	for i in 1 2; do
		wait_count r$i "(2 members)" $((seen[i] + 1))
	done
	for i in 3 4 5; do
		wait_count r$i "(3 members)" $((seen[i] + 1))
	done
	# each side goes on by itself
	on_sh 1 p1 "seq -f 'p1 %.0f' 1000 |
	    tocast -g $G -t '$(spec "$1" 1 2)' -w 3"
	on_sh 3 p3 "seq -f 'p3 %.0f' 1000 |
	    tocast -g $G -t '$(spec "$1" 3 2)' -w 4"
	ok p1
	ok p3
	lab_heal
	for i in 1 2 3 4 5; do
		wait_count r$i "(5 members)" 2 40
	done
	on_sh 4 after "seq -f 'after %.0f' 1000 |
	    tocast -g $G -t '$(spec "$1" 4 2)' -w 6"
	ok after
	for i in 1 2 3 4 5; do
		grep '^after' "$(out r$i)" >"$BATS_TEST_TMPDIR/after$i"
		same "$BATS_TEST_TMPDIR/after1" "$BATS_TEST_TMPDIR/after$i"
	done
	seq -f 'after %.0f' 1000 | same - "$BATS_TEST_TMPDIR/after1"
	# what a side delivered while cut off stays on that side
	for i in 1 2; do
		grep '^p1' "$(out r$i)" >"$BATS_TEST_TMPDIR/p$i"
		seq -f 'p1 %.0f' 1000 | same - "$BATS_TEST_TMPDIR/p$i"
		lacks "$(out r$i)" '^p3'
	done
	for i in 3 4 5; do
		grep '^p3' "$(out r$i)" >"$BATS_TEST_TMPDIR/p$i"
		seq -f 'p3 %.0f' 1000 | same - "$BATS_TEST_TMPDIR/p$i"
		lacks "$(out r$i)" '^p1'
	done
}

@test "udp: a partition of 2 against 3 hosts heals and merges" {
	partition udp
}

# sizes KIND: records of 1 byte, 1400, 64 KiB and 16 MiB from host 1 to
# hosts 2 to 5, over udp or udpu.
sizes() {
	local i

	lab_up 5 "$LAB_NAME"
	mkrec "$BATS_TEST_TMPDIR/in" 1 1400 65536 16777216
	for i in 2 3 4 5; do
		on "$i" r$i torecv -0 -g "$G" -t "$(spec "$1" $i)" -n 4 -v
	done
	on 1 c tocast -0 -g "$G" -t "$(spec "$1" 1)" -w 5 -v \
	    "$BATS_TEST_TMPDIR/in"
	ok c
	for i in 2 3 4 5; do
		ok r$i
		same "$BATS_TEST_TMPDIR/in" "$(out r$i)"
	done
}

@test "udp: 1 byte, 1400 bytes, 64 KiB and 16 MiB cross 5 hosts" {
	sizes udp
}

@test "udp: IP never fragments, unless mtu= asks it to; ttl= sets the TTL" {
	local i

	lab_up 2 "$LAB_NAME"
	for i in 1 2; do
		lab_exec "$i" ip link set eth0 mtu 1400
	done
	mkrec "$BATS_TEST_TMPDIR/in" 65536 1400 1372 1373
	# without -i: the size comes from the route's MTU, 1400 - 28
	on 2 r torecv -0 -g "$G" -t udp -n 4
	on 1 c tocast -0 -g "$G" -t udp -w 2 "$BATS_TEST_TMPDIR/in"
	ok c
	ok r
	same "$BATS_TEST_TMPDIR/in" "$(out r)"
	[ "$(snmp 1 FragCreates)" -eq 0 ]
	[ "$(snmp 2 ReasmReqds)" -eq 0 ]

	# mtu=4000 on a 1400 link: IP fragments, as asked
	lab_exec 2 nft add rule inet lab loss ip ttl 4 counter
	on 2 r2 torecv -0 -g "$G" -t 'udp://?mtu=4000' -n 4
	on 1 c2 tocast -0 -g "$G" -t 'udp://?mtu=4000&ttl=4' -w 2 \
	    "$BATS_TEST_TMPDIR/in"
	ok c2
	ok r2
	same "$BATS_TEST_TMPDIR/in" "$(out r2)"
	[ "$(snmp 1 FragCreates)" -gt 0 ]
	run lab_exec 2 nft list chain inet lab loss
	[[ "$output" =~ ip\ ttl\ 4\ counter\ packets\ [1-9] ]]
}

@test "udp on a 1050-byte link: datagrams are 1092 bytes and IP fragments them" {
	local i

	lab_up 2 "$LAB_NAME"
	for i in 1 2; do
		lab_exec "$i" ip link set eth0 mtu 1050
	done
	mkrec "$BATS_TEST_TMPDIR/in" 65536 1400 1 1064
	# plain udp://: the route's 1050 - 28 is below what the protocols
	# need, so the members take 1092 and IP fragments (to(7))
	on 2 r torecv -0 -g "$G" -t udp -n 4
	on 1 c tocast -0 -g "$G" -t udp -w 2 "$BATS_TEST_TMPDIR/in"
	ok c
	ok r
	same "$BATS_TEST_TMPDIR/in" "$(out r)"
	[ "$(snmp 1 FragCreates)" -gt 0 ]
}

@test "udpu: naming only a member on its own host, datagrams fit the link" {
	lab_up 2 "$LAB_NAME"
	mkrec "$BATS_TEST_TMPDIR/in" 8000 3
	# r2 first: rank 0, the sequencer, across the bridge from host 1
	on 2 r2 torecv -0 -g "$G" -t "udpu://$(lab_addr 1)" -n 2 -v
	wait_for r2 "(1 member)"
	on 1 r1 torecv -0 -g "$G" -t udpu -n 2
	wait_for r2 "(2 members)"
	# its one peer is on its own host (a route through lo, MTU 65536):
	# its datagrams must still fit host 1's eth0 (1500) to reach r2
	on 1 c tocast -0 -g "$G" -t "udpu://$(lab_addr 1)?port=5999" -w 3 \
	    --pack off "$BATS_TEST_TMPDIR/in"
	ok c 30
	ok r1
	ok r2
	same "$BATS_TEST_TMPDIR/in" "$(out r1)"
	same "$BATS_TEST_TMPDIR/in" "$(out r2)"
	[ "$(snmp 2 ReasmReqds)" -eq 0 ]
}

@test "udp, udpu: -v reports the socket buffers and a kernel limit on them" {
	local max ask t

	lab_up 1 "$LAB_NAME"
	for t in udp udpu; do
		run -69 --separate-stderr lab_exec 1 torecv -g "$G" -t $t \
		    -T 0.2 -v
		[[ "$stderr" == *"torecv: receive buffer 4194304 bytes (asked 4194304)"* ]]
		[[ "$stderr" == *"torecv: send buffer 4194304 bytes (asked 4194304)"* ]]
	done
	# past net.core.rmem_max without root: clamped, and told
	max=$(lab_exec 1 cat /proc/sys/net/core/rmem_max)
	ask=$((max * 2))
	run -69 --separate-stderr lab_exec 1 setpriv --reuid=65534 \
	    --regid=65534 --clear-groups torecv -g "$G" \
	    -t "udp://?buf=$ask" -T 0.2 -v
	[[ "$stderr" == *"torecv: receive buffer $max bytes (asked $ask)"* ]]
}

@test "udpu: members that name one other member each, 20% loss" {
	local n=50000 i

	lab_up 3 "$LAB_NAME"
	lab_loss all 20
	seq "$n" >"$BATS_TEST_TMPDIR/in"
	on 1 r1 torecv -g "$G" -t udpu -n "$n" -v
	on 2 r2 torecv -g "$G" -t udpu://198.18.0.1 -n "$n" -v
	# the sender knows only host 2, and learns of host 1 from it
	on 3 c tocast -g "$G" -t udpu://198.18.0.2 -w 3 -r -v \
	    "$BATS_TEST_TMPDIR/in"
	ok c 110
	ok r1
	ok r2
	same "$BATS_TEST_TMPDIR/in" "$(out r1)"
	same "$BATS_TEST_TMPDIR/in" "$(out r2)"
	same "$BATS_TEST_TMPDIR/in" "$(out c)"
}

@test "udpu: 1 byte, 1400 bytes, 64 KiB and 16 MiB cross 5 hosts" {
	sizes udpu
}

@test "udpu: a partition of 2 against 3 hosts heals and merges" {
	partition udpu
}

@test "examples/lab.sh: a log replicated on 3 hosts, over udp and udpu" {
	local ex="$BATS_TEST_DIRNAME/../../examples/lab.sh" before

	before=$(ip netns list | grep -c '^tolab' || :)
	run -0 timeout 60 sh "$ex" 2000
	[[ "$output" == *"host 3 (198.18.0.3): 2000 entries, last \"entry 2000\""* ]]
	TRANSPORT=udpu run -0 timeout 60 sh "$ex" 2000
	[[ "$output" == *"host 2 (198.18.0.2): 2000 entries, last \"entry 2000\""* ]]
	# and it leaves no namespace behind
	[ "$(ip netns list | grep -c '^tolab' || :)" -eq "$before" ]
}
