#include "process_timing.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "bench_common.hpp"

extern char** environ;

namespace gpuslots::bench {
namespace {

std::vector<std::string> merged_env(const std::vector<std::string>& extra) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view kv(*e);
        bool overridden = false;
        for (const auto& x : extra) {
            const auto eq = x.find('=');
            if (kv.substr(0, kv.find('=')) == std::string_view(x).substr(0, eq)) overridden = true;
        }
        if (!overridden) env.emplace_back(kv);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& v) {
    std::vector<char*> p;
    for (auto& s : v)
        p.push_back(s.data());
    p.push_back(nullptr);
    return p;
}

std::string describe(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

// Spawns with stdout going to `stdout_fd`; returns the pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            int stdout_fd) {
    std::vector<std::string> args = argv;
    std::vector<std::string> env = merged_env(extra_env);
    auto argp = pointers(args);
    auto envp = pointers(env);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot run " + describe(argv) + ": " + std::strerror(rc));
    }
    return pid;
}

}  // namespace

ProcessRun run_timed(const std::vector<std::string>& argv,
                     const std::vector<std::string>& extra_env) {
    const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    const auto start = Clock::now();
    const pid_t pid = spawn(argv, extra_env, devnull);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ProcessRun run;
    run.wall_ms = seconds_since(start) * 1e3;
    ::close(devnull);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return run;
}

ProcessRun run_checked(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env) {
    ProcessRun run = run_timed(argv, extra_env);
    if (run.exit_code != 0) {
        throw std::runtime_error(fmt::format("'{}' exited {}", describe(argv), run.exit_code));
    }
    return run;
}

double peak_rss_mib(const std::vector<std::string>& argv, const std::string& scratch_dir) {
    const char* gnu_time = "/usr/bin/time";
    if (::access(gnu_time, X_OK) != 0) return -1;
    const std::string out = scratch_dir + "/peak-rss.txt";
    std::vector<std::string> wrapped{gnu_time, "-f", "%M", "-o", out};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    run_checked(wrapped);
    std::ifstream in(out);
    double kib = -1;
    if (!(in >> kib)) throw std::runtime_error("/usr/bin/time wrote no peak RSS to " + out);
    return kib / 1024.0;
}

std::string run_capture(const std::vector<std::string>& argv,
                        const std::vector<std::string>& extra_env) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = spawn(argv, extra_env, fds[1]);
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("'" + describe(argv) + "' failed");
    }
    return out;
}

}  // namespace gpuslots::bench
