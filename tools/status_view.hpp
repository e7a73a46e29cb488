// How `gpuslots status` shows a FleetStatus: the original tool's table, or one JSON object.
// Apart from status.cpp so that the benchmarks time exactly the code the tool runs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gpuslots/status.hpp"

namespace gpuslots::cli {

// What slurmctld says of each Slurm job's reservation (status.cpp asks it), keyed by
// mark_key(): the job's state, and whether the job no longer runs there ("gone").
struct SlurmMark {
    std::string state;
    bool gone = false;
};
struct SlurmMarks {
    bool checked = false;  // slurmctld was asked and answered
    std::unordered_map<std::string, SlurmMark> by_reservation;
    std::size_t gone = 0;
};
std::string mark_key(const Reservation& r);

// The table on stdout: per server GPUs free/total, GPU use %, CPUs free/total, CPU use %,
// the tasks (a Slurm job that is gone marked "job:42(gone)"); then totals.
void print_status_table(const FleetStatus& st, const SlurmMarks* marks = nullptr);

// The JSON document (no trailing newline); config and ledger name where it was read from.
// With marks (the ledger holds Slurm jobs' reservations): "slurm_checked", and per Slurm job
// "job_state" and "gone" once slurmctld answered.
std::string status_json(const FleetStatus& st, std::string_view config, std::string_view ledger,
                        const SlurmMarks* marks = nullptr);

// "job:ID" for a Slurm job's reservation, the task id for a manual one.
std::string task_label(const Reservation& r);

}  // namespace gpuslots::cli
