// What the ledger records: requests for slots and the reservations that answer them. Shared by
// the rules (ledger.hpp) and the stores below them (store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gpuslots {

// Who made a reservation: a person with the admin tool, or the SPANK plugin for a Slurm job
// (task id = job id). The two name spaces are separate: task "42" and job 42 do not collide.
enum class Origin { manual, slurm };
const char* origin_name(Origin origin);

struct Request {
    Origin origin = Origin::manual;
    std::string task_id;
    int gpus = 0;
    int cpus = 0;
    std::uint32_t owner_uid = 0;
    // Empty: the ledger picks the lowest free indices. Otherwise exactly these indices (one per
    // requested GPU, any order), e.g. the GPUs Slurm's own gres/gpu gave the job.
    std::vector<int> exact_gpus;
    // When the reservation lapses (Unix time; nullopt: never). The ledger only records it;
    // `gpuslots reconcile` releases what has lapsed.
    std::optional<std::int64_t> expires_unix;
    // The caller runs on `server` itself (the plugin): a refusal may then call a Slurm job's
    // reservation made under another boot id dead (holders.hpp).
    bool on_server = false;
};

struct Reservation {
    Origin origin = Origin::manual;
    std::string task_id;
    std::string server;
    std::vector<int> gpus;  // concrete indices, ascending
    int gpu_count = 0;      // what was reserved; equals gpus.size() unless the ledger is damaged
    int cpus = 0;
    std::uint32_t owner_uid = 0;
    std::int64_t created_unix = 0;
    // The boot id (boot.hpp) of the host that made the reservation, as it was then: a Slurm
    // job's reservation made before its node's current boot cannot belong to a live job.
    // Empty when unknown (made before the ledger recorded it).
    std::string boot_id;
    std::optional<std::int64_t> expires_unix;  // Request::expires_unix
};

}  // namespace gpuslots
