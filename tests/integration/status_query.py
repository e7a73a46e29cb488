#!/usr/bin/env python3
"""status_query.py QUERY [ARG...] < status.json

Answers one question about the output of `gpuslots status --json` for the integration
scenarios (lib.sh), so that they need nothing beyond python3 to read it.

  gpus NODE JOB     the GPUs Slurm job JOB holds on NODE, "0,1" ("" for none), or NONE
  cpus NODE JOB     its CPUs there, or NONE
  task NODE JOB     "ORIGIN GPU_COUNT CPUS OWNER" of that reservation, or NONE
  owner JOB         "OWNER OWNER_UID" of the job's first reservation, or NONE
  nodes JOB         the nodes where JOB holds a reservation, space separated
  nodes_of_task ID  the nodes where manual task ID holds a reservation, space separated
  manual_gpus NODE ID  the GPUs manual task ID holds on NODE, "0,1", or NONE
  tasks             the total number of reservations
  slurm_held        "NODE JOB GPU_COUNT" for every Slurm job's reservation, one per line
  gpus_total NODE   NODE's GPU count
  max_gpus          the largest server's GPU count
  snapshot          every server's free counts and tasks, one canonical line
  inconsistent      the servers whose books do not add up (a GPU held twice, or
                    free + held != total), one per line; nothing when all is well
"""
import json
import sys


def slurm_tasks(status, node, job):
    return [t for s in status["servers"] if s["name"] == node
            for t in s["tasks"] if t.get("origin") == "slurm" and t["id"] == job]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    query, args = argv[1], argv[2:]
    status = json.load(sys.stdin)
    servers = status["servers"]
    if query == "gpus":
        found = slurm_tasks(status, *args)
        print(",".join(map(str, found[0]["gpus"])) if found else "NONE")
    elif query == "cpus":
        found = slurm_tasks(status, *args)
        print(found[0]["cpus"] if found else "NONE")
    elif query == "task":
        found = slurm_tasks(status, *args)
        print("{origin} {n} {cpus} {owner}".format(n=len(found[0]["gpus"]), **found[0])
              if found else "NONE")
    elif query == "owner":
        found = [t for s in servers for t in s["tasks"] if t["id"] == args[0]]
        print("{owner} {owner_uid}".format(**found[0]) if found else "NONE")
    elif query == "nodes":
        print(" ".join(s["name"] for s in servers
                       if any(t.get("origin") == "slurm" and t["id"] == args[0]
                              for t in s["tasks"])))
    elif query == "slurm_held":
        for s in servers:
            for t in s["tasks"]:
                if t.get("origin") == "slurm":
                    print(s["name"], t["id"], len(t["gpus"]))
    elif query == "nodes_of_task":
        print(" ".join(s["name"] for s in servers
                       if any(t.get("origin") == "manual" and t["id"] == args[0]
                              for t in s["tasks"])))
    elif query == "manual_gpus":
        found = [t for s in servers if s["name"] == args[0] for t in s["tasks"]
                 if t.get("origin") == "manual" and t["id"] == args[1]]
        print(",".join(map(str, found[0]["gpus"])) if found else "NONE")
    elif query == "tasks":
        print(status["totals"]["tasks"])
    elif query == "gpus_total":
        print(next(s["gpus_total"] for s in servers if s["name"] == args[0]))
    elif query == "max_gpus":
        print(max(s["gpus_total"] for s in servers))
    elif query == "snapshot":
        print(json.dumps([{k: s[k] for k in ("name", "gpus_free", "cpus_free", "tasks")}
                          for s in servers], sort_keys=True))
    elif query == "inconsistent":
        for s in servers:
            held = [g for t in s["tasks"] for g in t["gpus"]]
            if len(held) != len(set(held)) or s["gpus_total"] - s["gpus_free"] != len(held) \
                    or any(not 0 <= g < s["gpus_total"] for g in held):
                print(s["name"])
    else:
        sys.exit(f"status_query.py: unknown query {query!r}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv)
