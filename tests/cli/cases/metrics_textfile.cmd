# --textfile DIR writes DIR/gpuslots.prom, readable by others, and leaves no temporary file.
mkdir textfiles
gpuslots allocate test_001 1 1 >/dev/null || exit 99
gpuslots metrics --textfile textfiles || exit 98
ls -A textfiles
stat -c '%a' textfiles/gpuslots.prom
gpuslots metrics | cmp - textfiles/gpuslots.prom && echo "same as on stdout"
gpuslots metrics --textfile missing-dir
