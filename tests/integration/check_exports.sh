#!/usr/bin/env bash
# check_exports.sh PLUGIN.so: the plugin exports only what Slurm's plugin loader looks up
# (plugin_name/type/version, spank_plugin_version, slurm_spank_*), so that the yaml-cpp,
# SQLite and fmt inside it cannot clash with symbols in srun, slurmd or slurmstepd.
set -uo pipefail
so=${1:?usage: $0 PLUGIN.so}
command -v nm >/dev/null || {
	echo "SKIP: nm not found (apt-get install binutils)" >&2
	exit 77
}
symbols=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort) || exit 1
echo "exported by $so:"
sed 's/^/  /' <<<"$symbols"
status=0
extra=$(grep -Ev '^(plugin_(name|type|version)|spank_plugin_version|slurm_spank_[a-z_]+)$' <<<"$symbols")
if [ -n "$extra" ]; then
	echo "FAIL: exported beyond plugin_*/slurm_spank_*: $(tr '\n' ' ' <<<"$extra")" >&2
	status=1
fi
for needed in plugin_name plugin_type plugin_version slurm_spank_init slurm_spank_job_prolog \
	slurm_spank_job_epilog slurm_spank_init_post_opt slurm_spank_task_init_privileged; do
	grep -qx "$needed" <<<"$symbols" || {
		echo "FAIL: $needed is not exported" >&2
		status=1
	}
done
# For the record: what it takes from Slurm (resolved inside srun, slurmd, slurmstepd).
undefined=$(nm -D --undefined-only "$so" | awk '{print $NF}' | grep -E '^(spank_|slurm_)' | sort | tr '\n' ' ')
echo "Slurm API used: $undefined"
[ $status = 0 ] && echo "ok: only plugin_* and slurm_spank_* (and spank_plugin_version) are exported"
exit $status
