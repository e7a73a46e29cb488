#!/usr/bin/env python3
"""check_man.py TOOL SOURCE_DIR: the man pages' sources cannot drift from what they document.

gpuslots(1), tools/gpuslots.1.scd:
  - every global option of `gpuslots --help` is a term (*--opt*) under OPTIONS;
  - every subcommand, at every depth (`gpuslots db init`), has its own section
    (## status, ## db init) under COMMANDS, and every section there is a real subcommand;
  - in each subcommand's section: each of its options (*--opt*) and positionals (_NAME_);
  - every exit code of the --help footer is a term (*N*) under EXIT STATUS.
gpuslots.yaml(5), etc/gpuslots.yaml.5.scd:
  - every key of the example etc/gpuslots.yaml, as a path (*state.path*, *servers[].name*,
    *requests.gpus.min*);
  - every key the example only shows in a comment (`#   total_servers: 2`) as a term.
Prints each omission and exits 1; 77 (skipped) when python3-yaml is missing.
"""
import re
import subprocess
import sys
from pathlib import Path

try:
    import yaml
except ImportError:
    print("SKIP: python3-yaml not found (apt-get install python3-yaml)", file=sys.stderr)
    sys.exit(77)

tool, source = sys.argv[1], Path(sys.argv[2])
failures = []


def help_of(path):
    """(subcommands, options, positionals) that `gpuslots PATH --help` lists."""
    out = subprocess.run([tool, *path, "--help"], capture_output=True, text=True, check=True).stdout
    subs, options, positionals, exit_codes = [], [], [], []
    section = None
    for line in out.splitlines():
        header = re.fullmatch(r"([A-Za-z ]+):", line)
        if header:
            section = header.group(1).lower()
            continue
        if section == "subcommands":
            m = re.match(r"  ([a-z][a-z0-9_-]*)(\s|$)", line)
            if m:
                subs.append(m.group(1))
        elif section == "options":
            m = re.match(r"  (-[^ ]+)", line)
            if m:
                options += [n for n in m.group(1).split(",") if n.startswith("--")]
        elif section == "positionals":
            m = re.match(r"  ([A-Z][A-Z0-9_]*)\s", line)
            if m:
                positionals.append(m.group(1))
        elif section == "exit codes":
            m = re.match(r"  (\d+)  ", line)
            if m:
                exit_codes.append(m.group(1))
    return subs, options, positionals, exit_codes


def sections(text, level):
    """{title: body} of the headings of one level ('#' or '##')."""
    result, title, body = {}, None, []
    for line in text.splitlines():
        m = re.match(r"(#+) (.*)", line)
        if m and len(m.group(1)) <= len(level):
            if title is not None:
                result[title] = "\n".join(body)
            title, body = (m.group(2).strip(), []) if m.group(1) == level else (None, [])
            continue
        body.append(line)
    if title is not None:
        result[title] = "\n".join(body)
    return result


def need(where, text, pattern, what):
    if not re.search(pattern, text):
        failures.append(f"{where}: {what} is not documented")


# ---- gpuslots(1)
page = (source / "tools/gpuslots.1.scd").read_text()
top = sections(page, "#")
subs, options, _, exit_codes = help_of([])
if not subs or not options or not exit_codes:
    failures.append(f"could not read the subcommands, options and exit codes of '{tool} --help'")
for opt in options:
    if opt != "--help":
        need("gpuslots.1 OPTIONS", top.get("OPTIONS", ""), rf"\*{re.escape(opt)}\*", opt)
for code in exit_codes:
    need("gpuslots.1 EXIT STATUS", top.get("EXIT STATUS", ""), rf"(?m)^\*{code}\*$",
         f"exit code {code}")

commands = sections(top.get("COMMANDS", ""), "##")
seen = set()
todo = [[s] for s in subs]
while todo:
    path = todo.pop(0)
    name = " ".join(path)
    seen.add(name)
    sub_subs, sub_options, positionals, _ = help_of(path)
    todo += [path + [s] for s in sub_subs]
    if name not in commands:
        failures.append(f"gpuslots.1 COMMANDS: subcommand '{name}' has no '## {name}' section")
        continue
    body = commands[name]
    for opt in sub_options:
        if opt != "--help":
            need(f"gpuslots.1 '## {name}'", body, rf"\*{re.escape(opt)}\*", opt)
    for pos in positionals:
        need(f"gpuslots.1 '## {name}'", body, rf"_{pos}_", f"argument {pos}")
for name in commands:
    if name not in seen:
        failures.append(f"gpuslots.1 COMMANDS: '## {name}' is not a subcommand of '{tool}'")

# ---- gpuslots.yaml(5)
config_page = (source / "etc/gpuslots.yaml.5.scd").read_text()
example = (source / "etc/gpuslots.yaml").read_text()


def key_paths(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from key_paths(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from key_paths(item, prefix + "[]")


keys = sorted(set(key_paths(yaml.safe_load(example))))
if not keys:
    failures.append("etc/gpuslots.yaml: no keys found")
for path in keys:
    need("gpuslots.yaml.5", config_page, rf"\*{re.escape(path)}\*", f"key {path}")
commented = sorted(set(re.findall(r"(?m)^\s*#\s+([a-z_]+):(?:\s|$)", example)))
for key in commented:
    need("gpuslots.yaml.5", config_page, rf"\*([a-z_.\[\]]*\.)?{key}\*",
         f"'{key}' (shown in a comment of etc/gpuslots.yaml)")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"ok: gpuslots.1 documents {len(seen)} subcommand(s), their options and arguments, "
      f"{len(options)} global option(s) and {len(exit_codes)} exit codes; gpuslots.yaml.5 "
      f"documents {len(keys)} key(s) of etc/gpuslots.yaml and {len(commented)} shown in comments")
