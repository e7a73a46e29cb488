// Validation of what a requester typed: slot counts and task ids. Shared by the CLI and by the
// SPANK plugin, which checks an option both at submission and again on the node (a value from
// the submit side is never trusted as is).
#pragma once

#include <chrono>
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

// The longest duration parse_duration() accepts: a year and a day.
inline constexpr std::chrono::seconds kMaxDuration{366LL * 86400};

// Parses a duration as an admin writes it: whole numbers with a unit each (s, m, h, d), the
// units from the largest down and each at most once ("90s", "30m", "2h", "1h30m", "1d").
// Between 1 s and kMaxDuration. `what` names the value in the message. Errors: bad_input,
// e.g. "--for: '2x' is not a duration; write it as 30s, 45m, 2h, 1d or 1h30m".
Result<std::chrono::seconds> parse_duration(std::string_view text, std::string_view what);

// "2h30m", "45s": a duration for messages, the inverse of parse_duration().
std::string duration_text(std::chrono::seconds d);

// "1 GPU and 4 CPUs": a request's size for messages.
std::string slots_text(int gpus, int cpus);

// A task id: 1..128 characters from [A-Za-z0-9._:@+-], not starting with '-'.
Result<void> validate_task_id(std::string_view id);

}  // namespace gpuslots
