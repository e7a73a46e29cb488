#include "gpuslots/boot.hpp"

#include <fstream>
#include <mutex>
#include <sstream>

namespace gpuslots {
namespace {

constexpr const char* kBootIdFile = "/proc/sys/kernel/random/boot_id";

std::mutex lock;
std::string override_file;  // guarded by lock
std::optional<std::string> cached;

// The first line of `path`, without surrounding blanks; "" when unreadable.
std::string first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line)) return "";
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) return "";
    const auto last = line.find_last_not_of(" \t\r");
    return line.substr(first, last - first + 1);
}

}  // namespace

std::string current_boot_id() {
    std::lock_guard<std::mutex> guard(lock);
    if (!override_file.empty()) return first_line(override_file);
    if (!cached) cached = first_line(kBootIdFile);
    return *cached;
}

std::optional<std::int64_t> boot_time_unix() {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("btime ", 0) != 0) continue;
        std::istringstream value(line.substr(6));
        std::int64_t t = 0;
        if (value >> t) return t;
    }
    return std::nullopt;
}

void set_boot_id_file(const std::string& path) {
    std::lock_guard<std::mutex> guard(lock);
    override_file = path;
}

}  // namespace gpuslots
