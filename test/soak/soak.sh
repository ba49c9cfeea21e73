#!/bin/bash
# soak.sh SEED DIR: one fault soak run over real processes in network
# namespaces (test/net/lab.sh), judged by check.py.  Needs root.
#
# A torecv -F on each of 5 hosts and a tocast -F -r on 2 to 4 of them, fed
# unique records by soakaux.py feed.  For DURATION seconds the seeded
# schedule of soakaux.py plan runs: SIGKILL of a receiver, a sender or the
# rank 0 member, restarts (new incarnations), SIGSTOP for 1.5-8 s (past the
# 1000 ms suspect time) then SIGCONT, 2|3 partitions that heal, 10-30% loss
# on 1-2 hosts, CPU starvation of a host.  Then every fault is undone,
# every live sender casts a marker every 0.5 s for MARKS seconds, which every
# live member must deliver within 30 s; the senders' inputs end and each must
# exit 0 within 30 s; the receivers get SIGTERM and must exit within 2 s.
#
# DIR gets a log per member incarnation (hH-rK.log, hH-cK.log, with stderr
# in .err and a sender's input in .in), schedule.jsonl (every fault and
# process event, timestamped) and check.py's verdict (check.txt).
#
# Starvation uses the cgroup v1 cpu controller (cpu.cfs_quota_us) when it is
# mounted at /sys/fs/cgroup/cpu, else cgroup v2 cpu.max under
# /sys/fs/cgroup; without either it is skipped (and logged so).
#
# Environment: DURATION (seconds of faults, default 45 + SEED % 46),
# MARKS (seconds of markers, 5), PROTO, PACK, TRANSPORT, HOSTS, SENDERS,
# FAULTS (comma list of kill,stop,cut,loss,starve), RATE (mean seconds
# between faults, 2.5): see soakaux.py plan.  PLANFILE: a hand-written
# schedule that replaces the seed's faults, lines "T VERB ID ARGS" as
# soakaux.py plan prints them, and "config KEY VALUE" lines that override
# the seed's (senders 1, hosts 2, proto totem, ...), to shrink a failure.
# BIN: where the tools are.
#
# Exit: 0 the checker passed, 1 it found violations, 2 the soak itself
# failed (lab, start-up).

set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=../net/lab.sh
. "$top/test/net/lab.sh"
BIN=${BIN:-$top/cmd}
AUX="python3 $here/soakaux.py"

[ $# -eq 2 ] || { echo "usage: soak.sh seed dir" >&2; exit 64; }
SEED=$1
OUT=$2
[[ $SEED =~ ^[0-9]+$ ]] || { echo "soak: seed: $SEED" >&2; exit 64; }
DURATION=${DURATION:-$((45 + SEED % 46))}
MARKS=${MARKS:-5}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*.log "$OUT"/*.err "$OUT"/*.in "$OUT"/*.fifo "$OUT"/*.jsonl \
    "$OUT"/markers "$OUT"/marks-stop "$OUT"/end "$OUT"/live "$OUT"/plan \
    "$OUT"/check.txt "$OUT"/verdict.json "$OUT"/watch-ready

LAB_NAME=sk$$
G=soak$SEED
SPORT=6001		# udpu: the port of a host's second member (tocast)

declare -A PID=()	# "H r|c" -> pid of the live incarnation
declare -A INC=()	# "H r|c" -> its incarnation number
declare -A LOGOF=()	# pid -> log name
declare -A FEED=()	# pid of a tocast -> pid of its feeder
declare -A HWM=()	# pid -> VmHWM in kB, last seen
declare -A DEAD=()	# pid -> 1 once reaped
declare -A KILLED=()	# fault id -> "H r|c" it killed
declare -A STOPPED=()	# fault id -> pid it stopped
declare -A STARVED=()	# host -> its cgroup directory
ALL=()			# every pid started, members, feeders, watcher
CG=

now() {
	echo "${EPOCHREALTIME}"
}

# ms SECONDS: whole milliseconds of a decimal number of seconds.
ms() {
	local i=${1%%.*} f=
	[[ $1 == *.* ]] && f=${1#*.}
	f=${f}000
	echo $((10#${i:-0} * 1000 + 10#${f:0:3}))
}

# ev JSON-FIELDS: one line of the schedule log.
ev() {
	printf '{"t": %s, %s}\n' "$EPOCHREALTIME" "$1" >>"$OUT/schedule.jsonl"
}

say() {
	printf 'soak %s: %s\n' "$SEED" "$*" >&2
}

# hwm PID: note the member's VmHWM.
hwm() {
	local k v
	while read -r k v _; do
		[ "$k" = VmHWM: ] && HWM[$1]=$v && return
	done 2>/dev/null <"/proc/$1/status"
}

# zombie PID: it has exited and waits to be reaped (or is gone).
zombie() {
	local s
	[ -r "/proc/$1/stat" ] || return 0
	read -r s <"/proc/$1/stat" 2>/dev/null || return 0
	s=${s##*) }
	[ "${s%% *}" = Z ]
}

# reap PID WHY: wait for it, log its exit.
reap() {
	local p=$1 st
	[ -n "${DEAD[$p]:-}" ] && return
	wait "$p" 2>/dev/null
	st=$?
	DEAD[$p]=1
	ev "\"ev\": \"exit\", \"pid\": $p, \"log\": \"${LOGOF[$p]:-}\", \"status\": $st, \"why\": \"$2\", \"vmhwm_kb\": ${HWM[$p]:-0}"
	if [ -n "${FEED[$p]:-}" ]; then
		kill "${FEED[$p]}" 2>/dev/null
		wait "${FEED[$p]}" 2>/dev/null
	fi
}

# transport H ROLE: the -t (and -i) arguments of a member.
transport() {
	local i l=
	if [ "$TRANSPORT" = udp ]; then
		echo "-t udp -i eth0"
		return
	fi
	for ((i = 1; i <= HOSTS; i++)); do
		l+="${l:+,}$(lab_addr "$i")"
	done
	for i in ${SENDERS//,/ }; do
		l+=",$(lab_addr "$i"):$SPORT"
	done
	if [ "$2" = c ]; then
		echo "-t udpu://$l?port=$SPORT"
	else
		echo "-t udpu://$l"
	fi
}

# start H ROLE: a new incarnation of host H's receiver (r) or sender (c).
start() {
	local h=$1 r=$2 k ns name p f
	k=$((${INC[$h $r]:-0} + 1))
	INC[$h $r]=$k
	ns=$(lab_host "$h")
	name=h$h-$r$k
	# shellcheck disable=SC2046 # transport's words
	if [ "$r" = r ]; then
		ip netns exec "$ns" "$RECV" -g "$G" $(transport "$h" r) \
		    -p "$PROTO" -F -v >"$OUT/$name.log" 2>"$OUT/$name.err" &
		p=$!
	else
		mkfifo "$OUT/$name.fifo"
		$AUX feed "$OUT" "$h" "$k" "$SEED" >"$OUT/$name.fifo" &
		f=$!
		ALL+=("$f")
		ip netns exec "$ns" "$CAST" -g "$G" $(transport "$h" c) \
		    -p "$PROTO" --pack="$PACK" -F -r -v <"$OUT/$name.fifo" \
		    >"$OUT/$name.log" 2>"$OUT/$name.err" &
		p=$!
		FEED[$p]=$f
	fi
	ALL+=("$p")
	PID[$h $r]=$p
	LOGOF[$p]=$name.log
	ev "\"ev\": \"start\", \"host\": $h, \"role\": \"$r\", \"inc\": $k, \"pid\": $p, \"log\": \"$name.log\"${f:+, \"feeder\": $f}"
}

# joined H ROLE SECONDS: wait until the member says it joined a view.
joined() {
	local p=${PID[$1 $2]} end=$((SECONDS + $3))
	until grep -q "joined view" "$OUT/${LOGOF[$p]%.log}.err" 2>/dev/null; do
		((SECONDS < end)) || return 1
		zombie "$p" && return 1
		sleep 0.05
	done
}

# target T: "H ROLE" of a live member: hHr, hHc or rank0.
target() {
	local t=$1 h r
	if [ "$t" = rank0 ]; then
		livefile
		t=$($AUX rank0 "$OUT") || t="1 r"
		h=${t% *}
		r=${t#* }
	else
		h=${t#h}
		h=${h%?}
		r=${t: -1}
	fi
	[ -n "${PID[$h $r]:-}" ] || return 1
	echo "$h $r"
}

# livefile: DIR/live, the logs of the live incarnations.
livefile() {
	local k
	: >"$OUT/live.tmp"
	for k in "${!PID[@]}"; do
		echo "${LOGOF[${PID[$k]}]}" >>"$OUT/live.tmp"
	done
	mv "$OUT/live.tmp" "$OUT/live"
}

cg_init() {
	if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		CG=v1
	elif [ -f /sys/fs/cgroup/cgroup.controllers ] &&
	    grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
		CG=v2
		grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
		    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control ||
		    CG=
	fi
}

# starve H PCT: the live members of host H get PCT% of one CPU.
starve() {
	local h=$1 pct=$2 d k pids=
	for k in "$h r" "$h c"; do
		[ -n "${PID[$k]:-}" ] && pids+=" ${PID[$k]}"
	done
	case $CG in
	v1)
		d=/sys/fs/cgroup/cpu/$LAB_NAME-h$h
		mkdir -p "$d" &&
		echo 100000 >"$d/cpu.cfs_period_us" &&
		echo $((pct * 1000)) >"$d/cpu.cfs_quota_us" || return
		;;
	v2)
		d=/sys/fs/cgroup/$LAB_NAME-h$h
		mkdir -p "$d" && echo "$((pct * 1000)) 100000" >"$d/cpu.max" ||
		    return
		;;
	*)
		ev "\"ev\": \"skip\", \"what\": \"starve: no cgroup cpu controller\""
		return
		;;
	esac
	STARVED[$h]=$d
	for k in $pids; do
		echo "$k" >"$d/cgroup.procs" 2>/dev/null
	done
	ev "\"ev\": \"starve\", \"host\": $h, \"pct\": $pct, \"cgroup\": \"$CG\", \"pids\": [$(echo $pids | tr ' ' ,)]"
}

unstarve() {
	local h=$1 d=${STARVED[$1]:-} p root
	[ -n "$d" ] || return 0
	root=${d%/*}
	while read -r p; do
		echo "$p" >"$root/cgroup.procs" 2>/dev/null
	done <"$d/cgroup.procs"
	rmdir "$d" 2>/dev/null
	unset "STARVED[$h]"
	ev "\"ev\": \"unstarve\", \"host\": $h"
}

# act VERB ID ARGS: one event of the plan.
act() {
	local v=$1 id=$2 hr p
	shift 2
	case $v in
	kill)
		hr=$(target "$1") || { ev "\"ev\": \"skip\", \"id\": \"$id\", \"what\": \"kill $1: not running\""; return; }
		p=${PID[$hr]}
		kill -KILL "$p"
		ev "\"ev\": \"kill\", \"id\": \"$id\", \"target\": \"$1\", \"host\": ${hr% *}, \"role\": \"${hr#* }\", \"pid\": $p, \"log\": \"${LOGOF[$p]}\""
		reap "$p" killed
		unset "PID[$hr]"
		KILLED[$id]=$hr
		;;
	restart)
		hr=${KILLED[$id]:-}
		[ -n "$hr" ] && [ -z "${PID[$hr]:-}" ] || return
		start $hr
		;;
	stop)
		hr=$(target "$1") || { ev "\"ev\": \"skip\", \"id\": \"$id\", \"what\": \"stop $1: not running\""; return; }
		p=${PID[$hr]}
		kill -STOP "$p"
		STOPPED[$id]=$p
		ev "\"ev\": \"stop\", \"id\": \"$id\", \"target\": \"$1\", \"host\": ${hr% *}, \"role\": \"${hr#* }\", \"pid\": $p, \"log\": \"${LOGOF[$p]}\""
		;;
	cont)
		p=${STOPPED[$id]:-}
		[ -n "$p" ] || return
		unset "STOPPED[$id]"
		[ -z "${DEAD[$p]:-}" ] || return
		kill -CONT "$p"
		ev "\"ev\": \"cont\", \"id\": \"$id\", \"pid\": $p, \"log\": \"${LOGOF[$p]}\""
		;;
	cut)
		lab_cut "${1//,/ }" "${2//,/ }"
		ev "\"ev\": \"cut\", \"id\": \"$id\", \"a\": [$1], \"b\": [$2]"
		;;
	heal)
		lab_heal
		ev "\"ev\": \"heal\", \"id\": \"$id\""
		;;
	loss)
		lab_loss "$1" "$2"
		ev "\"ev\": \"loss\", \"id\": \"$id\", \"host\": $1, \"pct\": $2"
		;;
	starve)
		starve "$1" "$2"
		;;
	unstarve)
		unstarve "$1"
		;;
	esac
}

# poll: note memory, notice members that exit on their own.
poll() {
	local k p
	for k in "${!PID[@]}"; do
		p=${PID[$k]}
		hwm "$p"
		if zombie "$p"; then
			reap "$p" unexpected
			unset "PID[$k]"
		fi
	done
}

cleanup() {
	local p h
	trap - EXIT INT TERM
	for h in "${!STARVED[@]}"; do
		unstarve "$h"
	done
	for p in "${ALL[@]}"; do
		[ -n "${DEAD[$p]:-}" ] && continue
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${ALL[@]}"; do
		[ -n "${DEAD[$p]:-}" ] || wait "$p" 2>/dev/null
	done
	lab_down "$LAB_NAME"
	rm -f "$OUT"/*.fifo
	rm -rf "${OUT:?}/bin"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

command -v nft >/dev/null || { say "needs nft"; exit 2; }
[ "$(id -u)" -eq 0 ] || { say "needs root"; exit 2; }

# The plan: configuration, then the faults.
if [ -n "${PLANFILE:-}" ]; then
	$AUX plan "$SEED" "$DURATION" >"$OUT/plan.seed" || exit 2
	{
		grep '^config' "$PLANFILE"
		grep '^config' "$OUT/plan.seed"
		grep -v -e '^config' -e '^#' -e '^[[:space:]]*$' "$PLANFILE"
	} >"$OUT/plan" || exit 2
	rm -f "$OUT/plan.seed"
else
	$AUX plan "$SEED" "$DURATION" >"$OUT/plan" || exit 2
fi
conf() {
	sed -n "s/^config $1 //p" "$OUT/plan" | head -1
}
PROTO=$(conf proto)
PACK=$(conf pack)
TRANSPORT=$(conf transport)
HOSTS=$(conf hosts)
SENDERS=$(conf senders)
cg_init
ev "\"ev\": \"config\", \"planfile\": \"${PLANFILE:-}\", \"seed\": $SEED, \"duration\": $DURATION, \"proto\": \"$PROTO\", \"pack\": \"$PACK\", \"transport\": \"$TRANSPORT\", \"hosts\": $HOSTS, \"senders\": [$SENDERS], \"cgroup\": \"$CG\", \"lab\": \"$LAB_NAME\", \"bin\": \"$BIN\""
say "$PROTO --pack=$PACK $TRANSPORT, $HOSTS hosts, senders on $SENDERS, ${DURATION}s of faults"

# The members run as copies of the tools named soak-cast and soak-recv, so
# that whatever else runs on the machine and signals processes by the name
# tocast or torecv (seen: a TERM to every tocast of the machine, mid-run)
# leaves this run alone.
mkdir -p "$OUT/bin" &&
cp "$BIN/tocast" "$OUT/bin/soak-cast" &&
cp "$BIN/torecv" "$OUT/bin/soak-recv" || exit 2
CAST=$OUT/bin/soak-cast
RECV=$OUT/bin/soak-recv

lab_up "$HOSTS" "$LAB_NAME" || { say "lab up failed"; exit 2; }

for ((i = 1; i <= HOSTS; i++)); do
	start "$i" r
	joined "$i" r 15 || { say "h$i receiver did not join"; exit 2; }
done
for i in ${SENDERS//,/ }; do
	start "$i" c
	joined "$i" c 15 || { say "h$i sender did not join"; exit 2; }
done
sleep 2

# The faults.
TF=$EPOCHREALTIME
ev "\"ev\": \"faults-start\""
mapfile -t PLAN < <(grep -v '^config' "$OUT/plan")
n=0
last_poll=0
while :; do
	el=$(( (${EPOCHREALTIME/./} - ${TF/./}) / 1000 ))	# ms
	while ((n < ${#PLAN[@]})); do
		read -r at verb id a b <<<"${PLAN[n]}"
		at=$(ms "$at")
		((at <= el)) || break
		# shellcheck disable=SC2086
		act "$verb" "$id" $a $b
		n=$((n + 1))
	done
	if ((el - last_poll >= 1000)); then
		poll
		last_poll=$el
	fi
	((n >= ${#PLAN[@]} && el >= DURATION * 1000)) && break
	sleep 0.05
done

# Every fault undone; anyone killed and not yet back is left dead, but a
# group with no sender left gets one back.
for id in "${!STOPPED[@]}"; do
	act cont "$id"
done
lab_heal
lab_loss all 0
for h in "${!STARVED[@]}"; do
	unstarve "$h"
done
poll
alive=0
for i in ${SENDERS//,/ }; do
	[ -n "${PID[$i c]:-}" ] && alive=1
done
if ((alive == 0)); then
	i=${SENDERS%%,*}
	start "$i" c
	ev "\"ev\": \"note\", \"what\": \"no sender alive at the end: restarted h$i\""
fi
ev "\"ev\": \"faults-end\""
livefile

# Markers: every live member must deliver each within 30 s.
$AUX watch "$OUT" &
WATCH=$!
ALL+=("$WATCH")
end=$((SECONDS + 10))
until [ -e "$OUT/watch-ready" ] || ((SECONDS >= end)); do
	sleep 0.05
done
: >"$OUT/markers"
ev "\"ev\": \"markers\", \"live\": [$(sed 's/.*/"&"/' "$OUT/live" | paste -sd,)]"
end=$((SECONDS + MARKS))
while ((SECONDS < end)); do
	poll
	sleep 0.5
done
: >"$OUT/marks-stop"
ev "\"ev\": \"marks-stop\""
sleep 1
end=$((SECONDS + 31))
until $AUX marks-done "$OUT"; do
	((SECONDS < end)) || { ev "\"ev\": \"marks-timeout\""; break; }
	poll
	sleep 0.5
done
ev "\"ev\": \"marks-done\""

# await WHY MS KEY ...: wait up to MS milliseconds for the members
# PID[KEY] to exit, noting each exit as it happens; the ones left are
# logged as hung and killed.
await() {
	local why=$1 ms=$2 end k p left
	end=$((${EPOCHREALTIME/./} / 1000 + ms))
	shift 2
	while :; do
		left=0
		for k in "$@"; do
			p=${PID[$k]:-}
			[ -n "$p" ] || continue
			if zombie "$p"; then
				reap "$p" "$why"
				unset "PID[$k]"
			else
				hwm "$p"
				left=1
			fi
		done
		((left)) || return 0
		((${EPOCHREALTIME/./} / 1000 < end)) || break
		sleep 0.05
	done
	for k in "$@"; do
		p=${PID[$k]:-}
		[ -n "$p" ] || continue
		ev "\"ev\": \"hung\", \"pid\": $p, \"log\": \"${LOGOF[$p]}\", \"what\": \"no exit $((ms / 1000)) s after $why\""
		kill -CONT "$p"
		kill -KILL "$p"
		reap "$p" "$why"
		unset "PID[$k]"
	done
}

# The senders' inputs end: each must exit 0 within 30 s.
poll
: >"$OUT/end"
ev "\"ev\": \"input-end\""
keys=()
for i in ${SENDERS//,/ }; do
	[ -n "${PID[$i c]:-}" ] && keys+=("$i c")
done
await input-end 31000 "${keys[@]}"

# The receivers: SIGTERM, exit within 2 s.
keys=()
for k in "${!PID[@]}"; do
	p=${PID[$k]}
	hwm "$p"
	kill -TERM "$p"
	ev "\"ev\": \"term\", \"pid\": $p, \"log\": \"${LOGOF[$p]}\""
	keys+=("$k")
done
await term 3000 "${keys[@]}"
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
DEAD[$WATCH]=1
ev "\"ev\": \"done\""
cleanup

python3 "$here/check.py" "$OUT" >"$OUT/check.txt" 2>&1
rc=$?
say "$(tail -1 "$OUT/check.txt")"
exit $((rc == 0 ? 0 : rc == 1 ? 1 : 2))
