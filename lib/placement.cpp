#include "gpuslots/placement.hpp"

#include <tuple>

namespace gpuslots {

std::optional<std::size_t> best_fit(const std::vector<ServerUsage>& servers, int gpus, int cpus) {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const ServerUsage& s = servers[i];
        if (!s.fits(gpus, cpus)) continue;
        // Strictly fuller wins, so on a tie the earlier server in config order stays.
        if (!best || std::make_tuple(s.gpus_free(), s.cpus_free()) <
                         std::make_tuple(servers[*best].gpus_free(), servers[*best].cpus_free())) {
            best = i;
        }
    }
    return best;
}

std::vector<int> lowest_free_gpus(int total, const std::vector<int>& held, int count) {
    std::vector<bool> taken(static_cast<std::size_t>(total > 0 ? total : 0), false);
    for (int g : held) {
        if (g >= 0 && g < total) taken[static_cast<std::size_t>(g)] = true;
    }
    std::vector<int> out;
    for (int g = 0; g < total && static_cast<int>(out.size()) < count; ++g) {
        if (!taken[static_cast<std::size_t>(g)]) out.push_back(g);
    }
    return out;
}

}  // namespace gpuslots
