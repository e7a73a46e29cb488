#!/usr/bin/env python3
"""burst_report.py GPUS_TOTAL OUTPUT_FILE...

Reads what the jobs of a burst wrote (tests/integration/scenarios/scheduling.sh, the `burst`
job script; also used by tests/bench/slurm_burst.sh):

  BURST job=J node=N want=W gpus=0,2 submitted=T0 start=T1 end=T2

and prints one `key value` line each for: jobs (lines read), short (jobs that got other than
`want` GPUs), overlaps (pairs of jobs that held the same GPU of the same node at the same
time), max_running, mean_wait_s (start - submitted), span_s (first start .. last end) and
gpu_use (GPU-seconds held / (GPUS_TOTAL x span)). Nothing here decides pass or fail: the
scenario and the benchmark do.
"""
import re
import sys

LINE = re.compile(r"^BURST job=(\d+) node=(\S+) want=(\d+) gpus=(\S*) submitted=([\d.]+) "
                  r"start=([\d.]+) end=([\d.]+)$")


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    gpus_total = int(argv[1])
    jobs = []
    for path in argv[2:]:
        with open(path, errors="replace") as f:
            for line in f:
                m = LINE.match(line.strip())
                if m:
                    job, node, want, gpus, t0, t1, t2 = m.groups()
                    jobs.append((job, node, int(want), [g for g in gpus.split(",") if g],
                                 float(t0), float(t1), float(t2)))
    short = sum(1 for j in jobs if len(j[3]) != j[2])
    overlaps = 0
    held = {}
    for job, node, _, gpus, _, start, end in jobs:
        for g in gpus:
            held.setdefault((node, g), []).append((start, end, job))
    for intervals in held.values():
        intervals.sort()
        for i in range(len(intervals)):
            for k in range(i + 1, len(intervals)):
                if intervals[k][0] >= intervals[i][1]:
                    break
                overlaps += 1
    events = sorted([(j[5], 1) for j in jobs] + [(j[6], -1) for j in jobs],
                    key=lambda e: (e[0], e[1]))
    running = max_running = 0
    for _, delta in events:
        running += delta
        max_running = max(max_running, running)
    span = (max(j[6] for j in jobs) - min(j[5] for j in jobs)) if jobs else 0.0
    gpu_seconds = sum(len(j[3]) * (j[6] - j[5]) for j in jobs)
    print("jobs", len(jobs))
    print("short", short)
    print("overlaps", overlaps)
    print("max_running", max_running)
    print("mean_wait_s", "%.2f" % (sum(j[5] - j[4] for j in jobs) / len(jobs) if jobs else 0))
    print("span_s", "%.2f" % span)
    print("gpu_use", "%.2f" % (gpu_seconds / (gpus_total * span) if span > 0 else 0))


if __name__ == "__main__":
    main(sys.argv)
