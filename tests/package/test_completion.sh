#!/usr/bin/env bash
# test_completion.sh TOOL COMPLETION_FILE: drives the bash completion as bash does (COMP_WORDS,
# COMP_CWORD, then the function `complete -p gpuslots` names) against the built tool, with a
# config of its own: subcommands (every one --help lists), options per subcommand, nested
# words, --config FILE, and server names from that config for --server.
set -uo pipefail
tool=${1:?usage: $0 TOOL COMPLETION_FILE}
completion=${2:?usage: $0 TOOL COMPLETION_FILE}
dir=$(mktemp -d /tmp/gpuslots-completion.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin"
ln -s "$(realpath "$tool")" "$dir/bin/gpuslots"
cat >"$dir/fleet.yaml" <<'YAML'
servers:
  - name: rack1-[01-03]
    gpus: 4
    cpus: 32
  - name: big
    gpus: 8
    cpus: 64
state:
  path: state.db
YAML
"$tool" --config "$dir/fleet.yaml" status >/dev/null || {
	echo "FAIL: could not set up the ledger of $dir/fleet.yaml" >&2
	exit 1
}
status=0

# complete WORD...: what completing the last word offers, sorted, on one line.
complete_words() {
	PATH="$dir/bin:$PATH" bash --norc --noprofile -c '
		source "$1"; shift
		func=$(complete -p gpuslots | sed -n "s/.*-F \([^ ]*\) gpuslots$/\1/p")
		[ -n "$func" ] || { echo "no completion registered for gpuslots" >&2; exit 1; }
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$func" gpuslots "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' _ "$completion" "$@"
}

expect() { # WHAT EXPECTED WORD...
	local what=$1 expected=$2 got
	shift 2
	got=$(complete_words "$@")
	if [ "$got" = "$expected" ]; then
		echo "ok: $what: '$*' -> $got"
	else
		echo "FAIL: $what: completing '$*' offered '$got', expected '$expected'" >&2
		status=1
	fi
}

# Every subcommand that --help lists, read here independently of the completion's own parser.
subs=$("$tool" --help | awk '/^[A-Za-z]+:$/ {s = tolower($0); next} s == "subcommands:" && /^  [a-z]/ {print $1}' | sort | tr '\n' ' ' | sed 's/ $//')
for needed in status allocate release reset check-config slurm-config; do
	[[ " $subs " == *" $needed "* ]] || { echo "FAIL: '$needed' not in gpuslots --help" >&2; status=1; }
done
expect "every subcommand" "$subs" gpuslots ""
expect "a prefix" "status" gpuslots st
expect "the global options" "--config --help --version" gpuslots --
expect "the options of allocate" "--for --help --json --server --wait" gpuslots allocate t1 1 2 --
expect "the options of check-config" "--help --no-slurm --record-dir --slurm" gpuslots check-config --
expect "the options of release, after --config FILE" "--help --job --json --server" \
	gpuslots --config "$dir/fleet.yaml" release --
expect "server names for allocate --server" "big rack1-01 rack1-02 rack1-03" \
	gpuslots --config "$dir/fleet.yaml" allocate t1 1 2 --server ""
expect "server names by prefix" "rack1-01 rack1-02 rack1-03" \
	gpuslots --config "$dir/fleet.yaml" release t1 --server ra
expect "server names for --server=" "big" gpuslots --config "$dir/fleet.yaml" release t1 --server = b
expect "--config=FILE is honoured" "big rack1-01 rack1-02 rack1-03" \
	gpuslots --config = "$dir/fleet.yaml" allocate t1 1 2 --server ""
expect "files for --config" "$dir/fleet.yaml" gpuslots --config "$dir/fle"
expect "nothing for an option's number" "" gpuslots allocate t1 1 2 --wait ""
expect "no subcommand after a subcommand" "" gpuslots status ""
expect "a value is not taken for a subcommand" "--for --help --json --server --wait" \
	gpuslots allocate --server status t1 1 2 --
exit $status
