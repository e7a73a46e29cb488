#!/usr/bin/env bash
# check_hardening.sh FILE [pie]: FILE, which runs as root (the admin tool, or the plugin
# inside slurmd and slurmstepd), carries the hardening the build asks for
# (GPUSLOTS_HARDENING, CMakeLists.txt), read back from the binary itself:
#   full RELRO      a GNU_RELRO segment and BIND_NOW (FLAGS NOW or FLAGS_1 NOW), so the GOT
#                   is read-only once loaded;
#   stack protector __stack_chk_fail is called (-fstack-protector-strong);
#   fortify         at least one glibc __*_chk function is called (-D_FORTIFY_SOURCE=2);
#   pie             with "pie": the executable is position independent (DYN, FLAGS_1 PIE);
#   every unit      where FILE has DWARF, every compile unit of this project's own sources
#                   says -fstack-protector-strong in its DW_AT_producer (so no file of ours
#                   was built without it while a library's code made the symbol appear).
set -uo pipefail
file=${1:?usage: $0 FILE [pie]}
want_pie=${2:-}
command -v readelf >/dev/null || {
	echo "SKIP: readelf not found (apt-get install binutils)" >&2
	exit 77
}
status=0
bad() {
	echo "FAIL: $file: $*" >&2
	status=1
}
headers=$(readelf -lW "$file") || exit 1
dynamic=$(readelf -dW "$file") || exit 1
symbols=$(readelf --dyn-syms -W "$file" | awk '$7 == "UND" {print $8}' | sed 's/@.*//') || exit 1

grep -q 'GNU_RELRO' <<<"$headers" || bad "no GNU_RELRO segment (link with -Wl,-z,relro)"
grep -Eq '\(BIND_NOW\)|\(FLAGS\).*\bNOW\b|\(FLAGS_1\).*\bNOW\b' <<<"$dynamic" ||
	bad "not BIND_NOW (link with -Wl,-z,now): $(grep -E 'FLAGS' <<<"$dynamic" | tr -s ' ')"
grep -qx '__stack_chk_fail' <<<"$symbols" || bad "does not call __stack_chk_fail (-fstack-protector-strong)"
chk=$(grep -E '^__[a-z0-9_]+_chk$' <<<"$symbols" | grep -vx '__stack_chk_fail' | sort -u | tr '\n' ' ')
[ -n "$chk" ] || bad "calls no fortified __*_chk function (-D_FORTIFY_SOURCE=2 with optimisation)"
if [ "$want_pie" = pie ]; then
	readelf -hW "$file" | grep -Eq 'Type:[[:space:]]+DYN' || bad "not a PIE (ELF type is not DYN)"
	grep -Eq '\(FLAGS_1\).*\bPIE\b' <<<"$dynamic" || bad "not a PIE (no FLAGS_1 PIE)"
fi

# Our own compile units, named by a path under the source tree or the build tree.
units=0
if readelf -SW "$file" | grep -q '\.debug_info'; then
	src=$(cd "$(dirname "$0")/../.." && pwd)
	while IFS=$'\t' read -r name producer; do
		case $name in
		/usr/*) continue ;;
		"$src"/* | */lib/*.cpp | */tools/*.cpp | */plugin/*.cpp | */plugin/*.c) ;;
		*) continue ;;
		esac
		units=$((units + 1))
		[[ $producer == *-fstack-protector-strong* ]] ||
			bad "$name was compiled without -fstack-protector-strong: $producer"
	done < <(readelf --debug-dump=info --dwarf-depth=1 "$file" 2>/dev/null | awk '
		/DW_TAG_compile_unit/ { if (name != "") print name "\t" producer; name = ""; producer = "" }
		/DW_AT_producer/ { sub(/.*\): /, ""); sub(/.*DW_AT_producer *: /, ""); producer = $0 }
		/DW_AT_name/ && name == "" { sub(/.*\): /, ""); sub(/.*DW_AT_name *: /, ""); name = $0 }
		END { if (name != "") print name "\t" producer }')
	[ $units -gt 0 ] || bad "has debug info but none of its compile units is one of ours ($src)"
fi

if [ $status = 0 ]; then
	echo "ok: $file: GNU_RELRO, BIND_NOW, __stack_chk_fail, fortified: $chk${want_pie:+, PIE}"
	echo "    $units compile unit(s) of our own sources, each with -fstack-protector-strong"
fi
exit $status
