# What never changes with the locale: JSON, Prometheus text and exit codes are the same bytes
# under C and under ja_JP.UTF-8 (this case's locale, locale_invariant.env), while the human
# text of the same commands is translated (so the catalogue was in use). Each line below says
# which, for one command.
gpuslots allocate train 2 8 --server gpu-server-0 >/dev/null || exit 99
gpuslots allocate eval 1 2 --server gpu-server-1 >/dev/null || exit 99

# Runs "$@" under C and under this case's locale; prints whether stdout, the exit status and
# stderr are the same.
compare() {
    LC_ALL=C gpuslots "$@" >c.out 2>c.err
    c_rc=$?
    gpuslots "$@" >l.out 2>l.err
    l_rc=$?
    if cmp -s c.out l.out; then out=same; else out=DIFFERENT; fi
    if [ "$c_rc" = "$l_rc" ]; then rc="same ($c_rc)"; else rc="DIFFERENT ($c_rc, $l_rc)"; fi
    if cmp -s c.err l.err; then err=same; else err=translated; fi
    echo "$*: stdout $out, exit status $rc, stderr $err"
}
compare status --json
compare status --json --server gpu-server-1 --task eval
compare metrics
compare allocate big 4 1 --server gpu-server-0 --json
compare allocate big 99 1 --json
compare allocate bad! 1 1 --json
compare release nosuch --json
compare reconcile --dry-run --json
compare status --task nosuch --json
compare status --server nosuch --json
# The table, for contrast: translated, with the same exit status.
LC_ALL=C gpuslots status >c.out
c_rc=$?
gpuslots status >l.out
l_rc=$?
cmp -s c.out l.out || echo "status (the table): translated, exit status $c_rc and $l_rc"

# A JSON result that changes the ledger: the same task made and released in each locale.
LC_ALL=C gpuslots allocate nb 1 1 --json >c.out || exit 99
LC_ALL=C gpuslots release nb --json >>c.out || exit 99
gpuslots allocate nb 1 1 --json >l.out || exit 99
gpuslots release nb --json >>l.out || exit 99
cmp -s c.out l.out && echo "allocate/release --json: stdout same"

# metrics --textfile writes the same file.
mkdir c l
LC_ALL=C gpuslots metrics --textfile c >/dev/null || exit 99
gpuslots metrics --textfile l >/dev/null || exit 99
cmp -s c/gpuslots.prom l/gpuslots.prom && echo "metrics --textfile: file same"
