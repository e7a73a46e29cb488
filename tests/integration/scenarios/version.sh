# The plugin says which build slurmd loaded, in the words of `gpuslots --version`, once per
# slurmd start (slurm_spank_init in slurmd's own context, plugin/entry.c), before the core loads.

scenario_version_logged() {
	local line log starts logged nodes=0
	line=$("$CLI" --version) || fail "gpuslots --version failed"
	for log in "$CLUSTER_DIR"/log/slurmd.*.log; do
		[ -e "$log" ] || fail "no slurmd log in $CLUSTER_DIR/log"
		nodes=$((nodes + 1))
		starts=$(grep -c 'slurmd version .* started' "$log")
		logged=$(grep -cF "gpuslots: slurmd: loaded $line" "$log")
		[ "$starts" -ge 1 ] || fail "$log has no 'slurmd version ... started' line"
		expect_eq "$logged" "$starts" "version lines in $log (one per slurmd start: '$line')"
		expect_eq "$(grep -c 'gpuslots: slurmd: loaded ' "$log")" "$logged" \
			"version lines in $log that are not this build's"
	done
	ok "each of $nodes slurmd logged 'gpuslots: slurmd: loaded $line' once per start"
}
