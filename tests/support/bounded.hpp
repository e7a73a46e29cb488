// Running input that once exhausted memory or never finished, without letting a regression take
// the test machine down with it: in a child process with a memory limit and a deadline.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpuslots::test {

// AddressSanitizer reserves terabytes of address space at start-up, so RLIMIT_AS cannot bound
// a sanitized process; there its own hard_rss_limit_mb does the job for a program it starts.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

inline constexpr unsigned kBoundSeconds = 30;          // the slowest of these inputs takes < 1 s
inline constexpr unsigned long kBoundMemoryMb = 1024;  // parsing 1 MiB of YAML needs < 300 MB

struct Bounded {
    int status = -1;     // exit code, or 128 + signal (SIGALRM 142: ran past the deadline)
    std::string output;  // what the body returned
};

// Runs `body` in a forked child under kBoundMemoryMb of address space (not with ASan: there
// only the deadline applies) and kBoundSeconds; returns what it produced. A child that runs out
// of memory or time is reported through `status`, never by the test process dying with it.
inline Bounded run_bounded(const std::function<std::string()>& body) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::close(fds[0]);
        if (!kAddressSanitizer) {
            const rlim_t bytes = static_cast<rlim_t>(kBoundMemoryMb) << 20;
            const rlimit limit{bytes, bytes};
            ::setrlimit(RLIMIT_AS, &limit);
        }
        ::alarm(kBoundSeconds);
        int code = 0;
        std::string out;
        try {
            out = body();
        } catch (const std::bad_alloc&) {
            out = "(out of memory)";
            code = 3;
        } catch (...) {
            out = "(exception)";
            code = 4;
        }
        for (std::size_t done = 0; done < out.size();) {
            const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        ::_exit(code);
    }
    ::close(fds[1]);
    Bounded result;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n <= 0) break;
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

// The same bounds for a program: `argv` prefixed so that it runs under them. Without ASan:
// coreutils' timeout and util-linux's prlimit; with ASan, `env` gets hard_rss_limit_mb added to
// ASAN_OPTIONS (pass it as run_process's extra environment).
struct BoundedCommand {
    std::vector<std::string> argv;
    std::vector<std::string> env;
};

inline BoundedCommand bounded_command(const std::vector<std::string>& argv) {
    BoundedCommand out;
    out.argv = {"/usr/bin/timeout", "-s", "KILL", std::to_string(kBoundSeconds)};
    if (kAddressSanitizer) {
        const char* options = std::getenv("ASAN_OPTIONS");
        out.env.push_back(std::string("ASAN_OPTIONS=") + (options ? options : "") +
                          ":hard_rss_limit_mb=" + std::to_string(kBoundMemoryMb));
    } else {
        out.argv.insert(out.argv.end(),
                        {"/usr/bin/prlimit", "--as=" + std::to_string(kBoundMemoryMb << 20), "--"});
    }
    out.argv.insert(out.argv.end(), argv.begin(), argv.end());
    return out;
}

}  // namespace gpuslots::test
