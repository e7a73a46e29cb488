#!/usr/bin/env bash
# Runs one fuzz target for a bounded time, from its committed seed corpus (README.md here).
#   run.sh FUZZER TARGET WORK_DIR SECONDS
# New corpus entries go to WORK_DIR/corpus, a failing input to WORK_DIR/artifacts/. Every kind
# of failure is exit 1: a crash or broken property (abort), a sanitizer finding, an input that
# runs longer than 30 s (-timeout; the slowest valid input, a million names of 255 characters,
# takes 5 s under ASan at -O0), or a process above 2 GB (-rss_limit_mb).
set -euo pipefail
fuzzer=$1 target=$2 work=$3 seconds=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seeds=$here/corpus/$target
if [ ! -x "$fuzzer" ]; then
    echo "fuzz.$target: $fuzzer was not built (see the sanitize.build test's output)" >&2
    exit 1
fi
mkdir -p "$work/corpus" "$work/artifacts"
dict=()
[ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
# The config target also starts from the example config that ships in etc/.
extra=()
[ "$target" = config ] && extra=("$here/../../etc")
status=0
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" "$seeds" "${extra[@]}" \
    || status=$?
if [ "$status" != 0 ]; then
    echo "fuzz.$target FAILED (exit $status). Reproduce: $fuzzer $work/artifacts/<file>;" \
         "add the input to tests/fuzz/corpus/$target/ with the fix." >&2
    exit 1
fi
