// Replacing a file that other programs read at any moment (node_exporter's textfile
// collector, dcgm-exporter, jobstats): they must see the old contents or the new, never half.
#pragma once

#include <string>
#include <string_view>

#include "gpuslots/error.hpp"

namespace gpuslots {

// Writes `text` to a temporary file in `dir` (".NAME.XXXXXX": hidden, and not ending in a
// suffix a collector looks for), mode 0644, and renames it over DIR/NAME. On failure nothing
// is left behind and DIR/NAME is as it was. Errors: Errc::config, naming the path and why.
Result<void> replace_file(const std::string& dir, const std::string& name, std::string_view text);

}  // namespace gpuslots
