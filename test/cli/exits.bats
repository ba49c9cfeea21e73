#!/usr/bin/env bats
# The exit codes a script can rely on are stated in the README and in
# every page's EXIT STATUS, and to(7) names every code the tools use.

load helper

TOP="$BATS_TEST_DIRNAME/../.."

# codes PAGE: the codes of its EXIT STATUS list, one a line.
codes() {
	awk '/^\.Sh / { on = ($2 == "EXIT") }
	on && /^\.It [0-9]/ { for (i = 2; i <= NF; i++)
		if ($i ~ /^[0-9]+$/) print $i }' "$1"
}

@test "to(7) states every code a tool's page states, and the README too" {
	local p c all

	all=$(codes "$TOP/man/to.7")
	for c in 0 1 3 64 65 66 69 70 71 73 74 75 77 130 143; do
		grep -qx "$c" <<<"$all"
		grep -q "^| $c\( \|,\)\|, $c |" "$TOP/README.md"
	done
	for p in tocast torecv toview toburst; do
		for c in $(codes "$TOP/man/$p.1"); do
			grep -qx "$c" <<<"$all" || { echo "$p: $c not in to.7"; false; }
		done
	done
	# the codes this issue added, in the pages of the tools that use them
	codes "$TOP/man/torecv.1" | grep -qx 3
	codes "$TOP/man/tocast.1" | grep -qx 3
	codes "$TOP/man/tocast.1" | grep -qx 143
}
