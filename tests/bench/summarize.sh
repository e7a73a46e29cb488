#!/usr/bin/env bash
# summarize.sh RESULTS WORK_DIR [SMOKE]: the summary table of run_all.sh from its results file
# (lines "ROUND KEY VALUE"): for each figure the median over the rounds, the spread (min..max),
# the goal from the issue and whether the median meets it. Then the absolute figures behind
# the ratios, for context.
set -euo pipefail
RESULTS=${1:?usage: summarize.sh RESULTS WORK_DIR [SMOKE]}
WORK=${2:?usage: summarize.sh RESULTS WORK_DIR [SMOKE]}
SMOKE=${3:-0}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
fs=$(findmnt -no FSTYPE,SOURCE -T "$WORK" 2>/dev/null | tr -s ' ' || echo "?")
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$REPO" status --porcelain -- lib tools 2>/dev/null | head -1)
rounds=$(awk '{print $1}' "$RESULTS" | sort -u | wc -l)
echo
echo "== gpuslots benchmark summary =="
# The run's own time, from the results file's name (results-YYYYMMDDTHHMMSSZ.txt).
stamp=$(basename "$RESULTS" | sed -n 's/^results-\([0-9]\{8\}\)T\([0-9]\{2\}\)\([0-9]\{2\}\).*/\1 \2:\3/p')
when=$(date -u -d "$stamp" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || date -u '+%Y-%m-%d %H:%M UTC')
echo "date $when; host $(hostname); $(nproc) cores ($cpu);" \
	"kernel $(uname -r)"
echo "work dir $WORK on $fs; gpuslots $commit${dirty:+ (lib/ or tools/ modified)};" \
	"SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1); rounds $rounds"
[ "$SMOKE" = 1 ] && echo "SMOKE RUN: tiny sizes and durations; the figures below mean nothing"

# The table: benchmark | result key | what it is | goal ("" = reported, no goal).
table='
1|b1.full.vs_fsync|reserve+release, 1 process, durability full: ops/s / fsync/s|>=0.9
1|b1.normal.vs_fsync|  the same with durability normal: ops/s / fsync/s|
1|b1.normal_over_full|  normal / full (the price of the default, full)|
2|b2.project.vs_fsync|16 processes: aggregate ops/s / fsync/s|>=0.9
2|b2.project.p99_ms|16 processes: p99 of one operation, ms|<=5
2|b2.project_vs_python|16 processes: ops/s / seed_contention.py 16 (no fsync)|>=2
2|b2.project.p999_ms|  p99.9, ms|
2|b2.project.fairness|  fewest / most operations done by one worker|
2|b2.no_queue_over_project|without the write queue (SQLite lock, lib/ handler) / with: ops/s|
2|b2.no_queue.p99_ms|  without the write queue: p99, ms|
2|b2.no_queue.p999_ms|  without the write queue: p99.9, ms|
2|b2.no_queue.fairness|  without the write queue: fewest / most per worker|
2|b2.sqlite_over_project|without the queue, SQLite busy_timeout handler / with: ops/s|
2|b2.sqlite.p99_ms|  SQLite handler: p99, ms|
2|b2.sqlite.p999_ms|  SQLite handler: p99.9, ms|
2|b2.sqlite.fairness|  SQLite handler: fewest / most per worker|
3|b3.python_over_gpuslots|allocate+release as processes: seed_v01.py / gpuslots|>=25
3|b3.history_python_over_gpuslots|  the same after 1,000 operations by short-lived processes|>=25
3|b3.history_over_new|  gpuslots after those 1,000 operations / on a new ledger|
4|b4.unset.gpuslots_minus_empty_ms|srun --gpu-slots=1 minus empty plugin, PrologFlags unset, ms|<=1.5
4|b4.alloc.gpuslots_minus_empty_ms|srun --gpu-slots=1 minus empty plugin, PrologFlags=Alloc, ms|<=1.5
4|b4.unset.gpuslots_aged_minus_empty_ms|  the same on a ledger after 1,000 operations, unset, ms|<=1.5
4|b4.alloc.gpuslots_aged_minus_empty_ms|  the same on a ledger after 1,000 operations, Alloc, ms|<=1.5
4|b4.unset.gpuslots_normal_minus_empty_ms|  the same with durability normal, unset, ms|
4|b4.alloc.gpuslots_normal_minus_empty_ms|  the same with durability normal, Alloc, ms|
4|b4.unset.plain_minus_empty_ms|  plugin loaded, nothing reserved (no --gpu-slots) - empty, unset, ms|<=0.5
4|b4.alloc.plain_minus_empty_ms|  plugin loaded, nothing reserved (no --gpu-slots) - empty, Alloc, ms|<=0.5
4|b4.unset.gpuslots_over_gres|  srun --gpu-slots=1 / srun --gres=gpu:1 (native), unset (moonshot 1.3)|
4|b4.alloc.gpuslots_over_gres|  srun --gpu-slots=1 / srun --gres=gpu:1 (native), Alloc (moonshot 1.01)|
4|b4.unset.empty_minus_none_ms|  empty plugin minus no plugin, unset, ms|
4|b4.alloc.empty_minus_none_ms|  empty plugin minus no plugin, Alloc, ms|
5|b5.status_large_ms|status --json, 10,000 servers x 8 GPUs, 40,000 reservations, ms|<=60
5|b5.status_large_rss_mib|  peak RSS, MiB|<=64
5|b5.status_large_over_small|  / the same at 4 servers|
5|b5.status_large_hostlist_ms|  the same fleet written as one hostlist entry, ms|<=60
5|b5.snapshot_large_over_small|  in process, read + summarize only: 10,000 / 4 servers|
6|b6.reserve_large_over_small|one reserve on a named server, in process: 10,000 / 4 servers|<=1.5
6|b6.reserve_large_over_small_full|  the same with durability full|<=1.5
6|b6.cli_large_over_small|allocate --server + release as processes: 10,000 / 4 servers|
6|b6.cli_large_hostlist_over_small|  the same, fleet written as one hostlist entry|
6|b6.parse_large_over_small|  config parsing alone, in process: 10,000 / 4 servers|
8|b8.streaming_ms|status --json written in process, 10,000 servers, streaming writer, ms|<=60
8|b8.streaming_cpu_ms|  the same, CPU time of the writing thread, ms|<=60
8|b8.nlohmann_over_streaming|  nlohmann-json tree + dump / streaming writer|
9|b9.pair_p50_mariadb_over_sqlite|prolog reserve + epilog release, MariaDB / SQLite (full): median|
9|b9.pair_p99_mariadb_over_sqlite|  the same, p99|
9|b9.mariadb.pair_p50_ms|  MariaDB: reserve + release, median, ms|
9|b9.mariadb.pair_p99_ms|  MariaDB: reserve + release, p99, ms|
9|b9.sqlite.pair_p50_ms|  SQLite: reserve + release, median, ms|
9|b9.sqlite.pair_p99_ms|  SQLite: reserve + release, p99, ms|
10|b10.spread_over_one|16 reservers on MariaDB: on 16 servers / all on 1 server, ops/s|
10|b10.spread.vs_single_client|  16 servers: commits/s / 1 client'"'"'s durable commits/s|>=1
10|b10.one.vs_single_client|  1 server: commits/s / 1 client'"'"'s durable commits/s|
10|b10.spread.p99_ms|  16 servers: p99 of one operation, ms|
10|b10.one.p99_ms|  1 server: p99 of one operation, ms|
10|b10.spread.failures|  operations that failed (busy, conflict), 16 servers|<=0
10|b10.one.failures|  operations that failed (busy, conflict), 1 server|<=0
11|b11.status_mariadb_large_ms|status --json on MariaDB, 10,000 servers x 8 GPUs, 40,000 reservations, ms|<=100
11|b11.status_mariadb_large_rss_mib|  peak RSS, MiB|<=64
11|b11.mariadb_large_over_small|  / the same at 4 servers on MariaDB|
11|b11.mariadb_over_sqlite_large|  / the same fleet on SQLite (both as one hostlist entry)|
7|b7.after.completed_pct|burst of 60 jobs (1..4 GPU slots) on 3 x 4 GPUs, Slurm counts slots: completed %|>=100
7|b7.before.completed_pct|  the same, Slurm not told about the slots (before): completed %|
7|b7.after.gpu_use|  GPU use, Slurm counting the slots|
7|b7.before.gpu_use|  GPU use, before|
7|b7.after.mean_wait_s|  mean wait of a completed job, Slurm counting the slots, s|
7|b7.before.mean_wait_s|  mean wait of a completed job, before, s|
7|b7.after.overlaps|  jobs on one GPU at the same time, Slurm counting the slots|<=0
7|b7.before.overlaps|  the same, before|<=0
'
context='
b1.fsync_per_s|disk: 4 KiB write+fsync per s (benchmark 1)
b1.full.ops_per_s|1 process, full: ops/s
b1.full.cpu_us_per_op|1 process, full: CPU us per op
b1.normal.ops_per_s|1 process, normal: ops/s
b2.fsync_per_s|disk: 4 KiB write+fsync per s (benchmark 2)
b2.project.ops_per_s|16 processes, write queue: ops/s
b2.project.cpu_us_per_op|16 processes, write queue: CPU us per op
b2.no_queue.ops_per_s|16 processes, no queue, lib/ handler: ops/s
b2.no_queue.cpu_us_per_op|16 processes, no queue, lib/ handler: CPU us per op
b2.sqlite.ops_per_s|16 processes, no queue, SQLite handler: ops/s
b2.python_ops_per_s|seed_contention.py 16: ops/s
b3.gpuslots_pair_ms|gpuslots allocate + release, ms
b3.allocate_ms|  gpuslots allocate, ms
b3.release_ms|  gpuslots release, ms
b3.python_pair_ms|seed_v01.py allocate + release, ms
b3.history_gpuslots_pair_ms|gpuslots allocate + release after 1,000 operations, ms
b3.history_wal_kib|  size of the WAL file by then, KiB
b3.true_ms|spawning /bin/true, ms
b4.unset.none_ms|srun -N1 true, no plugin, PrologFlags unset, ms
b4.unset.empty_ms|srun -N1 true, empty plugin, unset, ms
b4.unset.gpuslots_ms|srun -N1 --gpu-slots=1 true, gpuslots, unset, ms
b4.unset.gpuslots_aged_ms|srun -N1 --gpu-slots=1 true, ledger after 1,000 operations, unset, ms
b4.unset.gres_ms|srun -N1 --gres=gpu:1 true, native gres, unset, ms
b4.alloc.none_ms|srun -N1 true, no plugin, PrologFlags=Alloc, ms
b4.alloc.empty_ms|srun -N1 true, empty plugin, Alloc, ms
b4.alloc.gpuslots_ms|srun -N1 --gpu-slots=1 true, gpuslots, Alloc, ms
b4.alloc.gpuslots_aged_ms|srun -N1 --gpu-slots=1 true, ledger after 1,000 operations, Alloc, ms
b4.alloc.gres_ms|srun -N1 --gres=gpu:1 true, native gres, Alloc, ms
b5.status_small_ms|status --json, 4 servers, ms
b5.status_small_rss_mib|status --json, 4 servers, peak RSS MiB
b5.status_large_hostlist_rss_mib|status --json, 10,000 servers as a hostlist, peak RSS MiB
b6.cli_small_ms|allocate --server + release, 4 servers, ms
b6.cli_large_ms|allocate --server + release, 10,000 servers, ms
b6.cli_large_hostlist_ms|allocate --server + release, 10,000 servers as a hostlist, ms
b6.reserve_small_normal_us|one reserve in process, 4 servers, normal, us
b6.reserve_large_normal_us|one reserve in process, 10,000 servers, normal, us
b6.parse_small_us|config parsing in process, 4 servers, us
b6.parse_large_us|config parsing in process, 10,000 servers, us
b6.snapshot_large_us|read all reservations + summarize, 10,000 servers, us
b9.mariadb.reserve_p50_ms|MariaDB prolog reserve (connect + reserve), median, ms
b9.mariadb.release_p50_ms|MariaDB epilog release (connect + release), median, ms
b9.sqlite.reserve_p50_ms|SQLite prolog reserve (open + reserve), median, ms
b9.sqlite.release_p50_ms|SQLite epilog release (open + release), median, ms
b10.single_client_commits_per_s|MariaDB, 1 client: durable commits/s
b10.spread.ops_per_s|16 processes on 16 servers: commits/s
b10.one.ops_per_s|16 processes on 1 server: commits/s
b11.status_mariadb_small_ms|status --json on MariaDB, 4 servers, ms
b11.status_sqlite_large_ms|status --json on SQLite, 10,000 servers as a hostlist, ms
b8.nlohmann_ms|status --json written in process as an nlohmann-json tree, 10,000 servers, ms
b8.nlohmann_cpu_ms|  the same, CPU time, ms
'

awk -v table="$table" -v context="$context" '
function fmt(v) {
	if (v == "") return "-"
	a = v < 0 ? -v : v
	if (a >= 100) return sprintf("%.0f", v)
	if (a >= 10) return sprintf("%.1f", v)
	if (a >= 0.1) return sprintf("%.2f", v)
	return sprintf("%.3f", v)
}
function stats(key,    n, i, j, t, arr) {
	n = split(vals[key], arr, " ")
	if (n == 0 || vals[key] == "") { med = ""; lo = ""; hi = ""; return 0 }
	for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] + 0 > t + 0; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
	med = (n % 2) ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
	lo = arr[1]; hi = arr[n]
	return n
}
{ vals[$2] = (vals[$2] == "" ? "" : vals[$2] " ") $3 }
END {
	printf "%-2s %-68s %8s  %-17s %-7s %s\n", "#", "figure (median over rounds)", "median", "spread (min..max)", "goal", "verdict"
	n = split(table, rows, "\n")
	for (r = 1; r <= n; r++) {
		if (rows[r] == "") continue
		split(rows[r], f, "|")
		k = stats(f[2])
		verdict = ""
		if (k == 0) verdict = "skipped"
		else if (f[4] ~ /^>=/) verdict = (med + 0 >= substr(f[4], 3) + 0) ? "met" : "MISSED"
		else if (f[4] ~ /^<=/) verdict = (med + 0 <= substr(f[4], 3) + 0) ? "met" : "MISSED"
		spread = k == 0 ? "-" : fmt(lo) ".." fmt(hi)
		printf "%-2s %-68s %8s  %-17s %-7s %s\n", f[1], f[3], fmt(med), spread, f[4], verdict
	}
	print ""
	printf "%-70s %8s  %s\n", "absolute figures behind the ratios", "median", "spread"
	n = split(context, rows, "\n")
	for (r = 1; r <= n; r++) {
		if (rows[r] == "") continue
		split(rows[r], f, "|")
		k = stats(f[1])
		if (k == 0) continue
		printf "%-70s %8s  %s\n", f[2], fmt(med), fmt(lo) ".." fmt(hi)
	}
}' "$RESULTS" | sed 's/ *$//'
echo
echo "raw results: $RESULTS"
