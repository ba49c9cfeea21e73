#!/bin/bash
# run.sh SEED0 SEEDS JOBS DIR: soak.sh for seeds SEED0 .. SEED0+SEEDS-1,
# JOBS at a time, each in DIR/SEED.  Prints each seed's verdict as it
# ends, then the table of check.py --table.  A passing seed keeps only its
# schedule, plan, verdict and check.txt; a failing one keeps everything.
# Exit 1 if any seed failed.  DURATION, PROTO, ... pass through to soak.sh.

set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 4 ] || { echo "usage: run.sh seed0 seeds jobs dir" >&2; exit 64; }
SEED0=$1 SEEDS=$2 JOBS=$3 DIR=$4
[ "$(id -u)" -eq 0 ] || { echo "soak: needs root (network namespaces)" >&2; exit 2; }
mkdir -p "$DIR" || exit 2

# one SEED: run it bounded, print its verdict line.
one() {
	local s=$1 d=$DIR/$1 dur rc t0
	dur=${DURATION:-$((45 + s % 46))}
	rm -rf "$d"
	t0=$SECONDS
	DURATION=$dur timeout -k 10 $((dur + 400)) "$here/soak.sh" "$s" "$d" \
	    2>"$DIR/$s.stderr"
	rc=$?
	mv "$DIR/$s.stderr" "$d/soak.stderr" 2>/dev/null
	[ -s "$d/check.txt" ] || rc=2
	case $rc in
	0)
		printf 'seed %-5s PASS  %4ds  %s\n' "$s" $((SECONDS - t0)) \
		    "$(tail -1 "$d/check.txt")"
		find "$d" -type f ! -name schedule.jsonl ! -name plan \
		    ! -name verdict.json ! -name check.txt ! -name soak.stderr \
		    -delete
		;;
	1)
		printf 'seed %-5s FAIL  %4ds  %s\n' "$s" $((SECONDS - t0)) \
		    "$(tail -1 "$d/check.txt")"
		printf '           kept in %s\n' "$d"
		;;
	*)
		printf 'seed %-5s ERROR %4ds  soak.sh exited %d; see %s\n' "$s" \
		    $((SECONDS - t0)) "$rc" "$d/soak.stderr"
		;;
	esac
}
export -f one
export here DIR

seq "$SEED0" $((SEED0 + SEEDS - 1)) |
    xargs -P "$JOBS" -I{} bash -c 'one {}'

dirs=()
for ((s = SEED0; s < SEED0 + SEEDS; s++)); do
	dirs+=("$DIR/$s")
done
echo
python3 "$here/check.py" --table "${dirs[@]}"
fail=0
for d in "${dirs[@]}"; do
	python3 - "$d" <<-'EOF' || fail=1
	import json, sys
	try:
	    v = json.load(open(sys.argv[1] + "/verdict.json"))
	except Exception:
	    sys.exit(1)
	sys.exit(1 if v.get("violations") else 0)
	EOF
done
exit $fail
