// gpuslots: the admin tool. Parses the command line, runs one subcommand, maps every outcome
// to a documented exit code. No exception escapes main().
#include <exception>

#include "cli.hpp"

namespace {

int run(int argc, char** argv) {
    using namespace gpuslots::cli;
    CLI::App app{
        "gpuslots: GPU and CPU slot ledger for shared GPU servers.\n"
        "Config: --config FILE, else $GPUSLOTS_CONFIG, else /etc/gpuslots/gpuslots.yaml.",
        "gpuslots"};
    app.footer(kExitCodeHelp);
    app.require_subcommand(1, 1);
    app.fallthrough();
    app.set_version_flag("--version", GPUSLOTS_VERSION);
    Globals globals;
    app.add_option("--config", globals.config_path, "Config file (YAML)");
    Runner runner;
    setup_status(app, globals, runner);
    setup_allocate(app, globals, runner);
    setup_release(app, globals, runner);
    setup_reset(app, globals, runner);
    setup_check_config(app, globals, runner);
    setup_slurm_config(app, globals, runner);
    setup_reconcile(app, globals, runner);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
            return app.exit(e);  // --help, --version
        }
        if (app.get_subcommands().empty() && !app.remaining().empty()) {
            fmt::print(stderr, "gpuslots: unknown subcommand {}; see 'gpuslots --help'\n",
                       gpuslots::in_quotes(app.remaining().front()));
            return kBadInput;
        }
        fmt::print(stderr, "gpuslots: {}; see 'gpuslots --help'\n", e.what());
        return kBadInput;
    }
    return runner ? runner() : kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc&) {
        std::fputs("gpuslots: out of memory\n", stderr);
    } catch (const std::exception& e) {
        fmt::print(stderr, "gpuslots: internal error: {}; please report it\n", e.what());
    } catch (...) {
        std::fputs("gpuslots: internal error; please report it\n", stderr);
    }
    return gpuslots::cli::kInternal;
}
