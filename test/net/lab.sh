#!/bin/bash
# lab.sh: a lab of K hosts, each a network namespace with one interface
# (eth0, 198.18.0.I/24) on a bridge that lives in a namespace of its own,
# so nothing touches the host's network.  Used by test/net/*.bats, by
# examples/lab.sh and by toburst --netns.
#
# Source it for the functions, or run it as a command (as root):
#
#	lab.sh up K [NAME]		make hosts 1..K; prints NAME
#	lab.sh exec NAME I CMD ...	run CMD on host I
#	lab.sh loss NAME I|all P	drop P% of the UDP host I receives
#	lab.sh cut NAME "I ..." "J ..."	partition: the sets stop hearing
#					each other
#	lab.sh heal NAME		undo every cut
#	lab.sh crash NAME I		SIGKILL everything on host I
#	lab.sh down NAME		remove it all; quiet if it is gone
#	lab.sh list			the labs that exist
#
# NAME is a prefix (default "to" and the pid) for the namespaces NAMEbr
# (the bridge br0, with veths v1..vK) and NAMEh1..NAMEhK (eth0, with a
# route for 224.0.0.0/4, so multicast works without a default route).
# Multicast snooping is off on the bridge: every host hears every group,
# whatever the state of IGMP.
#
# Faults are nftables rules in each host's table "lab": chain "loss"
# drops a share of incoming UDP at random (numgen), chain "cut" drops
# whatever comes from the other side of a partition.  Both act on input
# only, so a sender sees no error: the datagrams are lost on the way, as
# on a real network.  The kernel has no netem; for delay, duplication and
# reordering use the transport's own TO_FAULTS.
#
# The functions work on LAB (the prefix) and LAB_K (the number of hosts),
# which lab_up sets and exports (so a child such as toburst can use the
# lab); they return non-zero on failure and never exit.
# lab_down kills what still runs inside the lab's namespaces (all of it
# was started there by the lab's user), then deletes them.

LAB_NET=198.18.0	# the hosts' /24; only 198.18.0.0/15 may be used

# lab_host I: the namespace of host I.
lab_host() {
	echo "${LAB:?no lab}h$1"
}

# lab_addr I: the address of host I.
lab_addr() {
	echo "$LAB_NET.$1"
}

# lab_exec I CMD ...: run CMD on host I.
lab_exec() {
	local h
	h=$(lab_host "$1") || return
	shift
	ip netns exec "$h" "$@"
}

# lab_hosts: the numbers of the lab's hosts, one a line.
lab_hosts() {
	ip netns list | sed -n "s/^${LAB:?no lab}h\([0-9][0-9]*\)\( .*\)*\$/\1/p" |
	    sort -n
}

# lab_nft I: the nftables table of host I, fresh.
lab_nft() {
	lab_exec "$1" nft -f - <<-'EOF'
	table inet lab
	delete table inet lab
	table inet lab {
		chain cut {
			type filter hook input priority -10; policy accept;
		}
		chain loss {
			type filter hook input priority 0; policy accept;
		}
	}
	EOF
}

# lab_up K [NAME]: create hosts 1..K on a bridge; sets LAB and LAB_K.
# On failure removes what it made.
lab_up() {
	local k=$1 i br h

	export LAB=${2:-to$$} LAB_K=$k
	if ! [[ $k =~ ^[1-9][0-9]*$ ]] || ((k > 250)); then
		echo "lab: $k: expected 1 to 250 hosts" >&2
		return 64
	fi
	if ip netns list | grep -q "^${LAB}\(br\|h[0-9]\)"; then
		echo "lab: $LAB exists" >&2
		return 1
	fi
	br=${LAB}br
	{
		ip netns add "$br" &&
		ip -n "$br" link set lo up &&
		ip -n "$br" link add br0 type bridge mcast_snooping 0 &&
		ip -n "$br" link set br0 up
	} || { lab_down; return 1; }
	for ((i = 1; i <= k; i++)); do
		h=$(lab_host "$i")
		{
			ip netns add "$h" &&
			ip -n "$br" link add "v$i" type veth peer name eth0 \
			    netns "$h" &&
			ip -n "$br" link set "v$i" master br0 up &&
			ip -n "$h" link set lo up &&
			ip -n "$h" addr add "$(lab_addr "$i")/24" dev eth0 &&
			ip -n "$h" link set eth0 up &&
			ip -n "$h" route add 224.0.0.0/4 dev eth0 &&
			lab_nft "$i"
		} || { lab_down; return 1; }
	done
}

# lab_loss I|all P: drop P% (0 to 100) of the UDP datagrams host I receives;
# 0 drops none.
lab_loss() {
	local i p=$2 hosts

	if ! [[ $p =~ ^[0-9]+$ ]] || ((p > 100)); then
		echo "lab: loss $p: expected 0 to 100" >&2
		return 64
	fi
	if [ "$1" = all ]; then
		hosts=$(lab_hosts)
	else
		hosts=$1
	fi
	for i in $hosts; do
		lab_exec "$i" nft flush chain inet lab loss || return
		((p == 0)) && continue
		lab_exec "$i" nft add rule inet lab loss meta l4proto udp \
		    numgen random mod 100 "<" "$p" counter drop || return
	done
}

# lab_addrs "I ...": an nftables set of the hosts' addresses.
lab_addrs() {
	local i s=

	for i in $1; do
		s+="${s:+, }$(lab_addr "$i")"
	done
	echo "{ $s }"
}

# lab_cut "I ..." "J ...": hosts of the first set stop hearing those of
# the second and the other way round, multicast and unicast alike.
lab_cut() {
	local i a b

	a=$(lab_addrs "$1")
	b=$(lab_addrs "$2")
	for i in $1; do
		lab_exec "$i" nft add rule inet lab cut ip saddr "$b" \
		    counter drop || return
	done
	for i in $2; do
		lab_exec "$i" nft add rule inet lab cut ip saddr "$a" \
		    counter drop || return
	done
}

# lab_heal: every host hears every other again.
lab_heal() {
	local i

	for i in $(lab_hosts); do
		lab_exec "$i" nft flush chain inet lab cut || return
	done
}

# lab_signal I SIG: send SIG to everything that runs on host I.
lab_signal() {
	local pids

	pids=$(ip netns pids "$(lab_host "$1")") || return
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$pids" ] || kill -"$2" $pids
}

# lab_crash I: host I fails: SIGKILL for everything that runs on it.
lab_crash() {
	lab_signal "$1" KILL
}

# lab_down [NAME]: kill what runs in the lab, delete its namespaces.
# Idempotent: a lab that is partly or wholly gone is no error.
lab_down() {
	local ns pids t

	LAB=${1:-${LAB:?no lab}}
	for ns in $(ip netns list | sed -n "s/^\(${LAB}\(br\|h[0-9][0-9]*\)\)\( .*\)*\$/\1/p"); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086 # a list of pids
			kill $pids 2>/dev/null
			for ((t = 0; t < 20; t++)); do
				[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] &&
				    break
				sleep 0.05
			done
			pids=$(ip netns pids "$ns" 2>/dev/null)
			# shellcheck disable=SC2086
			[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
		fi
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# lab_main ARGS: the command line.
lab_main() {
	local cmd=${1:-}

	shift || :
	case $cmd in
	up)
		[ $# -ge 1 ] || lab_usage
		lab_up "$@" && echo "$LAB"
		;;
	exec)
		[ $# -ge 3 ] || lab_usage
		LAB=$1
		shift
		lab_exec "$@"
		;;
	loss)
		[ $# -eq 3 ] || lab_usage
		LAB=$1
		lab_loss "$2" "$3"
		;;
	cut)
		[ $# -eq 3 ] || lab_usage
		LAB=$1
		lab_cut "$2" "$3"
		;;
	heal)
		[ $# -eq 1 ] || lab_usage
		LAB=$1
		lab_heal
		;;
	crash)
		[ $# -eq 2 ] || lab_usage
		LAB=$1
		lab_crash "$2"
		;;
	down)
		[ $# -eq 1 ] || lab_usage
		lab_down "$1"
		;;
	list)
		ip netns list | sed -n 's/^\(.*\)br\( .*\)*$/\1/p'
		;;
	*)
		lab_usage
		;;
	esac
}

lab_usage() {
	cat >&2 <<-'EOF'
	usage: lab.sh up K [name]
	       lab.sh exec name I command [arg ...]
	       lab.sh loss name I|all percent
	       lab.sh cut name "I ..." "J ..."
	       lab.sh heal name
	       lab.sh crash name I
	       lab.sh down name
	       lab.sh list
	EOF
	exit 64
}

# Run as a command, not sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	lab_main "$@"
fi
