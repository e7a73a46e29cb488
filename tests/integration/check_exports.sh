#!/usr/bin/env bash
# check_exports.sh PLUGIN.so [CORE.so [TOOL]]: the plugin (entry.c) exports only what Slurm's
# plugin loader looks up (plugin_name/type/version, spank_plugin_version, slurm_spank_*) and
# needs no library but libc, so that a job that does not use gpuslots never loads the C++
# runtime, yaml-cpp or SQLite; the core exports only its table, so that the yaml-cpp, SQLite
# and fmt inside it cannot clash with symbols in srun, slurmd or slurmstepd; neither the core
# nor the admin tool links the MariaDB connector (or OpenSSL), which only a MariaDB ledger
# needs.
set -uo pipefail
so=${1:?usage: $0 PLUGIN.so [CORE.so [TOOL]]}
core=${2:-}
tool=${3:-}
command -v nm >/dev/null && command -v readelf >/dev/null || {
	echo "SKIP: nm or readelf not found (apt-get install binutils)" >&2
	exit 77
}
status=0
exported() { nm -D --defined-only "$1" | awk '{print $NF}' | sort; }
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' '; }

# without_connector FILE: the libraries FILE needs, and a failure if the MariaDB connector (and
# OpenSSL with it) is among them: it is loaded only for a MariaDB ledger (lib/mariadb_api.cpp);
# linked, every admin command and every GPU job's prolog, epilog and steps would load it.
without_connector() {
	local libs extra
	libs=$(needed "$1")
	echo "libraries $1 needs: $libs"
	extra=$(tr ' ' '\n' <<<"$libs" | grep -E '^(libmariadb|libmysqlclient|libssl|libcrypto)' | tr '\n' ' ')
	if [ -n "$extra" ]; then
		echo "FAIL: $1 links $extra(load it when a MariaDB ledger is opened)" >&2
		status=1
	fi
}

symbols=$(exported "$so") || exit 1
echo "exported by $so:"
sed 's/^/  /' <<<"$symbols"
extra=$(grep -Ev '^(plugin_(name|type|version)|spank_plugin_version|slurm_spank_[a-z_]+)$' <<<"$symbols")
if [ -n "$extra" ]; then
	echo "FAIL: exported beyond plugin_*/slurm_spank_*: $(tr '\n' ' ' <<<"$extra")" >&2
	status=1
fi
for wanted in plugin_name plugin_type plugin_version slurm_spank_init slurm_spank_job_prolog \
	slurm_spank_job_epilog slurm_spank_init_post_opt slurm_spank_task_init_privileged; do
	grep -qx "$wanted" <<<"$symbols" || {
		echo "FAIL: $wanted is not exported" >&2
		status=1
	}
done
libs=$(needed "$so")
echo "libraries $so needs: $libs"
extra=$(tr ' ' '\n' <<<"$libs" | grep -Ev '^(libc\.so\.[0-9]+|libdl\.so\.[0-9]+|)$' | tr '\n' ' ')
if [ -n "$extra" ]; then
	echo "FAIL: $so needs more than libc: $extra(every job would load them)" >&2
	status=1
fi
# For the record: what it takes from Slurm (resolved inside srun, slurmd, slurmstepd).
undefined=$(nm -D --undefined-only "$so" | awk '{print $NF}' | grep -E '^(spank_|slurm_)' | sort | tr '\n' ' ')
echo "Slurm API used: $undefined"

if [ -n "$core" ]; then
	symbols=$(exported "$core") || exit 1
	echo "exported by $core: $(tr '\n' ' ' <<<"$symbols")"
	if [ "$symbols" != gpuslots_core_v1 ]; then
		echo "FAIL: $core must export gpuslots_core_v1 alone" >&2
		status=1
	fi
	without_connector "$core"
	# Everything it uses must be in those libraries, but Slurm's API (in srun, slurmstepd...):
	# entry.c loads it RTLD_NOW, so anything else would make the core unloadable.
	missing=$(ldd -r "$core" 2>&1 | sed -n 's/^undefined symbol: \([^[:space:]]*\).*/\1/p' |
		grep -Ev '^(spank_|slurm_)' | sort -u | head -5 | tr '\n' ' ')
	if [ -n "$missing" ]; then
		echo "FAIL: $core uses symbols nothing provides: $missing" >&2
		status=1
	fi
fi
[ -n "$tool" ] && without_connector "$tool"
[ $status = 0 ] && echo "ok: only plugin_* and slurm_spank_* (and spank_plugin_version) are exported, libc alone is needed${core:+; the core exports its table alone}"
exit $status
