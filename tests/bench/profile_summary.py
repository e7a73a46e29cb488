#!/usr/bin/env python3
"""profile_summary.py TRACE_DIR: summarize profile_hooks.sh's per-process strace files.

Each file is one process that slurmd started (strace -ff -ttt -T -s 300). A process is
classified by what it is (an `slurmstepd spank prolog|epilog` run, or a step's slurmstepd) and
by what the plugin logged in it (a GPU job or a job without options); then, per class, the
median wall time (first to last system call) and, per process, the system calls that took the
most time (median count and median time), sync calls always shown.
"""
import collections
import os
import re
import statistics
import sys

LINE = re.compile(r'^(\d+\.\d+) (\w+)\((.*)\) += (.*?)(?: <(\d+\.\d+)>)?$')
SYNC = {"fsync", "fdatasync", "sync_file_range", "msync", "syncfs"}


def classify(text, execs):
    if any('"spank", "prolog"' in e for e in execs):
        kind = "prolog"
    elif any('"spank", "epilog"' in e for e in execs):
        kind = "epilog"
    elif any("slurmstepd" in e for e in execs):
        kind = "step"
    else:
        return None
    if kind in ("prolog", "epilog"):
        job = "plain" if "no slots asked for" in text else "gpu"
    else:
        if "from the step settings" in text:
            job = "plain (fast path)"
        elif "no reservation" in text:
            job = "plain (core)"
        elif "init_post_opt: job" in text:
            job = "gpu"
        else:
            return None
    return kind, job


def parse(path):
    calls = collections.defaultdict(lambda: [0, 0.0])
    first = last = None
    execs, text = [], []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                continue
            t, name, args, _ret, dur = m.groups()
            t = float(t)
            d = float(dur) if dur else 0.0
            first = t if first is None else first
            last = t + d
            calls[name][0] += 1
            calls[name][1] += d
            if name == "execve":
                execs.append(args)
            elif name in ("write", "writev", "sendto", "pwrite64"):
                text.append(args)
    return first, last, execs, "\n".join(text), calls


def main():
    tdir = sys.argv[1]
    groups = collections.defaultdict(list)
    for name in sorted(os.listdir(tdir)):
        first, last, execs, text, calls = parse(os.path.join(tdir, name))
        if first is None:
            continue
        c = classify(text, execs)
        if c is not None:
            groups[c].append((last - first, calls))
    if not groups:
        print("no hook processes found in", tdir)
        return 1
    for (kind, job), procs in sorted(groups.items()):
        walls = [w for w, _ in procs]
        names = set()
        for _, calls in procs:
            names.update(calls)
        per = {}
        for n in names:
            counts = [calls[n][0] if n in calls else 0 for _, calls in procs]
            times = [calls[n][1] if n in calls else 0.0 for _, calls in procs]
            per[n] = (statistics.median(counts), statistics.median(times))
        total = statistics.median(sum(v[1] for v in calls.values()) for _, calls in procs)
        print(f"== {kind}, {job} job: {len(procs)} processes; wall {statistics.median(walls) * 1e3:.2f} ms "
              f"median (quartiles {statistics.quantiles(walls, n=4)[0] * 1e3:.2f}.."
              f"{statistics.quantiles(walls, n=4)[2] * 1e3:.2f}); in system calls {total * 1e3:.2f} ms")
        top = sorted(per.items(), key=lambda kv: -kv[1][1])
        shown = [kv for kv in top if kv[0] in SYNC] + [kv for kv in top if kv[0] not in SYNC][:10]
        print("   call                count/process   ms/process")
        for n, (cnt, tm) in shown:
            print(f"   {n:<20}{cnt:>10g}   {tm * 1e3:>10.3f}")
        n_calls = statistics.median(sum(v[0] for v in calls.values()) for _, calls in procs)
        print(f"   (all calls: {n_calls:g} per process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
