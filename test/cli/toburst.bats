#!/usr/bin/env bats
# toburst(1): its options, a small cell of each mode whose output parses,
# the impossible ones, and a member that dies in the middle of a run.
# Every run is bounded by timeout(1), so a hang fails instead of waiting.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

NCOLS=28	# columns of -o tsv and keys of -o json

# small [ARG ...]: a small cell with three members on this host.
small() {
	timeout 60 toburst --local 3 -m 10 -r 2 "$@"
}

# json_check: stdin is JSON lines; prints how many.
json_check() {
	python3 -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert rows and all(len(r) == '"$NCOLS"' for r in rows), rows
print(len(rows))'
}

@test "toburst --help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr toburst --help
	[[ "${lines[0]}" == "usage: toburst [-vV] [--all] [--one]"* ]]
	[ -z "$stderr" ]
}

@test "toburst --version and -p list" {
	run -0 --separate-stderr toburst --version
	[[ "$output" =~ ^toburst\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run -0 --separate-stderr toburst -p list
	[[ "${lines[0]}" == "totem "* ]]
	[ "${#lines[@]}" -eq 6 ]
}

@test "toburst --all: a table with one row" {
	run -0 --separate-stderr small --all
	[[ "${lines[0]}" == "mode  protocol  pack "*"msgs/s  round ms"* ]]
	[ "${#lines[@]}" -eq 2 ]
	read -r -a f <<<"${lines[1]}"
	[ "${f[0]}" = all ] && [ "${f[1]}" = dynseq ] && [ "${f[3]}" = 10 ]
	[ -z "$stderr" ]	# progress only on a terminal
}

@test "toburst --one -o tsv: a header and a row of $NCOLS columns" {
	run -0 --separate-stderr small --one -o tsv
	[ "${#lines[@]}" -eq 2 ]
	[ "$(awk -F '\t' '{ print NF }' <<<"$output" | sort -u)" = "$NCOLS" ]
	[[ "${lines[0]}" == "mode	protocol	pack	members	m	"* ]]
	[[ "${lines[1]}" == "one	dynseq	default	3	10	1	2	-	"* ]]
}

@test "toburst --all --one -o json: JSON lines, one per cell" {
	run -0 --separate-stderr small --all --one -o json
	[ "$(json_check <<<"$output")" = 2 ]
	[[ "${lines[0]}" == '{"mode":"all","protocol":"dynseq",'* ]]
	[[ "${lines[1]}" == '{"mode":"one",'* ]]
}

@test "toburst: every protocol, two packings" {
	run -0 --separate-stderr timeout 60 toburst --local 3 -m 10 -r 2 \
	    -p totem,dysfc --pack off,adaptive -o tsv
	[ "${#lines[@]}" -eq 5 ]
	[ "$(cut -f 2,3 <<<"$output" | tail -n +2 | tr '\t\n' ': ')" = \
	    "totem:off totem:adaptive dysfc:off dysfc:adaptive " ]
}

@test "toburst -p raw: the bare transport first, every row against it" {
	run -0 --separate-stderr small --one -p dynseq,raw -o tsv
	[ "${#lines[@]}" -eq 3 ]
	# header names the limit columns
	[[ "${lines[0]}" == *"	raw_throughput	vs_raw	lost_pct" ]]
	IFS=$'\t' read -r -a raw <<<"${lines[1]}"
	IFS=$'\t' read -r -a seq <<<"${lines[2]}"
	[ "${raw[1]}" = raw ] && [ "${raw[2]}" = - ] && [ "${seq[1]}" = dynseq ]
	# raw's limit is its own throughput; dynseq is set against it
	[ "${raw[25]}" = "${raw[12]}" ] && [ "${raw[26]}" = 1.00 ]
	[ "${seq[25]}" = "${raw[12]}" ]
	awk -v t="${seq[12]}" -v r="${raw[12]}" -v x="${seq[26]}" \
	    'BEGIN { d = t / r - x; exit !(d < 0.01 && d > -0.01) }'
	# lost% is raw's alone, a percentage
	[[ "${raw[27]}" =~ ^[0-9]+\.[0-9]$ ]] && [ "${seq[27]}" = - ]
	run -64 --separate-stderr toburst --local 3 -p raw --rate 100
	[[ "$stderr" == *"-p raw: bursts only"* ]]
}

@test "toburst --rate: an offered load, early latency p50 and p99" {
	run -0 --separate-stderr timeout 60 toburst --local 3 --rate 300 \
	    --duration 0.3 -s 1,100 -o json
	[ "$(json_check <<<"$output")" = 2 ]
	python3 -c 'import json, sys
for l in sys.stdin:
	r = json.loads(l)
	assert r["rate"] == 300 and r["m"] is None, r
	assert r["early_p50_ms"] <= r["early_p99_ms"], r
	assert r["msgs"] > 0 and r["throughput"] > 0, r' <<<"$output"
}

@test "toburst -g -N: three members, only the coordinator prints" {
	local g i n=0

	g=$(group)
	for i in 1 2 3; do
		start "m$i" toburst -g "$g" -N 3 -m 10 -r 2 -o tsv
	done
	for i in 1 2 3; do
		wait_exit "m$i" 30
		[ "$EXIT" -eq 0 ]
		[ ! -s "$(err "m$i")" ]
		[ -s "$(out "m$i")" ] && n=$((n + 1))
	done
	[ "$n" -eq 1 ]
}

@test "toburst: a member killed mid-run: toburst says so, exits 69" {
	local pid

	start burst toburst --local 3 -v -m 1000 -r 1000000
	wait_for burst 'joined view .*(3 members)'
	pid=$(sed -n 's/^toburst: member 2 of 3: pid //p' "$(err burst)")
	[ -n "$pid" ]
	sleep 0.3	# well into the rounds
	kill -KILL "$pid"
	wait_exit burst 20
	[ "$EXIT" -eq 69 ]
	grep -q "member 2 of 3 killed by signal 9" "$(err burst)"
	grep -q "a member failed or left: view .* has 2 of 3 members" \
	    "$(err burst)"
}

# bad ARG ...: exit 64, stderr's first line is "toburst: MESSAGE".
bad() {
	local msg=$1

	shift
	run -64 --separate-stderr timeout 10 toburst "$@"
	[[ "${stderr_lines[0]}" == "toburst: $msg"* ]]
	[ -z "$output" ]
}

@test "toburst: bad options and values are usage errors" {
	bad "option --bogus is unknown" --bogus
	bad "-m -5: " --local 3 -m -5
	bad "-m 0: too small" --local 3 -m 0
	bad "-m 10,,100: empty value" --local 3 -m 10,,100
	bad "-s 0: too small" --local 3 -s 0
	bad "-r x: invalid" --local 3 -r x
	bad "-p nosuch: unknown protocol" --local 3 -p nosuch
	bad "--pack soon: invalid packing" --local 3 --pack soon
	bad "-o xml: unknown output" --local 3 -o xml
	bad "--rate 0: too small" --local 3 --rate 0
	bad "--duration 0: invalid time" --local 3 --rate 10 --duration 0
	bad "-m and --rate cannot be used together" --local 3 -m 1 --rate 10
	bad "--duration needs --rate" --local 3 --duration 1
	bad "no members" -m 10
	bad "no members" -g g -m 10
	bad "-N is for a member" --local 3 -N 3
	bad "--local and --netns cannot be used together" --local 3 --netns 3
}

@test "toburst -k: the groups are sealed, the bare transport is not" {
	key=$BATS_TEST_TMPDIR/group.key
	(umask 077; head -c 32 /dev/urandom > "$key")
	# bytes a datagram: bytes_per_msg over dgrams_per_msg (how many
	# datagrams a run takes varies; what each carries hardly does)
	run -0 --separate-stderr small --one -o tsv -p raw,dynseq
	plain=$(awk -F '\t' '$2 == "dynseq" { print $20 / $19 }' <<<"$output")
	run -0 --separate-stderr small --one -o tsv -p raw,dynseq -k "$key"
	sealed=$(awk -F '\t' '$2 == "dynseq" { print $20 / $19 }' <<<"$output")
	raw=$(awk -F '\t' '$2 == "raw" { print $20 }' <<<"$output")
	# the sealed header is 20 bytes longer than the plain one
	awk -v p="$plain" -v s="$sealed" 'BEGIN { exit !(s > p + 12) }'
	[ "$raw" = 14.0 ]
	head -c 8 /dev/urandom > "$key"
	run -64 --separate-stderr small -k "$key"
	[[ "$stderr" == "toburst: -k $key: key too short"* ]]
}

@test "toburst --netns without root: exit 77 with a clear message" {
	local cmd

	cmd=$(command -v toburst)
	if [ "$(id -u)" -eq 0 ]; then
		command -v setpriv >/dev/null || skip "needs setpriv"
		setpriv --reuid=nobody --regid=nogroup --clear-groups true ||
		    skip "cannot become nobody"
		run -77 --separate-stderr timeout 10 setpriv --reuid=nobody \
		    --regid=nogroup --clear-groups "$cmd" --netns 3 -m 10
	else
		run -77 --separate-stderr timeout 10 "$cmd" --netns 3 -m 10
	fi
	[[ "$stderr" == "toburst: --netns: needs root"* ]]
}

@test "toburst --plot: without gnuplot, exit 69 before running anything" {
	local cmd

	cmd=$(command -v toburst)
	run -69 --separate-stderr env PATH=/nonexistent "$cmd" --local 3 \
	    --plot "$BATS_TEST_TMPDIR/f.svg"
	[[ "$stderr" == "toburst: --plot: gnuplot not found"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/f.svg" ]
}

@test "toburst --plot: an SVG of the figures" {
	command -v gnuplot >/dev/null || skip "needs gnuplot"
	run -0 --separate-stderr timeout 60 toburst --local 3 -m 1,10 -r 2 \
	    -p dynseq,dysfc --all --one -o tsv --plot "$BATS_TEST_TMPDIR/f.svg"
	[ "${#lines[@]}" -eq 9 ]
	grep -q '<svg' "$BATS_TEST_TMPDIR/f.svg"
	grep -q 'round latency, one member sends' "$BATS_TEST_TMPDIR/f.svg"
}

# plot_check: stdin is the gnuplot script of --plot; checks that a
# protocol has one colour and one point type in every panel, a packing
# one dash type, that distinct ones differ, that a p99 line has its
# series' colour, a thinner line and a title of its own, and that every
# key is outside the data.  Prints protocol=colour for each protocol.
plot_check() {
	# the $s of gnuplot's data blocks is for python, not the shell
	# shellcheck disable=SC2016
	python3 -c 'import re, sys
script = sys.stdin.read()
keys = re.findall(r"^set key.*$", script, re.M)
assert keys and all("outside" in k for k in keys), keys
clause = re.compile(r"\$s\d+ using 1:(\d) with \w+ (.*?) title \"([^\"]*)\"")
def look(st, word):	# the value after word in a plot clause
	m = re.search(word + r" (\S+)", st)
	return m.group(1) if m else None
color, point, dash, width = {}, {}, {}, {}
p99 = 0
for line in re.findall(r"^plot .*$", script, re.M):
	for col, st, title in clause.findall(line):
		words = title.split()
		proto = words[0]
		pack = [w[5:] for w in words if w.startswith("pack=")]
		c, pt, dt, lw = (look(st, w) for w in ("rgb", "pt", "dt", "lw"))
		assert c and pt and dt and lw, (title, st)
		color.setdefault(proto, set()).add(c)
		base = title[:-4] if title.endswith(" p99") else title
		if col == "4":
			assert title.endswith(" p99"), title
			assert float(lw) < width[base], (title, lw, width[base])
			p99 += 1
			continue
		width[base] = float(lw)
		point.setdefault(proto, set()).add(pt)
		if pack:
			dash.setdefault(pack[0], set()).add(dt)
for m in (color, point, dash):
	assert all(len(v) == 1 for v in m.values()), m
	one = [v.pop() for v in m.values()]
	assert len(set(one)) == len(one), m
	m.update(zip(m, one))
assert len(color) >= 2, color
assert len(dash) >= 2 or "pack=" not in script, dash
if "early latency" in script:
	assert p99 > 0, "no p99 line"
for p in sorted(color):
	print(p + "=" + color[p])'
}

@test "toburst --plot: a look per protocol and per packing, keys outside" {
	local bin=$BATS_TEST_TMPDIR/bin gp=$BATS_TEST_TMPDIR/f.gp a b

	# a gnuplot that keeps the script it is given, as the "SVG"
	mkdir "$bin"
	printf '#!/bin/sh\nexec cat\n' >"$bin/gnuplot"
	chmod +x "$bin/gnuplot"
	run -0 --separate-stderr env PATH="$bin:$PATH" timeout 60 toburst \
	    --local 3 --rate 100,400 --duration 0.1 -p totem,dysfc \
	    --pack off,adaptive --all --one -o tsv --plot "$gp"
	[ "${#lines[@]}" -eq 17 ]
	a=$(plot_check <"$gp")
	if command -v gnuplot >/dev/null; then
		gnuplot <"$gp" >"$BATS_TEST_TMPDIR/f.svg"
		grep -q '<svg' "$BATS_TEST_TMPDIR/f.svg"
		grep -q 'dysfc pack=adaptive p99' "$BATS_TEST_TMPDIR/f.svg"
	fi
	# the same colour in another figure, whatever else is in it
	run -0 --separate-stderr env PATH="$bin:$PATH" timeout 60 toburst \
	    --local 3 -m 1 -r 1 -p raw,dysfc --one -o tsv --plot "$gp"
	b=$(plot_check <"$gp")
	[ "$(grep dysfc= <<<"$a")" = "$(grep dysfc= <<<"$b")" ]
}
