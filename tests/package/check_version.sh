#!/usr/bin/env bash
# check_version.sh TOOL SOURCE_DIR SLURM_VERSION: `gpuslots --version` says the project's
# version, the git revision of the checkout it was configured from (12 hex digits) and the
# Slurm version the plugin was built against, on one line; and a tree that is not a git
# checkout (a release tarball) configures to "git unknown" instead of failing or lying.
set -uo pipefail
tool=${1:?usage: $0 TOOL SOURCE_DIR SLURM_VERSION}
src=${2:?usage: $0 TOOL SOURCE_DIR SLURM_VERSION}
slurm=${3:?usage: $0 TOOL SOURCE_DIR SLURM_VERSION}
status=0
bad() {
	echo "FAIL: $*" >&2
	status=1
}
line=$("$tool" --version) || bad "gpuslots --version exited $?"
version=$(sed -n 's/^project(gpuslots VERSION \([0-9.]*\).*/\1/p' "$src"/CMakeLists.txt)
rev=unknown
if command -v git >/dev/null && [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" = "$(realpath "$src")" ]; then
	rev=$(git -C "$src" rev-parse --short=12 HEAD)
fi
expected="gpuslots $version (git $rev, built against Slurm $slurm)"
[ "$line" = "$expected" ] || bad "--version says '$line', expected '$expected'"
[[ $line =~ ^gpuslots\ [0-9]+\.[0-9]+\.[0-9]+\ \(git\ ([0-9a-f]{12}|unknown),\ built\ against\ Slurm\ ([0-9]+\.[0-9]{2}\.[0-9]+|none)\)$ ]] ||
	bad "--version is not of the documented form: '$line'"
[ "$(wc -l <<<"$line")" = 1 ] || bad "--version printed more than one line"

# The same sources outside any git checkout: configure only, then read the generated file.
tmp=$(mktemp -d /tmp/gpuslots-version.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
tar -C "$src" --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp" -xf - ||
	bad "could not copy $src"
mkdir "$tmp/src" && (cd "$tmp" && find . -maxdepth 1 ! -name . ! -name src -exec mv {} src/ \;)
if cmake -S "$tmp/src" -B "$tmp/build" -DGPUSLOTS_BUILD_TESTS=OFF -DGPUSLOTS_BUILD_BENCH=OFF \
	-DGPUSLOTS_SANITIZER_TESTS=OFF >"$tmp/configure.log" 2>&1; then
	grep -q '"gpuslots '"$version"' (git unknown, built against Slurm "' "$tmp/build/lib/version.cpp" ||
		bad "outside a git checkout the version line is not 'git unknown': $(grep -h 'gpuslots ' "$tmp/build/lib/version.cpp")"
else
	cat "$tmp/configure.log"
	bad "configuring a copy outside git failed"
fi
[ $status = 0 ] && echo "ok: '$line'; outside a git checkout: 'git unknown'"
exit $status
