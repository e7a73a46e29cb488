// step_fast_path CONFIG [ROUNDS]: what the entry object's step fast path costs a step of a job
// without options (gpuslots/step_settings.h): the record directory looked at for the job's
// files, then the step settings read and the config's bytes hashed, as plugin/entry.c calls
// them, against the config at CONFIG (its settings written first into a temporary record
// directory). Prints the median and quartiles of one call of each, in microseconds, and
// "@ KEY VALUE" lines. In process: the figure is the fast path's own work, not a step's.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gpuslots/step_settings.h"
#include "gpuslots/step_settings.hpp"
#include "gpuslots/version.hpp"

namespace {

double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: step_fast_path CONFIG [ROUNDS]\n");
        return 2;
    }
    const std::string config = std::filesystem::absolute(argv[1]).string();
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 2000;
    std::ifstream in(config, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = gpuslots::load_config(config);
    if (!parsed) {
        std::fprintf(stderr, "step_fast_path: %s\n", parsed.error().message.c_str());
        return 1;
    }
    char dir_template[] = "/tmp/gsfast.XXXXXX";
    const char* dir = ::mkdtemp(dir_template);
    if (dir == nullptr) return 1;
    const std::string records = std::string(dir) + "/records";
    (void)gpuslots::publish_step_settings(records, config, text.str(), parsed->slurm,
                                          [] { return std::optional<std::string>(); });
    if (!std::filesystem::exists(records + "/" + GPUSLOTS_STEP_SETTINGS_FILE)) {
        std::fprintf(stderr, "step_fast_path: the settings could not be written\n");
        return 1;
    }
    const std::string version(gpuslots::version_line());
    std::vector<double> files, settings;
    for (int i = 0; i < rounds; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        const int has = gpuslots_step_job_has_files(records.c_str(), "n1", "12345");
        const auto t1 = std::chrono::steady_clock::now();
        gpuslots_step_settings out{};
        const int ok = gpuslots_step_settings_read(records.c_str(), config.c_str(),
                                                   version.c_str(), &out);
        const auto t2 = std::chrono::steady_clock::now();
        if (has != 0 || ok != 1) {
            std::fprintf(stderr, "step_fast_path: the fast path would not be taken\n");
            return 1;
        }
        files.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        settings.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    }
    std::filesystem::remove_all(dir);
    std::printf("config %s (%zu bytes), %d rounds\n", config.c_str(), text.str().size(), rounds);
    std::printf("  the job's files looked for  median %7.1f us (quartiles %.1f..%.1f)\n",
                quantile(files, 0.5), quantile(files, 0.25), quantile(files, 0.75));
    std::printf("  settings read, config hashed median %7.1f us (quartiles %.1f..%.1f)\n",
                quantile(settings, 0.5), quantile(settings, 0.25), quantile(settings, 0.75));
    std::printf("@ fast_path.files_us %.2f\n@ fast_path.settings_us %.2f\n", quantile(files, 0.5),
                quantile(settings, 0.5));
    return 0;
}
