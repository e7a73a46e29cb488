// Who holds a server, in the words of a refusal: "held by job 103 (since 12:01, GPUs 0),
// job 102 (since 11:58, GPUs 1,2,3)", and which holders look dead and what to run. Shared by
// the plugin's refusals and the admin tool's allocate (both through Ledger::reserve).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/reservation.hpp"

namespace gpuslots {

// At most this many holders are named; the rest are counted ("and 7 more").
inline constexpr std::size_t kHoldersNamed = 4;

struct HolderContext {
    std::int64_t now_unix = 0;
    // The server's own current boot id, when the caller runs on that server (the plugin);
    // nullopt when it cannot tell (the admin tool on another host).
    std::optional<std::string> server_boot_id;
};

// Why `r` looks dead, or nullopt: a Slurm job's reservation made under another boot of its
// server, a reservation whose expiry has passed.
std::optional<std::string> looks_dead(const Reservation& r, const HolderContext& context);

// "held by ..." for `holders` (one server's reservations, any order; named oldest first), then
// for those that look dead "; job 12 looks dead (reserved before this node's boot): run
// 'gpuslots reconcile --server n1'". Bounded in length whatever the number of holders.
// "" when there are none.
std::string holders_text(std::string_view server, std::vector<Reservation> holders,
                         const HolderContext& context);

}  // namespace gpuslots
