#!/usr/bin/env bats
# completion/to.bash: options, protocols, transports, packings and files,
# driven as bash drives it: COMP_WORDS and COMP_CWORD in, COMPREPLY out.

# shellcheck disable=SC2030,SC2031,SC2154

load helper

setup() {
	# shellcheck source=../../completion/to.bash
	source "$BATS_TEST_DIRNAME/../../completion/to.bash"
}

# comp WORD...: complete the last word; the sorted candidates in $got.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_to_complete "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	got=${got% }
}

@test "completion is registered for the four tools" {
	run -0 complete -p tocast torecv toview toburst
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[0]}" == "complete -F _to_complete tocast" ]]
}

@test "options complete by prefix, only those the tool takes" {
	comp tocast --s
	[ "$got" = "--stack --stall --suspect" ]
	comp toview --s
	[ "$got" = "--stack" ]
	comp toburst --pa
	[ "$got" = "--pack --pack-max" ]
	comp toview -
	[[ " $got " == *" -c "* && " $got " != *" -w "* ]]
}

@test "every option of --help completes after -" {
	local t o

	for t in tocast torecv toview toburst; do
		comp "$t" -
		for o in $("$t" --help | sed -n -E \
		    's/^  (-[^ ,]), (--[a-z0-9-]+).*/\1 \2/p; s/^      (--[a-z0-9-]+).*/\1/p'); do
			[[ " $got " == *" $o "* ]] || { echo "$t: no $o"; false; }
		done
	done
}

@test "-p completes the protocols of -p list" {
	local want

	want=$( (tocast -p list | awk '{ print $1 }'; echo list) | sort | tr '\n' ' ')
	comp tocast -p ""
	[ "$got" = "${want% }" ]
	comp torecv --protocol dyn
	[ "$got" = "dynord dynseq" ]
	comp tocast --protocol=tot
	[ "$got" = "--protocol=total --protocol=totem" ]
	# toburst takes a comma list, and all
	comp toburst -p dynseq,to
	[ "$got" = "dynseq,tomfc dynseq,total dynseq,totem" ]
	comp toburst -p a
	[ "$got" = "all" ]
}

@test "-t completes the transports, --pack the packings, -o the formats" {
	comp tocast -t ""
	[ "$got" = "local udp:// udpu://" ]
	comp torecv --transport udpu
	[ "$got" = "udpu://" ]
	comp toburst --pack ""
	[ "$got" = "1ms 500us adaptive default off" ]
	comp toburst --pack off,a
	[ "$got" = "off,adaptive" ]
	comp toburst -o t
	[ "$got" = "table tsv" ]
}

@test "files complete where a tool takes them, not elsewhere" {
	cd "$BATS_TEST_TMPDIR"
	touch input.txt group.key
	comp tocast -g demo in
	[ "$got" = "input.txt" ]
	comp toview -c gr
	[ "$got" = "group.key" ]
	comp torecv -k gr
	[ "$got" = "group.key" ]
	comp torecv in
	[ -z "$got" ]
	# a numeric argument gets nothing
	comp tocast -w ""
	[ -z "$got" ]
}
