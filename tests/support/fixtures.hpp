// Helpers shared by the unit tests: a temporary directory that cleans up after itself,
// configs from inline YAML, file I/O, and running the CLI as a whole process.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpuslots/config.hpp"
#include "write_queue.hpp"

namespace gpuslots::test {

class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "gpuslots-test-XXXXXX");
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
        ::chmod(path_.c_str(), 0755);  // tests that run as another user must reach into it
    }
    ~TempDir() {
        std::error_code ec;
        // Ledgers written here have a writers' queue in /dev/shm (lib/write_queue.hpp), which
        // would otherwise stay there until a reboot.
        for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (!it->is_regular_file(ec)) continue;
            const std::string queue = sqlite::WriteQueue::path_for(it->path().string());
            if (!queue.empty()) ::unlink(queue.c_str());
        }
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A config whose ledger lives in `dir`: `servers_yaml` is the text after "servers:" or a whole
// document when it already contains "state:".
inline Config make_config(const TempDir& dir, const std::string& yaml) {
    const std::string path = dir.file("gpuslots.yaml");
    std::string text = yaml;
    if (text.find("state:") == std::string::npos) text += "\nstate:\n  path: state.db\n";
    write_file(path, text);
    auto config = load_config(path);
    if (!config) throw std::runtime_error("test config invalid: " + config.error().message);
    return std::move(*config);
}

struct Run {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// Runs `argv` (argv[0] a path) with optional stdin text; captures stdout and stderr. When
// `as_uid` is set (tests running as root), the child drops to that uid/gid first.
inline Run run_process(const std::vector<std::string>& argv, const std::string& input = "",
                       int as_uid = -1, const std::vector<std::string>& extra_env = {}) {
    TempDir io;
    const std::string out_path = io.file("out");
    const std::string err_path = io.file("err");
    const std::string in_path = io.file("in");
    write_file(in_path, input);
    gid_t as_gid = 0;
    if (as_uid >= 0) {
        const passwd* pw = ::getpwuid(static_cast<uid_t>(as_uid));
        if (pw == nullptr) throw std::runtime_error("no such uid");
        as_gid = pw->pw_gid;
    }
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        const int in = ::open(in_path.c_str(), O_RDONLY);
        const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        for (const auto& kv : extra_env)
            ::putenv(const_cast<char*>(kv.c_str()));
        if (as_uid >= 0) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(as_gid) != 0 ||
                ::setuid(static_cast<uid_t>(as_uid)) != 0) {
                ::_exit(126);
            }
        }
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    Run r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_path);
    r.err = read_file(err_path);
    return r;
}

}  // namespace gpuslots::test
