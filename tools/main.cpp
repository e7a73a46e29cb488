// gpuslots: the admin tool. Parses the command line, runs one subcommand, maps every outcome
// to a documented exit code. No exception escapes main().
#include <exception>

#include "cli.hpp"
#include "gpuslots/version.hpp"
#include "locale.hpp"
#include "text.hpp"

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
    app.set_version_flag("--version", std::string(gpuslots::version_line()));
    Globals globals;
    app.add_option("--config", globals.config_path, "Config file (YAML)");
    Runner runner;
    setup_status(app, globals, runner);
    setup_allocate(app, globals, runner);
    setup_release(app, globals, runner);
    setup_reset(app, globals, runner);
    setup_check_config(app, globals, runner);
    setup_slurm_config(app, globals, runner);
    setup_db(app, globals, runner);
    setup_reconcile(app, globals, runner);
    setup_metrics(app, globals, runner);
    setup_gpu_job_files(app, globals, runner);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
            return app.exit(e);  // --help, --version
        }
        if (app.get_subcommands().empty() && !app.remaining().empty()) {
            complain("unknown subcommand {}; see 'gpuslots --help'",
                     gpuslots::in_quotes(app.remaining().front()));
            return kBadInput;
        }
        complain("{}; see 'gpuslots --help'", e.what());
        return kBadInput;
    }
    return runner ? runner() : kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        gpuslots::cli::use_locale();
        return run(argc, argv);
    } catch (const std::bad_alloc&) {
        std::fputs("gpuslots: out of memory\n", stderr);  // no allocation: not translated
    } catch (const std::exception& e) {
        gpuslots::cli::complain("internal error: {}; please report it", e.what());
    } catch (...) {
        gpuslots::cli::complain("internal error; please report it");
    }
    return gpuslots::cli::kInternal;
}
