# bash completion for gpuslots(1): commands, their options, config files and server names.
#
# The commands and options are read from the tool's own --help at each completion, so that
# this file cannot drift from the tool (a new subcommand or option completes as soon as the
# tool has it); the server names come from `gpuslots status --json --no-slurm` (the config and
# the ledger only, never slurmctld: a completion must not wait on the network) for the config
# given on the line (--config FILE), else the tool's default. Needs nothing from the
# bash-completion package, which only loads it on demand from
# .../bash-completion/completions/gpuslots.

# _gpuslots_help TOOL CONFIG_ARGS... -- COMMAND...: what `--help` lists for that command, one
# "sub NAME", "flag NAME" or "value NAME" (an option that takes a value) per line.
_gpuslots_help() {
    local tool=$1 line section='' names name
    shift
    local -a config=()
    while [[ $# -gt 0 && $1 != -- ]]; do
        config+=("$1")
        shift
    done
    shift
    while IFS= read -r line; do
        # CLI11 writes "OPTIONS:", "SUBCOMMANDS:", "POSITIONALS:" (any case) above each list.
        if [[ $line =~ ^([A-Za-z]+):$ ]]; then
            section=${BASH_REMATCH[1],,}
            continue
        fi
        case $section in
        subcommands)
            [[ $line =~ ^\ \ ([a-z][a-z0-9_-]*)(\ |$) ]] && echo "sub ${BASH_REMATCH[1]}"
            ;;
        options)
            # "  -h,--help   Print ..." or "  --server TEXT   Reserve ...": a type word right
            # after the names means the option takes a value.
            [[ $line =~ ^\ \ (-[^ ]+)(\ [A-Z][A-Z0-9_:]*)? ]] || continue
            local kind=flag
            [[ -n ${BASH_REMATCH[2]} ]] && kind=value
            IFS=, read -ra names <<<"${BASH_REMATCH[1]}"
            for name in "${names[@]}"; do
                [[ $name == --* ]] && echo "$kind $name"
            done
            ;;
        esac
    done < <("$tool" "${config[@]}" "$@" --help 2>/dev/null)
}

# The server names of the config (those in the config and those the ledger still holds).
_gpuslots_servers() {
    local tool=$1
    shift
    "$tool" "$@" status --json --no-slurm 2>/dev/null |
        grep -o '"name": *"[^"\\]*"' | sed 's/^"name": *"//; s/"$//'
}

# Sets the caller's subs, flags and values to those of the command its `path` names.
_gpuslots_level() {
    local kind name
    subs=() flags=() values=()
    while read -r kind name; do
        case $kind in
        sub) subs+=("$name") ;;
        flag) flags+=("$name") ;;
        value) values+=("$name") ;;
        esac
    done < <(_gpuslots_help "$tool" "${config[@]}" -- "${path[@]}")
}

_gpuslots() {
    local tool=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} i w name
    local -a config=() path=() subs=() flags=() values=()
    local expect='' # the option whose value the current word is

    # bash splits "--server=n2" into "--server" "=" "n2" (COMP_WORDBREAKS).
    [[ $cur == = ]] && cur=''
    _gpuslots_level
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        [[ $w == = && -n $expect ]] && continue
        if [[ -n $expect ]]; then
            [[ $expect == --config ]] && config=(--config "$w")
            expect=''
            continue
        fi
        case $w in
        --config=*) config=(--config "${w#--config=}") ;;
        --*=*) ;;
        -*)
            # An option that takes a value swallows the next word.
            for name in "${values[@]}"; do
                [[ $w == "$name" ]] && expect=$w
            done
            ;;
        *)
            for name in "${subs[@]}"; do
                if [[ $w == "$name" ]]; then
                    path+=("$w")
                    _gpuslots_level
                    break
                fi
            done
            ;;
        esac
    done

    COMPREPLY=()
    case $expect in
    --config)
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
        ;;
    --server)
        mapfile -t COMPREPLY < <(compgen -W "$(_gpuslots_servers "$tool" "${config[@]}")" -- "$cur")
        return 0
        ;;
    ?*) return 0 ;; # a number, a job id: nothing to offer
    esac
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${flags[*]} ${values[*]}" -- "$cur")
    elif [[ ${#subs[@]} -gt 0 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "${subs[*]}" -- "$cur")
    fi
    return 0
}

complete -F _gpuslots gpuslots
