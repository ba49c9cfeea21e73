#!/bin/sh
# targets.sh: issue 9's performance targets, each measured by toburst(1)
# on this machine, printed as a table of measured value, target and ratio.
#
#	bench/targets.sh [-q] [OUT.tsv]
#
# Three members unless a target says otherwise.  Runs over network
# namespaces (--netns) only as root, else those rows say "skipped".
# Exits 0 when every measured row meets its target, 1 when one does not.
# -q: the 60 s memory test runs 10 s (for a quick look, not the record).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
PATH="$here/../cmd:$PATH"
mem_s=60
if [ "${1:-}" = -q ]; then
	mem_s=10
	shift
fi
out=${1:-$here/targets.tsv}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/to-targets.XXXXXX")
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# burst NAME ARG...: toburst -o tsv into $tmp/NAME.tsv
burst() {
	name=$1
	shift
	printf '  %s: toburst %s\n' "$name" "$*" >&2
	timeout 600 toburst -o tsv "$@" >"$tmp/$name.tsv"
}

# pick NAME COLUMN [COL=VALUE ...]: COLUMN of the rows that match, one a line
pick() {
	name=$1
	want=$2
	shift 2
	awk -F '\t' -v want="$want" -v conds="$*" '
	NR == 1 {
		for (i = 1; i <= NF; i++)
			col[$i] = i
		n = split(conds, c, " ")
		next
	}
	{
		for (j = 1; j <= n; j++) {
			split(c[j], kv, "=")
			if ($(col[kv[1]]) != kv[2])
				next
		}
		print $(col[want])
	}' "$tmp/$name.tsv"
}

max() { sort -g | tail -n 1; }
min() { sort -g | head -n 1; }

# row TARGET MEASURED GOAL DIRECTION(>= or <=) UNIT
row() {
	awk -v t="$1" -v m="$2" -v g="$3" -v d="$4" -v u="$5" 'BEGIN {
		if (m == "" || m == "skipped") {
			printf "%s\t%s\t%s %s\t-\tskipped\n", t, "-", d, g
			exit
		}
		r = (d == ">=") ? m / g : g / m
		res = (r >= 1) ? "met" : "NOT MET"
		printf "%s\t%.4g %s\t%s %.4g %s\t%.2f\t%s\n", t, m, u, d, g, u,
		    r, res
	}' >>"$tmp/rows"
}

: >"$tmp/rows"
echo "targets.sh: measuring (a few minutes)" >&2

# 1, 2, 10: bursts of m = 10000 one-byte messages, the packing protocols
burst one --local 3 -p tomfc,total,dysfc --pack adaptive -m 10000 --one \
    -r 20 -n 3
burst all --local 3 -p tomfc,total,dysfc --pack adaptive -m 10000 --all \
    -r 10 -n 3
row "1 one sender, m=10000, local" "$(pick one throughput | max)" \
    5000000 ">=" "msgs/s"
if [ "$(id -u)" = 0 ]; then
	burst netns --netns 3 -p tomfc,dysfc --pack adaptive -m 10000 --one \
	    -r 20 -n 3
	row "1 one sender, m=10000, netns multicast" \
	    "$(pick netns throughput | max)" 5000000 ">=" "msgs/s"
else
	row "1 one sender, m=10000, netns multicast" skipped 5000000 ">=" ""
fi
row "2 all-to-all, m=10000, ordered" "$(pick all throughput | max)" \
    3000000 ">=" "msgs/s"
row "10 wire bytes per 1-byte message, m=10000" \
    "$(pick one bytes_per_msg | min)" 3 "<=" "B"

# 3: m = 1 rounds, every protocol packed adaptively and not at all
burst m1 --local 3 -p all --pack off,adaptive -m 1 --one -r 200
row "3 m=1 round, best adaptive" \
    "$(pick m1 latency_mean_ms pack=adaptive | min | awk '{ print $1 * 1000 }')" \
    150 "<=" "us"
worst=$(for p in totem tomfc total dynord dynseq dysfc; do
	a=$(pick m1 latency_mean_ms protocol=$p pack=adaptive)
	o=$(pick m1 latency_mean_ms protocol=$p pack=off)
	awk -v a="$a" -v o="$o" 'BEGIN { print a / o }'
done | max)
row "3 m=1 adaptive / off, worst protocol" "$worst" 2 "<=" "x"

# 4: packing against none, at m >= 1000: the packing protocols with the
# best packing (adaptive, as in 1 and 2), the others with none
burst packed --local 3 -p tomfc,dysfc --pack adaptive -m 1000,10000 --one \
    -r 20 -n 3
burst unpacked --local 3 -p totem,dynseq --pack off -m 1000,10000 --one \
    -r 20 -n 3
for m in 1000 10000; do
	for pair in tomfc:totem dysfc:dynseq; do
		p=${pair%:*}
		u=${pair#*:}
		r=$(awk -v a="$(pick packed throughput protocol="$p" m="$m")" \
		    -v b="$(pick unpacked throughput protocol="$u" m="$m")" \
		    'BEGIN { print a / b }')
		row "4 $p / $u, m=$m" "$r" 100 ">=" "x"
	done
done

# 5, 6: large messages against the bare transport of the same path, the
# best of four protocols (dysfc, like dynseq, relays a sender's data
# through the sequencer until the role moves: twice the bytes); rounds
# enough for 100 MB or more a run whatever the size, median of 3
for sr in 65536:400 1048576:40 16777216:6; do
	s=${sr%:*}
	burst "large$s" --local 3 -p raw,total,dynord,tomfc,dysfc \
	    --pack adaptive -s "$s" -m 4 --one -r "${sr#*:}" -n 3 -M 16777216
	best=$(for p in total dynord tomfc dysfc; do
		printf '%s %s\n' "$(pick "large$s" vs_raw protocol=$p)" "$p"
	done | sort -g | tail -n 1)
	row "5 $s-byte messages, ${best#* } / raw bandwidth" \
	    "${best%% *}" 0.7 ">=" "x"
done

# 7: the 2007 paper's load test, 16 KiB messages
# (this machine orders about 130,000 a second of them: 160,000 and
# 320,000 are beyond it, where flow control must hold the plateau)
burst load --local 3 -p dynseq --pack adaptive -s 16384 \
    --rate 2000,160000,320000 --duration 2 --one
t2=$(pick load throughput rate=2000)
row "7 16 KiB at 2000/s: delivered / offered" \
    "$(awk -v t="$t2" 'BEGIN { print t / 2000 }')" 0.95 ">=" "x"
row "7 16 KiB at 2000/s: early latency p50" \
    "$(pick load early_p50_ms rate=2000 | awk '{ print $1 * 1000 }')" \
    1000 "<=" "us"
row "7 overload plateau, 320000/s against 160000/s offered" \
    "$(awk -v a="$(pick load throughput rate=320000)" \
        -v b="$(pick load throughput rate=160000)" 'BEGIN { print a / b }')" \
    0.9 ">=" "x"

# 8: growth, over namespaces
if [ "$(id -u)" = 0 ]; then
	for n in 3 8; do
		burst grow$n --netns $n -p dysfc --pack adaptive -m 10000 \
		    --one -r 10
	done
	row "8 deliveries/s, 8 members against 3" \
	    "$(awk -v a="$(pick grow8 throughput_all)" \
	        -v b="$(pick grow3 throughput_all)" 'BEGIN { print a / b }')" \
	    0.8 ">=" "x"
else
	row "8 deliveries/s, 8 members against 3" skipped 0.8 ">=" ""
fi

# 9: memory, yes | tocast with two receivers
echo "  memory: yes | tocast, two torecv, $mem_s s" >&2
export XDG_RUNTIME_DIR="$tmp"
g=targets-$$
torecv -g "$g" >/dev/null 2>&1 &
pids="$pids $!"
torecv -g "$g" >/dev/null 2>&1 &
pids="$pids $!"
(yes | timeout "$mem_s" tocast -g "$g" -w 3 2>/dev/null || :) &
pids="$pids $!"
peak=0
end=$(($(date +%s) + mem_s))
while [ "$(date +%s)" -lt "$end" ]; do
	for p in $(pgrep -d ' ' -f "to(cast|recv) -g $g" || :); do
		kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" \
		    2>/dev/null || echo 0)
		[ "${kb:-0}" -gt "$peak" ] && peak=$kb
	done
	sleep 1
done
row "9 yes | tocast for ${mem_s} s, largest member RSS" \
    "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')" 64 "<=" "MiB"

{
	printf 'target\tmeasured\tgoal\tratio\tresult\n'
	cat "$tmp/rows"
} >"$out"
column -t -s "$(printf '\t')" "$out"
met=$(grep -c '	met$' "$out" || :)
all=$(grep -vc '	skipped$' "$out" || :)
all=$((all - 1))
echo "targets.sh: $met of $all measured targets met ($out)"
[ "$met" -eq "$all" ]
