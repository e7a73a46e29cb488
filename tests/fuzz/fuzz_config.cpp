// Fuzz target: the YAML config parser (parse_config), on any bytes.
// Properties: no crash, hang or memory blow-up (libFuzzer's -timeout and -rss_limit_mb); an
// error is Errc::config, one line, names the file, and any line:column it gives lies inside the
// input; a config that parses satisfies the invariants the rest of the library relies on, and
// written back as YAML parses to the same config.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gpuslots/config.hpp"
#include "gpuslots/hostlist.hpp"
#include "properties.hpp"

namespace {

using namespace gpuslots;
using gpuslots::fuzz::require;

const std::string kSource = "/fuzz/gpuslots.yaml";

// "FILE:LINE:COL: " must point into the text: a line that exists, a column at most one past
// its end (yaml-cpp counts from 0, messages from 1).
void check_position(const std::string& message, std::string_view text) {
    const std::string_view rest = std::string_view(message).substr(kSource.size());
    if (rest.empty() || rest[0] != ':') return;
    std::size_t line = 0;
    std::size_t column = 0;
    if (std::sscanf(std::string(rest).c_str(), ":%zu:%zu: ", &line, &column) != 2) return;
    require(line >= 1 && column >= 1, "positions count from 1", [&] { return message; });
    std::size_t start = 0;
    for (std::size_t l = 1; l < line; ++l) {
        const std::size_t nl = text.find('\n', start);
        require(nl != std::string_view::npos, "the line of an error exists",
                [&] { return message; });
        start = nl + 1;
    }
    const std::size_t end = std::min(text.find('\n', start), text.size());
    require(column - 1 <= end - start, "the column of an error lies on its line",
            [&] { return message + " (line has " + std::to_string(end - start) + " bytes)"; });
}

void check_invariants(const Config& c) {
    require(c.source == kSource, "the config names its source");
    const auto& servers = c.fleet.servers();
    require(!servers.empty() && servers.size() <= kMaxHostlistNames,
            "a fleet has 1 to kMaxHostlistNames servers");
    int max_gpus = 0;
    int max_cpus = 0;
    for (std::size_t i = 0; i < servers.size(); ++i) {
        const Server& s = servers[i];
        require(is_valid_node_name(s.name), "server names are valid node names",
                [&] { return s.name; });
        require(c.fleet.find(s.name) == i, "each name is found where it is, once",
                [&] { return s.name; });
        require(s.gpus >= 1 && s.gpus <= kMaxGpusPerServer, "gpus within bounds");
        require(s.cpus >= 1 && s.cpus <= kMaxCpusPerServer, "cpus within bounds");
        max_gpus = std::max(max_gpus, s.gpus);
        max_cpus = std::max(max_cpus, s.cpus);
    }
    require(c.fleet.max_gpus() == max_gpus && c.fleet.max_cpus() == max_cpus,
            "the fleet's maxima are its servers' maxima");
    for (const auto& limits :
         {std::pair{c.gpus_per_request, max_gpus}, std::pair{c.cpus_per_request, max_cpus}}) {
        const Range& r = limits.first;
        require(r.min >= 0 && r.min <= r.max && r.max >= 1 && r.max <= limits.second,
                "a request range lies within 0..the largest server and is not empty",
                [&] { return std::to_string(r.min) + ".." + std::to_string(r.max); });
    }
    require(c.slurm.prolog_wait.count() >= 0 && c.slurm.prolog_wait.count() <= 86'400,
            "prolog_wait_seconds within bounds");
    for (const auto& name : c.slurm.visible_devices_env) {
        require(!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])) == 0,
                "visible_devices_env holds variable names", [&] { return name; });
    }
}

// The config as a YAML file of its own: every server by its plain name. Only the parts this
// target owns are written; the rest keeps its defaults in both parses.
std::string to_yaml(const Config& c) {
    std::string out = "servers:\n";
    for (const auto& s : c.fleet.servers()) {
        out += "  - {name: '" + s.name + "', gpus: " + std::to_string(s.gpus) +
               ", cpus: " + std::to_string(s.cpus) + "}\n";
    }
    out += "requests:\n";
    out += "  gpus: {min: " + std::to_string(c.gpus_per_request.min) +
           ", max: " + std::to_string(c.gpus_per_request.max) + "}\n";
    out += "  cpus: {min: " + std::to_string(c.cpus_per_request.min) +
           ", max: " + std::to_string(c.cpus_per_request.max) + "}\n";
    out += "slurm:\n  prolog_wait_seconds: " + std::to_string(c.slurm.prolog_wait.count()) +
           "\n  hide_gpus_without_reservation: " +
           (c.slurm.hide_gpus_without_reservation ? "true" : "false") +
           "\n  visible_devices_env: [";
    for (std::size_t i = 0; i < c.slurm.visible_devices_env.size(); ++i)
        out += (i ? ", '" : "'") + c.slurm.visible_devices_env[i] + "'";
    out += "]\n";
    return out;
}

bool same(const Config& a, const Config& b) {
    const auto& x = a.fleet.servers();
    const auto& y = b.fleet.servers();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i].name != y[i].name || x[i].gpus != y[i].gpus || x[i].cpus != y[i].cpus)
            return false;
    }
    return a.gpus_per_request.min == b.gpus_per_request.min &&
           a.gpus_per_request.max == b.gpus_per_request.max &&
           a.cpus_per_request.min == b.cpus_per_request.min &&
           a.cpus_per_request.max == b.cpus_per_request.max &&
           a.slurm.prolog_wait == b.slurm.prolog_wait &&
           a.slurm.hide_gpus_without_reservation == b.slurm.hide_gpus_without_reservation &&
           a.slurm.visible_devices_env == b.slurm.visible_devices_env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto config = parse_config(text, kSource);
    if (!config) {
        fuzz::check_error(config.error(), Errc::config, kSource + ":");
        check_position(config.error().message, text);
        return 0;
    }
    check_invariants(*config);
    // Written back one entry per server, a large fleet would exceed the size limit; the
    // invariants above already hold for it.
    if (config->fleet.size() > 10'000) return 0;
    const std::string again = to_yaml(*config);
    auto reparsed = parse_config(again, kSource);
    require(reparsed.ok(), "the config written back parses",
            [&] { return reparsed.ok() ? std::string() : reparsed.error().message; });
    require(same(*config, *reparsed), "the config written back parses to the same config",
            [&] { return again.substr(0, 2000); });
    return 0;
}
