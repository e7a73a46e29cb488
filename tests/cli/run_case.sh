#!/bin/sh
# Runs one CLI case of tests/cli/cases/ and compares what it printed with the expected files.
#
#   run_case.sh GPUSLOTS CASES_DIR NAME
#
# The case NAME.cmd is a sh script run in a fresh directory (its $PWD), in which `gpuslots`
# is the built tool with --config $PWD/gpuslots.yaml; that config is NAME.yaml if the case has
# one, else default.yaml. Its stdout, stderr and exit status must equal NAME.out, NAME.err and
# NAME.rc (a missing .out/.err means: empty), after these placeholders are put in:
#   @DIR@    the case's directory        @SINCE@  a reservation's UTC time (JSON "since")
#   @OWNER@  a reservation's owner name  @UID@    its uid (JSON "owner", "owner_uid";
#            Prometheus label owner="...")      @BOOT@   its host's boot id (JSON "boot_id")
#   @TIME@   the time a holder took its slots, in messages ("(since 13:38, ...")
# The case runs under LC_ALL=C unless NAME.env says otherwise: lines VAR=VALUE exported for it
# (LC_ALL=ja_JP.UTF-8 for the Japanese table). A case whose locale this machine does not have,
# or whose catalogue is not built under $GPUSLOTS_LOCALEDIR, is skipped (exit 77) with the
# reason. With GPUSLOTS_REGENERATE=1 in the environment the expected files are written instead
# (review the diff before committing them). See tests/cli/README.md.
set -u
gpuslots_bin=$1
cases=$2
name=$3
cmd="$cases/$name.cmd"
[ -f "$cmd" ] || { echo "run_case: no case $cmd" >&2; exit 2; }
config="$cases/$name.yaml"
[ -f "$config" ] || config="$cases/default.yaml"

# The locale: C, whatever the caller's, unless the case asks for another.
unset LANGUAGE LANG LC_CTYPE LC_NUMERIC LC_TIME LC_COLLATE LC_MONETARY LC_MESSAGES
export LC_ALL=C
env_file="$cases/$name.env"
if [ -f "$env_file" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        var=${line%%=*}
        value=${line#*=}
        case $var in *[!A-Za-z0-9_]* | '') echo "run_case: $env_file: not VAR=VALUE: $line" >&2; exit 2 ;; esac
        export "$var=$value"
    done <"$env_file"
fi
if [ "$LC_ALL" != C ]; then
    if [ -n "$(locale 2>&1 >/dev/null)" ]; then
        echo "SKIP: case $name needs the locale $LC_ALL, which this machine lacks" \
            "(.ci/install-deps generates it: localedef -i ja_JP -f UTF-8 ja_JP.UTF-8)"
        exit 77
    fi
    lang=${LC_ALL%%[_.@]*}
    if [ ! -f "${GPUSLOTS_LOCALEDIR:-/nonexistent}/$lang/LC_MESSAGES/gpuslots.mo" ]; then
        echo "SKIP: case $name needs the catalogue $lang/LC_MESSAGES/gpuslots.mo under" \
            "GPUSLOTS_LOCALEDIR (${GPUSLOTS_LOCALEDIR:-unset}); is msgfmt (gettext) installed?"
        exit 77
    fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/gpuslots-case-XXXXXX") || exit 2
chmod 0755 "$dir"
cleanup() {
    # Ledgers written here have a writers' queue in /dev/shm (lib/write_queue.cpp names it by
    # the ledger file's uid, device and inode), which would otherwise stay until a reboot.
    for f in "$dir"/*; do
        [ -f "$f" ] || continue
        set -- $(stat -c '%d %i' "$f")
        rm -f "/dev/shm/gpuslots-queue-$(id -u)-$1-$2"
    done
    rm -rf "$dir"
}
trap cleanup EXIT
cp "$config" "$dir/gpuslots.yaml"
mkdir "$dir/.run"

# The case sees `gpuslots` as a function; nothing else of this script.
(
    cd "$dir" || exit 2
    export GPUSLOTS_BIN="$gpuslots_bin"
    unset GPUSLOTS_CONFIG
    # shellcheck disable=SC2016
    sh -c 'gpuslots() { "$GPUSLOTS_BIN" --config "$PWD/gpuslots.yaml" "$@"; }; . "$0"' "$cmd" \
        >.run/out 2>.run/err </dev/null
    echo $? >.run/rc
)

normalise() {
    LC_ALL=C sed -e "s|$dir|@DIR@|g" \
        -e 's/"since":"[0-9T:Z-]*"/"since":"@SINCE@"/g' \
        -e 's/"owner":"[^"]*"/"owner":"@OWNER@"/g' \
        -e 's/"owner_uid":[0-9]*/"owner_uid":@UID@/g' \
        -e 's/"boot_id":"[^"]*"/"boot_id":"@BOOT@"/g' \
        -e 's/(since [0-9][0-9]:[0-9][0-9]/(since @TIME@/g' \
        -e 's/owner="[^"]*"/owner="@OWNER@"/g' "$1"
}

status=0
for kind in out err rc; do
    normalise "$dir/.run/$kind" >"$dir/.run/$kind.seen"
    expected="$cases/$name.$kind"
    if [ "${GPUSLOTS_REGENERATE:-0}" = 1 ]; then
        if [ -s "$dir/.run/$kind.seen" ] || [ "$kind" = rc ]; then
            cp "$dir/.run/$kind.seen" "$expected"
        else
            rm -f "$expected"
        fi
        continue
    fi
    if [ -f "$expected" ]; then
        want="$expected"
    else
        want=/dev/null
    fi
    if ! diff -u --label "expected $name.$kind" --label "got" "$want" "$dir/.run/$kind.seen"; then
        status=1
    fi
done
[ "${GPUSLOTS_REGENERATE:-0}" = 1 ] && echo "run_case: wrote $cases/$name.{out,err,rc}"
exit $status
