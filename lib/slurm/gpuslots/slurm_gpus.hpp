// The GPUs Slurm's own gres/gpu gave a job on a node, where Slurm manages the devices
// (servers with `slurm: follow`, or any node with a gres/gpu that a job asked for natively):
// Slurm names them, in its own indices, as "0,1" in SLURM_JOB_GPUS (the prolog's environment,
// set by slurmd) and SLURM_STEP_GPUS (a step's). gpuslots then follows Slurm's choice: the
// prolog records exactly those indices in the ledger (so status, manual bookings and the
// invariants stay exact), and the step leaves Slurm's CUDA_VISIBLE_DEVICES & co. alone.
#pragma once

#include <string_view>
#include <vector>

#include "gpuslots/error.hpp"

namespace gpuslots {

// "0,1" or "2" -> ascending indices, each in [0, server_gpus), no index twice. Slurm's value
// is checked like any other input: errors (bad_input) say what is wrong with it.
Result<std::vector<int>> parse_slurm_gpus(std::string_view text, int server_gpus);

}  // namespace gpuslots
