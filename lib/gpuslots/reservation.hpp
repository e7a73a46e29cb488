// What the ledger records: requests for slots and the reservations that answer them. Shared by
// the rules (ledger.hpp) and the stores below them (store.hpp).
#pragma once

#include <cstdint>
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
};

}  // namespace gpuslots
