// Validation of what a requester typed: slot counts and task ids. Shared by the CLI and by the
// SPANK plugin, which checks an option both at submission and again on the node (a value from
// the submit side is never trusted as is).
#pragma once

#include <string>
#include <string_view>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"

namespace gpuslots {

inline constexpr std::size_t kMaxTaskIdLength = 128;

// Parses a decimal count such as "4" and checks it against `allowed`. `what` names the value
// in the message ("--gpu-slots", "GPUS"). Errors: bad_input, e.g.
// "--gpu-slots: 'abc' is not a whole number; allowed: 1..8".
Result<int> parse_count(std::string_view text, std::string_view what, Range allowed);

// "1 GPU and 4 CPUs": a request's size for messages.
std::string slots_text(int gpus, int cpus);

// A task id: 1..128 characters from [A-Za-z0-9._:@+-], not starting with '-'.
Result<void> validate_task_id(std::string_view id);

}  // namespace gpuslots
