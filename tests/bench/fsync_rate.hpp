// The disk's own durable-commit rate: the physical limit that a durable ledger operation
// (one fsync per commit) is measured against.
#pragma once

#include <string>

namespace gpuslots::bench {

// Overwrites the same 4 KiB block of a file in `dir` and fsyncs it, in a loop, for `seconds`.
// Returns fsyncs per second. Overwriting (not appending) is the cheapest durable write the
// disk offers, so the ratio against it is conservative. Throws std::runtime_error on I/O errors.
double fsync_rate(const std::string& dir, double seconds);

}  // namespace gpuslots::bench
