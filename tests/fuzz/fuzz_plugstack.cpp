// Fuzz target: the plugin's plugstack.conf arguments (parse_plugin_args). The input is split at
// NUL bytes into arguments; Slurm splits its line at white space, so every other byte can occur
// inside one argument.
// Properties: no crash; an error is Errc::config, one line, starts with "plugstack.conf: ";
// success means at most one "config=" and one "record_dir=" argument, each followed by the
// absolute path returned.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gpuslots/plugstack.hpp"
#include "properties.hpp"

using namespace gpuslots;
using gpuslots::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args;
    if (size > 0) {
        args.emplace_back();
        for (std::size_t i = 0; i < size; ++i) {
            if (data[i] == 0) {
                args.emplace_back();
            } else {
                args.back().push_back(static_cast<char>(data[i]));
            }
        }
    }
    auto parsed = parse_plugin_args(args);
    if (!parsed) {
        fuzz::check_error(parsed.error(), Errc::config, "plugstack.conf: ");
        return 0;
    }
    if (args.empty()) {
        require(!parsed->config.has_value(), "no arguments: the default config lookup");
        return 0;
    }
    require(args.size() <= 2, "an accepted argument list is one config= and one record_dir=");
    std::size_t seen = 0;
    for (const auto& arg : args) {
        const bool config = arg.rfind("config=", 0) == 0;
        const auto& value = config ? parsed->config : parsed->record_dir;
        require(value.has_value() && arg == (config ? "config=" : "record_dir=") + *value &&
                    value->front() == '/',
                "each argument takes the absolute path as given", [&] { return arg; });
        ++seen;
    }
    require(seen == static_cast<std::size_t>(parsed->config.has_value()) +
                        static_cast<std::size_t>(parsed->record_dir.has_value()),
            "every value came from an argument");
    return 0;
}
