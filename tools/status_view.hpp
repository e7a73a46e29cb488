// How `gpuslots status` shows a FleetStatus: the original tool's table, or one JSON object.
// Apart from status.cpp so that the benchmarks time exactly the code the tool runs.
#pragma once

#include <string>
#include <string_view>

#include "gpuslots/status.hpp"

namespace gpuslots::cli {

// The table on stdout: per server GPUs free/total, GPU use %, CPUs free/total, CPU use %,
// the tasks; then totals.
void print_status_table(const FleetStatus& st);

// The JSON document (no trailing newline); config and ledger name where it was read from.
std::string status_json(const FleetStatus& st, std::string_view config, std::string_view ledger);

// "job:ID" for a Slurm job's reservation, the task id for a manual one.
std::string task_label(const Reservation& r);

}  // namespace gpuslots::cli
