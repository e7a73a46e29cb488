#!/bin/sh
# check_untranslated.sh OBJECT...: none of the shared objects refers to a symbol that could make
# its text depend on the locale (gettext's lookups, textdomain, setlocale). The plugin's log
# lines in slurmd's log must never change with the locale; the admin tool alone translates.
command -v nm >/dev/null || { echo "SKIP: nm not found (apt-get install binutils)"; exit 77; }
status=0
for object in "$@"; do
    if ! symbols=$(nm -D --undefined-only "$object"); then
        echo "FAIL: cannot read the dynamic symbols of $object"
        status=1
        continue
    fi
    found=$(printf '%s\n' "$symbols" |
        grep -E ' (d?c?n?gettext|bindtextdomain|bind_textdomain_codeset|textdomain|setlocale|uselocale|newlocale)(@|$)')
    if [ -n "$found" ]; then
        echo "FAIL: $object refers to: $found"
        status=1
    else
        echo "ok: $object refers to no gettext or locale function"
    fi
done
exit $status
