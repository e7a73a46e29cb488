// gpuslots allocate TASK_ID GPUS CPUS [--server NAME] [--json]: reserve by hand, for work run
// outside Slurm. Best fit unless --server names the server.
#include "cli.hpp"
#include "gpuslots/request.hpp"

namespace gpuslots::cli {
namespace {

struct AllocateOptions {
    std::string task_id;
    std::string gpus;
    std::string cpus;
    std::string server;
    bool json = false;
};

int run_allocate(const AllocateOptions& o, const Globals& globals) {
    if (auto valid = validate_task_id(o.task_id); !valid) return report(valid.error());
    auto config = load(globals);
    if (!config) return report(config.error());
    auto gpus = parse_count(o.gpus, "GPUS", config->gpus_per_request);
    if (!gpus) return report(gpus.error());
    auto cpus = parse_count(o.cpus, "CPUS", config->cpus_per_request);
    if (!cpus) return report(cpus.error());
    if (!o.server.empty() && !config->fleet.find(o.server)) {
        return report(make_error(Errc::bad_input, "--server: '{}' is not in the config {}",
                                 o.server, config->source));
    }
    auto ledger = open_for_writing(*config);
    if (!ledger) return report(ledger.error());
    const Request request{Origin::manual, o.task_id, *gpus, *cpus, requesting_uid(), {}};
    auto r =
        o.server.empty() ? (*ledger)->allocate(request) : (*ledger)->reserve(o.server, request);
    if (!r) return report(r.error());
    if (o.json) {
        fmt::print(R"({{"id":{},"server":{},"gpus":[{}],"cpus":{}}})"
                   "\n",
                   json_string(r->task_id), json_string(r->server), join_ints(r->gpus), r->cpus);
    } else {
        fmt::print("allocated {} on {}: GPUs {}, {} CPUs\n", r->task_id, r->server,
                   r->gpus.empty() ? "none" : join_ints(r->gpus), r->cpus);
    }
    return kOk;
}

}  // namespace

void setup_allocate(CLI::App& app, const Globals& globals, Runner& runner) {
    auto o = std::make_shared<AllocateOptions>();
    CLI::App* sub = app.add_subcommand(
        "allocate",
        "Reserve GPUS GPUs and CPUS CPUs for TASK_ID on the fullest server where they fit "
        "(or on --server); prints the server and the GPU indices");
    sub->add_option("TASK_ID", o->task_id,
                    "Name for the reservation (letters, digits, . _ : @ + -)")
        ->required();
    sub->add_option("GPUS", o->gpus, "Number of GPUs (range from requests.gpus in the config)")
        ->required();
    sub->add_option("CPUS", o->cpus, "Number of CPUs (range from requests.cpus in the config)")
        ->required();
    sub->add_option("--server", o->server, "Reserve on this server instead of choosing one");
    sub->add_flag("--json", o->json, "Print the result as one JSON object");
    sub->callback(
        [o, &globals, &runner] { runner = [o, &globals] { return run_allocate(*o, globals); }; });
}

}  // namespace gpuslots::cli
