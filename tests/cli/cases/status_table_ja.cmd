# The same as status_table, under ja_JP.UTF-8 (status_table_ja.env): the table with
# double-width headings, its totals, the warnings, result lines and errors in Japanese.
gpuslots allocate train-llm 4 32 --server a100-01 >/dev/null || exit 99
# (validate sorts after train-llm, so that holders made in the same second or not are listed
# in the same order: oldest first, then by name)
gpuslots allocate validate 1 4 --server a100-01 >/dev/null || exit 99
for i in 1 2 3 4 5 6 7; do
    gpuslots allocate notebook-$i 0 1 --server a100-02 >/dev/null || exit 99
done
gpuslots allocate legacy 2 8 --server v100-old
gpuslots allocate cpu-only 0 2 --server a100-02
gpuslots status
gpuslots status --server a100-02
# v100-old leaves the config while it still holds a reservation: a warning under the table.
sed -i '/v100-old/,/cpus: 16/d' gpuslots.yaml
gpuslots status
gpuslots status --task nosuch
echo "rc $?"
gpuslots allocate 'bad id!' 1 1
echo "rc $?"
gpuslots allocate big 9 1
echo "rc $?"
gpuslots allocate big 8 1 --server a100-01
echo "rc $?"
gpuslots release legacy
