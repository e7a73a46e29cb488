#!/usr/bin/env bash
# install_deb.sh DEB BUILT_TOOL: install the package into a clean, empty root with dpkg
# itself (dpkg --root: its own database, conffiles registered, nothing of this machine's
# touched), check that every part is where the README says, and run the installed tool:
# `gpuslots --version` (the same line as the build's) and `check-config` on the installed
# example config (its ledger moved into the temporary root).
set -uo pipefail
deb=${1:?usage: $0 DEB BUILT_TOOL}
built=${2:?usage: $0 DEB BUILT_TOOL}
[ -e "$deb" ] || {
	echo "SKIP: no package at $deb (package.deb.build was skipped or failed)" >&2
	exit 77
}
root=$(mktemp -d /tmp/gpuslots-deb.XXXXXX) || exit 1
trap 'rm -rf "$root"' EXIT
status=0
bad() {
	echo "FAIL: $*" >&2
	status=1
}

mkdir -p "$root"/var/lib/dpkg/{info,updates,triggers} && touch "$root"/var/lib/dpkg/{status,available}
force=--force-depends # the clean root has none of the libraries; this machine has them
[ "$(id -u)" = 0 ] || force+=,not-root
if ! dpkg --root="$root" $force --log=/dev/null -i "$deb" >"$root.log" 2>&1; then
	cat "$root.log"
	bad "dpkg --root -i $deb"
	exit 1
fi
dpkg --root="$root" -s gpuslots | grep -q '^Status: install ok installed$' ||
	bad "dpkg does not list gpuslots as installed in $root"

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
plugin=/usr/lib/$multiarch/slurm/gpuslots.so
for path in /usr/bin/gpuslots "$plugin" "${plugin%/*}/gpuslots-core.so" /usr/share/lua/5.1/gpuslots_job_submit.lua \
	/etc/gpuslots/gpuslots.yaml.example /etc/slurm/plugstack.conf.d/gpuslots.conf \
	/usr/share/man/man1/gpuslots.1.gz /usr/share/man/man5/gpuslots.yaml.5.gz \
	/usr/share/man/man8/gpuslots.so.8.gz /usr/share/bash-completion/completions/gpuslots \
	/usr/share/doc/gpuslots/copyright /usr/share/doc/gpuslots/changelog.gz \
	/usr/share/locale/ja/LC_MESSAGES/gpuslots.mo; do
	[ -f "$root$path" ] || bad "the package does not install $path"
done
# Every systemd unit of etc/systemd/ (others may be added there at any time).
src=$(cd "$(dirname "$0")/../.." && pwd)
for unit in "$src"/etc/systemd/*; do
	[ -e "$unit" ] || continue
	name=$(basename "$unit")
	[ -f "$root/usr/lib/systemd/system/$name" ] || bad "the package does not install /usr/lib/systemd/system/$name"
	for exe in $(sed -n 's/^Exec[A-Za-z]*=[-@!+]*\([^ ]*\).*/\1/p' "$root/usr/lib/systemd/system/$name" 2>/dev/null); do
		[ -x "$root$exe" ] || bad "$name runs $exe, which the package does not install"
	done
done
conffiles=$(dpkg --root="$root" -s gpuslots | sed -n '/^Conffiles:/,/^[A-Z]/p')
for path in /etc/gpuslots/gpuslots.yaml.example /etc/slurm/plugstack.conf.d/gpuslots.conf; do
	grep -q " $path " <<<"$conffiles" || bad "$path is not a conffile"
done
grep -Eq "^required $plugin config=/etc/gpuslots/gpuslots.yaml\$" "$root"/etc/slurm/plugstack.conf.d/gpuslots.conf ||
	bad "the plugstack drop-in does not name $plugin: $(grep -v '^#' "$root"/etc/slurm/plugstack.conf.d/gpuslots.conf)"

tool=$root/usr/bin/gpuslots
version=$("$tool" --version) || bad "the installed gpuslots --version exited $?"
expected=$("$built" --version)
[ "$version" = "$expected" ] || bad "installed --version says '$version', the build says '$expected'"
# The installed example, with its ledger in the temporary root.
sed "s|^  path: /var/lib/gpuslots/state.db\$|  path: $root/var/lib/gpuslots/state.db|" \
	"$root"/etc/gpuslots/gpuslots.yaml.example >"$root"/etc/gpuslots/gpuslots.yaml
grep -q "path: $root/" "$root"/etc/gpuslots/gpuslots.yaml || bad "could not move the example's ledger into $root"
if "$tool" --config "$root"/etc/gpuslots/gpuslots.yaml check-config >"$root.check" 2>&1; then
	grep -q "^config $root/etc/gpuslots/gpuslots.yaml: OK\$" "$root.check" || bad "check-config said: $(cat "$root.check")"
else
	bad "the installed check-config exited $?: $(cat "$root.check")"
fi
# The installed Japanese catalogue is the one the tool reads (pointed into the root: the
# tool's compiled-in /usr/share/locale is this machine's). Only where the locale exists.
if LC_ALL=ja_JP.UTF-8 locale 2>&1 >/dev/null | grep -q .; then
	echo "note: no ja_JP.UTF-8 locale here; the installed catalogue is not tried"
else
	said=$(LC_ALL=ja_JP.UTF-8 GPUSLOTS_LOCALEDIR="$root/usr/share/locale" \
		"$tool" --config "$root"/etc/gpuslots/gpuslots.yaml check-config 2>&1)
	grep -q "^設定 $root/etc/gpuslots/gpuslots.yaml: OK\$" <<<"$said" ||
		bad "check-config under ja_JP.UTF-8 with the installed catalogue said: $said"
fi
# The installed plugin loads with the libraries this machine has (the Depends are honest).
missing=$(ldd "$root$plugin" 2>&1 | grep 'not found')
[ -z "$missing" ] || bad "$plugin needs libraries that are missing: $missing"

rm -f "$root.log" "$root.check"
[ $status = 0 ] && echo "ok: dpkg --root installs $(basename "$deb"); the installed tool says '$version' and checks the installed example config"
exit $status
