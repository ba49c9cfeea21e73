#!/usr/bin/env bats
# The options of each tool, both ways: every option --help lists (made
# from the tables the parser uses) is in the list of its page, and every
# option of the page's list is one --help lists, with the same letter and
# long name.

# run sets output, lines, stderr and stderr_lines in each test's shell
# shellcheck disable=SC2030,SC2031,SC2154

load helper

MAN="$BATS_TEST_DIRNAME/../../man"

# help_opts TOOL: the options of TOOL --help, one a line, as "-g --group"
# or "--suspect".
help_opts() {
	"$1" --help | sed -n -E \
	    -e 's/^  (-[^ ,]), (--[a-z0-9-]+).*/\1 \2/p' \
	    -e 's/^      (--[a-z0-9-]+).*/\1/p' | sort -u
}

# man_opts PAGE: the same from the .It Fl lines of the page's DESCRIPTION
# (its option lists, also under .Ss), as "-g --group" or "--suspect".
man_opts() {
	awk '
	/^\.Sh / { in_desc = ($2 == "DESCRIPTION") }
	in_desc && /^\.It Fl / {
		s = ""
		for (i = 2; i < NF; i++) {
			if ($i != "Fl")
				continue
			if ($(i + 1) == "Fl") {
				s = s (s == "" ? "" : " ") "--" $(i + 2)
				i += 2
			} else if (length($(i + 1)) == 1) {
				s = s (s == "" ? "" : " ") "-" $(i + 1)
				i++
			}
		}
		if (s != "")
			print s
	}' "$1" | sort -u
}

# crosscheck TOOL PAGE: fail, naming each option and the tool, for an
# option in one of --help and the page and not in the other.
crosscheck() {
	local tool=$1 page=$2 h m bad=0 o

	h=$(help_opts "$tool")
	m=$(man_opts "$page")
	# a list that came out empty would agree with anything
	[ "$(wc -l <<<"$h")" -ge 5 ] || { echo "$tool: no options in --help"; return 1; }
	[ "$(wc -l <<<"$m")" -ge 5 ] || { echo "$tool: no options in ${page##*/}"; return 1; }
	while read -r o; do
		echo "$tool: $o is in --help but not in ${page##*/}"
		bad=1
	done < <(comm -23 <(echo "$h") <(echo "$m"))
	while read -r o; do
		echo "$tool: $o is in ${page##*/} but not in --help"
		bad=1
	done < <(comm -13 <(echo "$h") <(echo "$m"))
	return "$bad"
}

@test "--help lists each option with its long form and a few words" {
	run -0 --separate-stderr tocast --help
	[[ "${lines[0]}" == "usage: tocast "* ]]
	[[ "$output" == *$'\n  -g, --group=group '*[a-z]* ]]
	[[ "$output" == *$'\n      --suspect=ms '*[a-z]* ]]
	[[ "$output" == *$'\n  -0, --null '*[a-z]* ]]
	run -0 --separate-stderr toburst --help
	[[ "$output" == *$'\n  -m, --burst=list '*[a-z]* ]]
	[[ "$output" == *$'\n      --pack=list '*[a-z]* ]]
	# the usage on errors stays the synopsis alone
	run -64 --separate-stderr tocast --bogus
	[[ "$stderr" != *"--group"* ]]
}

@test "--help lines fit in 80 columns" {
	local t

	for t in tocast torecv toview toburst; do
		# shellcheck disable=SC2016 # awk's $0
		run -0 awk -v t="$t" 'length > 79 { print t ": " $0; n++ }
		    END { exit n > 0 }' < <("$t" --help)
	done
}

@test "tocast: options of --help and tocast.1 agree" {
	crosscheck tocast "$MAN/tocast.1"
}

@test "torecv: options of --help and torecv.1 agree" {
	crosscheck torecv "$MAN/torecv.1"
}

@test "toview: options of --help and toview.1 agree" {
	crosscheck toview "$MAN/toview.1"
}

@test "toburst: options of --help and toburst.1 agree" {
	crosscheck toburst "$MAN/toburst.1"
}

@test "the cross-check fails on a page missing or adding an option" {
	local page="$BATS_TEST_TMPDIR/tocast.1"

	# -q dropped from the page
	sed '/^\.It Fl q , Fl Fl quiet$/d' "$MAN/tocast.1" >"$page"
	run -1 crosscheck tocast "$page"
	[ "$output" = "tocast: -q --quiet is in --help but not in tocast.1" ]
	# a long name that the parser does not know
	sed 's/^\.It Fl q , Fl Fl quiet$/.It Fl q , Fl Fl silent/' \
	    "$MAN/tocast.1" >"$page"
	run -1 crosscheck tocast "$page"
	[ "${lines[0]}" = "tocast: -q --quiet is in --help but not in tocast.1" ]
	[ "${lines[1]}" = "tocast: -q --silent is in tocast.1 but not in --help" ]
	# an option the tool does not take
	sed 's/^\.It Fl q , Fl Fl quiet$/&\
.It Fl Fl bogus\
Nothing./' "$MAN/tocast.1" >"$page"
	run -1 crosscheck tocast "$page"
	[ "$output" = "tocast: --bogus is in tocast.1 but not in --help" ]
}

# letters: "-0AeF" as -0 -A -e -F, one a line; "--stall" as is.
letters() {
	local w

	while read -r w; do
		case $w in
		--*) echo "$w" ;;
		-*) grep -o . <<<"${w#-}" | sed 's/^/-/' ;;
		esac
	done | sort -u
}

# usage_opts TOOL: the options its usage synopsis names.
usage_opts() {
	"$1" --help | sed '/^$/q' | grep -oE '(^|[[ |])--?[A-Za-z0-9-]+' |
	    sed -E 's/^[[ |]//' | letters
}

# synopsis_opts PAGE: the options the page's SYNOPSIS names.
synopsis_opts() {
	awk '/^\.Sh / { syn = ($2 == "SYNOPSIS") }
	syn { for (i = 1; i < NF; i++) if ($i == "Fl" || $i == ".Fl") {
		if ($(i + 1) == "Fl") { print "--" $(i + 2); i += 2 }
		else print "-" $(i + 1)
	} }' "$1" | letters
}

@test "the usage names every option but -h, and the page's SYNOPSIS agrees" {
	local t u l

	for t in tocast torecv toview toburst; do
		u=$(usage_opts "$t")
		l=$(help_opts "$t" | sed 's/ .*//' | grep -vx -- -h)
		[ "$(wc -l <<<"$u")" -ge 5 ]
		run diff <(echo "$u") <(echo "$l")
		[ "$status" -eq 0 ] || { echo "$t: usage vs --help: $output"; false; }
		run diff <(echo "$u") <(synopsis_opts "$MAN/$t.1")
		[ "$status" -eq 0 ] || { echo "$t: usage vs $t.1 SYNOPSIS: $output"; false; }
	done
}
