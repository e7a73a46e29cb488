#!/usr/bin/env bash
# build_deb.sh SOURCE_DIR BUILD_DIR [LAUNCHER]: the Debian package, as a site would build it:
# a build of its own configured with the prefix /usr (the paths compiled into the tool and
# written into the plugstack drop-in are the installed ones), without tests or benchmarks,
# then `cpack -G DEB`. Leaves BUILD_DIR/gpuslots.deb (a link to the versioned file).
# LAUNCHER: the compiler launcher of the calling build (ccache), so that its objects are reused.
set -uo pipefail
src=${1:?usage: $0 SOURCE_DIR BUILD_DIR [LAUNCHER]}
dir=${2:?usage: $0 SOURCE_DIR BUILD_DIR [LAUNCHER]}
launcher=${3:-}
for tool in dpkg-deb dpkg-shlibdeps file scdoc; do
	command -v $tool >/dev/null || {
		echo "SKIP: $tool not found (apt-get install dpkg-dev file scdoc)" >&2
		exit 77
	}
done
args=(-DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo
	-DGPUSLOTS_BUILD_TESTS=OFF -DGPUSLOTS_BUILD_BENCH=OFF -DGPUSLOTS_SANITIZER_TESTS=OFF)
[ -n "$launcher" ] && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" -DCMAKE_C_COMPILER_LAUNCHER="$launcher")
# A fresh cache each time (the objects stay): the package takes the project's defaults as they
# are now, never a value an earlier configure left in the cache.
rm -f "$dir"/CMakeCache.txt
cmake -S "$src" -B "$dir" "${args[@]}" >"$dir.configure.log" 2>&1 || {
	cat "$dir.configure.log"
	echo "FAIL: configuring the package build in $dir" >&2
	exit 1
}
grep -q "GPUSLOTS_BUILD_PLUGIN:BOOL=ON" "$dir"/CMakeCache.txt || {
	echo "SKIP: the plugin is not built here (no slurm/spank.h: apt-get install libslurm-dev)" >&2
	exit 77
}
cmake --build "$dir" -j "$(nproc)" || {
	echo "FAIL: building the package build in $dir" >&2
	exit 1
}
rm -f "$dir"/gpuslots_*.deb "$dir"/gpuslots.deb
(cd "$dir" && cpack -G DEB) || {
	echo "FAIL: cpack -G DEB in $dir" >&2
	exit 1
}
deb=$(ls "$dir"/gpuslots_*.deb) || exit 1
ln -s "$(basename "$deb")" "$dir"/gpuslots.deb
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo "ok: built $deb"
