// The disk's own durable-commit rate: the physical limit that a durable ledger operation
// (one fsync per commit) is measured against.
#pragma once

#include <string>

namespace gpuslots::bench {

struct FsyncRun {
    long count = 0;
    double seconds = 0;
    double rate() const { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }
};

// Overwrites the same 4 KiB block of a file in `dir` and fsyncs it, in a loop, for `seconds`.
// Overwriting (not appending) is the cheapest durable write the disk offers, so a ratio
// against it is conservative. Throws std::runtime_error on I/O errors.
FsyncRun fsync_loop(const std::string& dir, double seconds);

}  // namespace gpuslots::bench
