#!/bin/sh
# xgettext.sh SOURCE_DIR OUT: the template of every message the admin tool can print
# (tools/text.hpp says how they are marked), from the sources it is built from: tools/ and
# lib/ without lib/slurm/ (the plugin's, which the tool does not link and which is never
# translated). Sorted, with file names but no line numbers and no creation date, so that the
# committed po/gpuslots.pot changes only when a message does. Used by the target `pot` and by
# the test i18n.catalogue: one list of keywords.
set -eu
src=${1:?usage: $0 SOURCE_DIR OUT}
out=${2:?usage: $0 SOURCE_DIR OUT}
cd "$src"
files=$(ls tools/*.cpp tools/*.hpp lib/*.cpp lib/*.hpp lib/gpuslots/*.hpp lib/controller/*.cpp \
    lib/controller/gpuslots/*.hpp 2>/dev/null | LC_ALL=C sort)
# shellcheck disable=SC2086
xgettext --language=C++ --from-code=UTF-8 --no-wrap --sort-output --add-location=file \
    --keyword= --keyword=tr --keyword=say --keyword=warn --keyword=complain \
    --keyword=make_error:2 --keyword=fail:2 \
    --package-name=gpuslots --msgid-bugs-address=gpuslots@example.org \
    --copyright-holder="gpuslots maintainers" \
    -o "$out.tmp" $files
sed -e '/^"POT-Creation-Date:/d' "$out.tmp" >"$out"
rm -f "$out.tmp"
