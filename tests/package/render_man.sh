#!/usr/bin/env bash
# render_man.sh DIR: every built page in DIR (*.gz) renders with man, and groff has nothing to
# say about it (lintian's groff-message check, run on the page alone).
set -uo pipefail
dir=${1:?usage: $0 DIR}
command -v man >/dev/null || {
	echo "SKIP: man not found (apt-get install man-db)" >&2
	exit 77
}
status=0
pages=0
for page in "$dir"/*.gz; do
	[ -e "$page" ] || break
	pages=$((pages + 1))
	warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$page" 2>/dev/null | wc -l)
	if [ -n "$warnings" ]; then
		echo "FAIL: $page: $warnings" >&2
		status=1
	elif [ "$text" -lt 20 ]; then
		echo "FAIL: $page renders to $text lines only" >&2
		status=1
	else
		echo "ok: $(basename "$page"): $text lines, no warnings"
	fi
done
[ $pages = 3 ] || { echo "FAIL: expected 3 pages in $dir, found $pages" >&2; status=1; }
exit $status
