#!/bin/sh
# lab.sh: try the toolkit on three hosts before deploying it.  As root:
#
#	sh examples/lab.sh [lines]		IP multicast (udp)
#	TRANSPORT=udpu sh examples/lab.sh	unicast, for networks without
#						multicast
#
# The three hosts are network namespaces, each with its own network stack
# and an interface eth0 on one bridge, addressed 198.18.0.1 to .3 (a range
# set aside for tests, RFC 2544).  Hosts 2 and 3 each keep a replica of a
# log; host 1 writes to it, and keeps one too.  At the end the three logs
# are the same, and everything the script made is gone, whatever happens.
#
# Runs the binaries next to it (../cmd) if they are built, else those on
# PATH.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/../cmd/tocast" ]; then
	PATH="$here/../cmd:$PATH"
fi
n=${1:-10000}
t=${TRANSPORT:-udp}
ns=tolab$$			# namespaces: ${ns}br, ${ns}1 .. ${ns}3
dir=$(mktemp -d "${TMPDIR:-/tmp}/to-lab.XXXXXX")
pids=

if [ "$(id -u)" -ne 0 ]; then
	echo "lab: run as root: network namespaces need it" >&2
	exit 1
fi

# Stop what we started, then delete the namespaces (with them go the
# bridge, the veths and the addresses).
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	for h in br 1 2 3; do
		ip netns del "$ns$h" 2>/dev/null || :
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

fail() {
	echo "lab: $*" >&2
	for h in 1 2 3; do
		[ -s "$dir/err$h" ] && sed "s/^/host $h: /" "$dir/err$h" >&2
	done
	exit 1
}

# 1. A bridge, in a namespace of its own so the host's network is left
#    alone.  Multicast snooping off: every port hears every group.
ip netns add "${ns}br"
ip -n "${ns}br" link add br0 type bridge mcast_snooping 0
ip -n "${ns}br" link set br0 up

# 2. Three hosts, each with eth0 on the bridge, and a route for multicast
#    (there is no default route to carry it).
for h in 1 2 3; do
	ip netns add "$ns$h"
	ip -n "${ns}br" link add "v$h" type veth peer name eth0 netns "$ns$h"
	ip -n "${ns}br" link set "v$h" master br0 up
	ip -n "$ns$h" link set lo up
	ip -n "$ns$h" addr add "198.18.0.$h/24" dev eth0
	ip -n "$ns$h" link set eth0 up
	ip -n "$ns$h" route add 224.0.0.0/4 dev eth0
done

# 3. The transport: multicast on eth0 (address and port from the group
#    name), or unicast to the three hosts (each skips its own address).
case $t in
udp)	t=udp ;;
udpu)	t=udpu://198.18.0.1,198.18.0.2,198.18.0.3 ;;
*)	fail "TRANSPORT=$t: expected udp or udpu" ;;
esac

# 4. Hosts 2 and 3: a replica each, appending what the group delivers.
for h in 2 3; do
	ip netns exec "$ns$h" torecv -g lab -t "$t" -i eth0 -n "$n" -v \
	    >>"$dir/log$h" 2>"$dir/err$h" &
	pids="$pids $!"
done

# 5. Host 1: the writer.  It starts once all three are in the group (-w 3),
#    keeps its own replica (-r), and returns once every replica has all.
seq -f 'entry %.0f' "$n" |
    ip netns exec "${ns}1" tocast -g lab -t "$t" -i eth0 -w 3 -r -v \
    >>"$dir/log1" 2>"$dir/err1" || fail "tocast exited $?"
for p in $pids; do
	wait "$p" || fail "a replica exited $?"
done
pids=

# 6. Three hosts, one history.
cmp "$dir/log1" "$dir/log2" || fail "hosts 1 and 2 differ"
cmp "$dir/log1" "$dir/log3" || fail "hosts 1 and 3 differ"
grep "(3 members)" "$dir/err1" | head -n 1
for h in 1 2 3; do
	printf 'host %s (198.18.0.%s): %s entries, last "%s", md5 %s\n' \
	    "$h" "$h" "$(wc -l <"$dir/log$h")" "$(tail -n 1 "$dir/log$h")" \
	    "$(md5sum <"$dir/log$h" | cut -d ' ' -f 1)"
done
