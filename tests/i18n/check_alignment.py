#!/usr/bin/env python3
"""check_alignment.py FILE...: every status table in the files lines up in display columns.

The expected outputs of the status_table cases are compared byte for byte with what the tool
prints; this checks that what they hold is right: in each table (a heading line and its rows,
up to the totals), every right-aligned column ends in the same display column on every line,
counting East Asian wide and fullwidth characters as two columns, as a terminal shows them.
"""
import re
import sys
import unicodedata

HEADINGS = ("SERVER", "サーバー")
TOTALS = ("TOTAL", "合計")


def width(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_ends(line):
    """Display columns where the 2nd..5th fields end (fields are separated by 2+ spaces)."""
    fields = list(re.finditer(r"\S+(?: \S+)*", line))
    return [width(line[: f.end()]) for f in fields[1:5]]


problems = []
tables = 0
for path in sys.argv[1:]:
    table = None
    for number, line in enumerate(open(path, encoding="utf-8").read().splitlines(), 1):
        if line.startswith(HEADINGS):
            table = (number, column_ends(line))
            tables += 1
            continue
        if table is None:
            continue
        ends = column_ends(line)
        if ends != table[1]:
            problems.append(f"{path}:{number}: columns end at {ends}, the heading's (line "
                            f"{table[0]}) at {table[1]}: {line!r}")
        if line.startswith(TOTALS):
            table = None
for p in problems:
    print(p)
print(f"{tables} table(s) checked in {len(sys.argv) - 1} file(s)")
sys.exit(1 if problems or tables == 0 else 0)
