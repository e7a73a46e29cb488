// Which boot of this host a process runs in. A Slurm job's reservation records the boot id of
// the node that made it; one made under another boot id cannot belong to a live job on that
// node (every job and slurmstepd died with the boot), so the node may release it by itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gpuslots {

// The kernel's id of the current boot (/proc/sys/kernel/random/boot_id, a UUID), read once
// per process; "" when it cannot be read (then nothing is ever judged by it).
std::string current_boot_id();

// When this host booted (Unix time, "btime" of /proc/stat); nullopt when it cannot be read.
std::optional<std::int64_t> boot_time_unix();

// Tests only: read the boot id from `path` instead (re-read on every call while set); ""
// goes back to the kernel's.
void set_boot_id_file(const std::string& path);

}  // namespace gpuslots
