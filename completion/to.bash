# Bash completion for tocast, torecv, toview and toburst.
#
# The options come from the tool's own --help, which is made from the table
# its parser uses, and the protocols from "TOOL -p list", so neither can
# fall behind the tools.  Needs nothing of the bash-completion package;
# installed once for each tool, under its name, for its lazy loading.

# _to_opts TOOL: set _to_words to the options of TOOL and _to_args to
# those of them that take an argument (" -g --group ... "), once per tool.
declare -gA _to_words_of=() _to_args_of=()
_to_opts() {
	local line short long
	local words="" args=" "

	if [[ -z ${_to_words_of[$1]+set} ]]; then
		while IFS= read -r line; do
			[[ $line =~ ^\ \ (-[^\ ,]),\ (--[a-z0-9-]+)(=?) ]] ||
			    [[ $line =~ ^\ \ \ \ \ \ ()(--[a-z0-9-]+)(=?) ]] ||
			    continue
			short=${BASH_REMATCH[1]} long=${BASH_REMATCH[2]}
			words+=" $short $long"
			[[ -n ${BASH_REMATCH[3]} ]] && args+="$short $long "
		done < <("$1" --help 2>/dev/null)
		_to_words_of[$1]=$words
		_to_args_of[$1]=$args
	fi
	_to_words=${_to_words_of[$1]}
	_to_args=${_to_args_of[$1]}
}

# _to_list CUR WORDS: complete the last item of a comma list in CUR.
_to_list() {
	local cur=$1 head=

	[[ $cur == *,* ]] && head=${cur%,*},
	mapfile -t COMPREPLY < <(compgen -P "$head" -W "$2" -- "${cur##*,}")
}

# _to_value TOOL OPTION CUR: complete the argument of OPTION.
_to_value() {
	local tool=$1 cur=$3 protos

	case $2 in
	-p | --protocol)
		protos=$("$tool" -p list 2>/dev/null | awk '{ print $1 }')
		if [[ $tool == toburst ]]; then
			_to_list "$cur" "$protos all list"
		else
			mapfile -t COMPREPLY < <(compgen -W "$protos list" -- "$cur")
		fi
		;;
	-t | --transport)
		mapfile -t COMPREPLY < <(compgen -W "local udp:// udpu://" \
		    -- "$cur")
		if [[ ${COMPREPLY[*]} == *// ]]; then
			compopt -o nospace 2>/dev/null || :
		fi
		;;
	--pack)
		_to_list "$cur" "off adaptive 1ms 500us default"
		;;
	-o | --output)
		mapfile -t COMPREPLY < <(compgen -W "table tsv json" -- "$cur")
		;;
	-k | --key | --plot)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	*)
		COMPREPLY=()
		;;
	esac
}

_to_complete() {
	local tool=${1##*/} cur=${COMP_WORDS[COMP_CWORD]} prev=
	local _to_words _to_args

	COMPREPLY=()
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	_to_opts "$tool"
	# --protocol=dyn, or bash's own split of it: "--protocol" "=" "dyn"
	if [[ $cur == --*=* ]]; then
		_to_value "$tool" "${cur%%=*}" "${cur#*=}"
		COMPREPLY=("${COMPREPLY[@]/#/${cur%%=*}=}")
		return 0
	fi
	if [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		_to_value "$tool" "${COMP_WORDS[COMP_CWORD - 2]}" "$cur"
		return 0
	fi
	if [[ $cur == = ]]; then
		_to_value "$tool" "$prev" ""
		return 0
	fi
	if [[ -n $prev && $_to_args == *" $prev "* ]]; then
		_to_value "$tool" "$prev" "$cur"
		return 0
	fi
	case $tool:$cur in
	*:-*|torecv:*|toburst:*)
		mapfile -t COMPREPLY < <(compgen -W "$_to_words" -- "$cur")
		;;
	*)
		# tocast and toview take files
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	esac
	return 0
}

complete -F _to_complete tocast torecv toview toburst
