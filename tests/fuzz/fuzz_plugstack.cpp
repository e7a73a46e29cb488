// Fuzz target: the plugin's plugstack.conf arguments (parse_plugin_args). The input is split at
// NUL bytes into arguments; Slurm splits its line at white space, so every other byte can occur
// inside one argument.
// Properties: no crash; an error is Errc::config, one line, starts with "plugstack.conf: ";
// success means at most one argument, exactly "config=" followed by the absolute path returned.
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
    require(args.size() == 1 && parsed->config.has_value(),
            "an accepted argument list is one config= argument");
    require(args[0] == "config=" + *parsed->config && parsed->config->front() == '/',
            "config= takes the absolute path as given", [&] { return args[0]; });
    return 0;
}
