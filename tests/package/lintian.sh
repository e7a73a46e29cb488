#!/usr/bin/env bash
# lintian.sh DEB: Debian's own checker on the package. Fails on any error, and on any warning
# that is not one of those accepted below, each with the reason (also in the README).
set -uo pipefail
deb=${1:?usage: $0 DEB}
command -v lintian >/dev/null || {
	echo "SKIP: lintian not found (apt-get install lintian)" >&2
	exit 77
}
[ -e "$deb" ] || {
	echo "SKIP: no package at $deb (package.deb.build was skipped or failed)" >&2
	exit 77
}
# tag: why it is accepted
declare -A accepted=(
)
lintian --version
out=$(lintian --tag-display-limit 0 --display-info "$deb" 2>&1)
echo "$out"
status=0
while read -r severity _ tag _; do
	case $severity in
	E:)
		echo "FAIL: lintian error: $tag" >&2
		status=1
		;;
	W:)
		if [ -z "${accepted[$tag]+x}" ]; then
			echo "FAIL: lintian warning not accepted in $0: $tag" >&2
			status=1
		fi
		;;
	esac
done <<<"$out"
grep -q '^E: ' <<<"$out" || echo "lintian: no errors"
for tag in "${!accepted[@]}"; do
	grep -q "^W: [^ ]* $tag" <<<"$out" && echo "accepted warning $tag: ${accepted[$tag]}"
done
exit $status
