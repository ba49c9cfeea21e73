#!/bin/sh
# burst.sh: the burst experiment of the packing paper on this machine.
# Three local members (toburst --local 3) each cast bursts of m messages,
# round after round, for every protocol; the rows go to PREFIX.tsv and the
# figures to PREFIX.svg (toburst --plot, which needs gnuplot: without it
# this says so and writes the TSV alone).
#
#	sh examples/burst.sh [-p protocols] [-m bursts] [-r rounds] [-o prefix]
#	sh examples/burst.sh --selftest		a short sweep, checked
#
# The defaults, every protocol, bursts of 1, 10, 100 and 1000, 3 rounds,
# take a few seconds; -m 1,10,100,1000,10000 -r 10 is the paper's sweep.
set -eu
prog=burst
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: burst.sh [-p protocols] [-m bursts] [-r rounds] [-o prefix] | --selftest"
}

p=all m=1,10,100,1000 r=3 out=burst selftest=
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--selftest) selftest=1; shift ;;
	-p | -m | -o)
		[ $# -ge 2 ] || { usage >&2; exit 64; }
		case $1 in -p) p=$2 ;; -m) m=$2 ;; -o) out=$2 ;; esac
		shift 2 ;;
	-r)	count "${2:-}" || { usage >&2; exit 64; }
		r=$2; shift 2 ;;
	*)	usage >&2; exit 64 ;;
	esac
done
if [ -n "$selftest" ]; then
	tmpdir
	out=$dir/burst
fi

plot=
if command -v gnuplot >/dev/null 2>&1; then
	plot="--plot=$out.svg"
else
	echo "burst: gnuplot is not installed: no figures, only $out.tsv" >&2
fi
# shellcheck disable=SC2086 # $plot is one word or none
timeout "$limit" toburst --local 3 -p "$p" -m "$m" -r "$r" -o tsv $plot \
    >"$out.tsv" || { echo "burst: toburst exited $?" >&2; exit 1; }

# One row per protocol and burst length, each with all its messages
# (3 members x m x rounds) and a throughput.
protos=$p
[ "$p" != all ] || protos=$(toburst -p list | awk '{ print $1 }')
want=$(($(echo "$protos" | wc -w) * $(echo "$m" | tr , ' ' | wc -w)))
awk -F '\t' -v want="$want" -v r="$r" '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{
	n++
	if ($col["msgs"] != 3 * $col["m"] * r) bad = bad " msgs " $col["msgs"]
	if (!($col["throughput"] > 0)) bad = bad " throughput " $col["throughput"]
	printf "%-8s m=%-6s %12.0f msgs/s per member\n", $col["protocol"],
	    $col["m"], $col["throughput"]
}
END {
	if (n != want) { print "burst: " n " rows, expected " want; exit 1 }
	if (bad != "") { print "burst: bad rows:" bad; exit 1 }
}' "$out.tsv" || exit 1
if [ -n "$plot" ]; then
	grep -q '<svg' "$out.svg" || { echo "burst: no figures in $out.svg" >&2; exit 1; }
	echo "rows in $out.tsv, figures in $out.svg"
else
	echo "rows in $out.tsv"
fi
