#!/usr/bin/env python3
"""check_catalogue.py SOURCE_DIR WORK_DIR: the admin tool's catalogues are complete and sound.

1. po/gpuslots.pot is what po/xgettext.sh makes from the sources now (else: a message was
   added or changed without `cmake --build build --target pot`).
2. Each po/<lang>.po translates every message of that template: `msgcmp` (an entry that is
   missing, untranslated or fuzzy counts as missing), and no entry is fuzzy or empty.
3. Each translation has the same {} fields as its template: the same arguments, each with the
   same format spec, either in the template's order (unnumbered) or numbered ({1} ... {0}).
   fmt would throw on a translation that names an argument the template lacks, and tr() would
   fall back to English; a dropped argument would silently lose information.
Exit 0: all good; 1: a problem (each printed on its own line); 77: gettext's tools are missing.
"""
import pathlib
import re
import shutil
import subprocess
import sys

src = pathlib.Path(sys.argv[1])
work = pathlib.Path(sys.argv[2])
for tool in ("xgettext", "msgcmp"):
    if shutil.which(tool) is None:
        print(f"SKIP: {tool} not found (apt-get install gettext)")
        sys.exit(77)

problems = []
work.mkdir(parents=True, exist_ok=True)
fresh = work / "gpuslots.pot"
subprocess.run(["sh", str(src / "po/xgettext.sh"), str(src), str(fresh)], check=True)
committed = src / "po/gpuslots.pot"
if not committed.exists() or committed.read_text() != fresh.read_text():
    problems.append("po/gpuslots.pot is out of date with the sources; run "
                    "'cmake --build build --target pot' and update the catalogues "
                    f"(diff -u {committed} {fresh})")


def entries(path):
    """(msgid, msgstr, flags) of each entry of a PO file, the header left out."""
    out = []
    cur = None
    field = None
    flags = set()
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("#,"):
            flags |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("msgid "):
            cur = {"msgid": "", "msgstr": "", "flags": flags}
            flags = set()
            field = "msgid"
            cur[field] += eval(line[6:])  # a C string literal: the same escapes as Python's
        elif line.startswith("msgstr "):
            field = "msgstr"
            cur[field] += eval(line[7:])
        elif line.startswith('"') and cur is not None:
            cur[field] += eval(line)
        elif not line.strip() and cur is not None:
            if cur["msgid"]:
                out.append((cur["msgid"], cur["msgstr"], cur["flags"]))
            cur = None
    return out


FIELD = re.compile(r"\{\{|\}\}|\{([0-9]*)(:[^{}]*)?\}")


def fields(text):
    """[(index or None, spec)] of the replacement fields of a fmt template."""
    return [(m.group(1), m.group(2) or "") for m in FIELD.finditer(text)
            if m.group(0) not in ("{{", "}}")]


def fields_match(msgid, msgstr):
    want = fields(msgid)
    got = fields(msgstr)
    if all(i in (None, "") for i, _ in want):
        want = [(str(n), spec) for n, (_, spec) in enumerate(want)]
    if all(i in (None, "") for i, _ in got):
        return [(str(n), spec) for n, (_, spec) in enumerate(got)] == want
    if any(i in (None, "") for i, _ in got):
        return False  # numbered and unnumbered mixed: fmt refuses it
    return sorted(got) == sorted(want)


template = {m for m, _, _ in entries(fresh)}
for po in sorted((src / "po").glob("*.po")):
    name = f"po/{po.name}"
    run = subprocess.run(["msgcmp", str(po), str(fresh)], capture_output=True, text=True)
    if run.returncode != 0:
        problems.append(f"{name}: msgcmp: does not translate every message of the sources:")
        problems.extend("  " + line for line in run.stderr.splitlines())
    for msgid, msgstr, flags in entries(po):
        if msgid not in template:
            problems.append(f"{name}: {msgid!r} is not a message of the sources any more "
                            "(msgmerge it with po/gpuslots.pot)")
        if "fuzzy" in flags:
            problems.append(f"{name}: {msgid!r} is fuzzy; review it and remove the flag")
        elif not msgstr:
            problems.append(f"{name}: {msgid!r} is not translated")
        elif not fields_match(msgid, msgstr):
            problems.append(f"{name}: {msgid!r}: the translation {msgstr!r} has other {{}} "
                            "fields than the template (same arguments and specs; numbered "
                            "{0} {1} to reorder them)")
        elif msgid.endswith("\n") != msgstr.endswith("\n"):
            problems.append(f"{name}: {msgid!r}: the translation must end with a newline "
                            "exactly when the template does")
    print(f"{name}: {len(entries(po))} messages checked")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
