// Placement: which server a request goes to and which GPU indices it gets. Pure functions over
// usage numbers, so the policy is tested without a ledger and shared by every store backend.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace gpuslots {

struct ServerUsage {
    int gpus_total = 0;
    int cpus_total = 0;
    int gpus_used = 0;
    int cpus_used = 0;

    int gpus_free() const { return gpus_total - gpus_used; }
    int cpus_free() const { return cpus_total - cpus_used; }
    bool fits(int gpus, int cpus) const { return gpus <= gpus_free() && cpus <= cpus_free(); }
};

// Best fit: among the servers where the request fits, the one left fullest after placing it
// (fewest free GPUs, then fewest free CPUs); ties go to the earlier server in config order.
// Packing small requests together keeps whole servers free for large ones.
// Returns the index into `servers`, or nullopt when it fits nowhere.
std::optional<std::size_t> best_fit(const std::vector<ServerUsage>& servers, int gpus, int cpus);

// The `count` lowest indices in [0, total) that are not in `held` (any order, may contain
// indices >= total, which are ignored). Returns fewer than `count` when not enough are free.
std::vector<int> lowest_free_gpus(int total, const std::vector<int>& held, int count);

}  // namespace gpuslots
