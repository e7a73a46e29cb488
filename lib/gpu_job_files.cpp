#include "gpuslots/gpu_job_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "gpuslots/atomic_file.hpp"

namespace gpuslots {
namespace {

Error io_error(const std::string& what, const std::string& path) {
    return make_error(Errc::config, "{} {}: {}", what, path, std::strerror(errno));
}

// The GPU index a file name stands for: digits only, no leading zero (as DCGM names them).
std::optional<int> index_of(const char* name) {
    const std::string_view s(name);
    if (s.empty() || s.size() > 6 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

bool same_contents(const std::string& path, const std::string& want) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    std::string have(want.size() + 1, '\0');
    const ssize_t n = ::read(fd, have.data(), have.size());
    ::close(fd);
    return n == static_cast<ssize_t>(want.size()) && have.compare(0, want.size(), want) == 0;
}

}  // namespace

std::map<int, std::string> gpu_job_files(JobFileFormat format, const std::string& server,
                                         const std::vector<Reservation>& held) {
    std::map<int, std::string> files;
    for (const auto& r : held) {
        if (r.origin != Origin::slurm || r.server != server) continue;
        for (const int gpu : r.gpus) {
            std::string& text = files[gpu];
            text += r.task_id;
            if (format == JobFileFormat::jobstats) text += ' ' + std::to_string(r.owner_uid);
            text += '\n';
        }
    }
    return files;
}

Result<void> sync_gpu_job_files(const std::string& dir, const std::map<int, std::string>& files) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return io_error("cannot create the directory", dir);
    }
    std::vector<int> stale;
    {
        const std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) return io_error("cannot read the directory", dir);
        while (const dirent* e = ::readdir(d.get())) {
            const auto index = index_of(e->d_name);
            if (index && files.count(*index) == 0) stale.push_back(*index);
        }
    }
    for (const auto& [gpu, text] : files) {
        const std::string name = std::to_string(gpu);
        if (same_contents(dir + "/" + name, text)) continue;
        if (auto written = replace_file(dir, name, text); !written) return written;
    }
    for (const int gpu : stale) {
        const std::string path = dir + "/" + std::to_string(gpu);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
    }
    return {};
}

Result<void> sync_node_job_files(const SlurmConfig& slurm, Ledger& ledger,
                                 const std::string& server) {
    const std::pair<const std::string*, JobFileFormat> dirs[] = {
        {&slurm.dcgm_job_mapping_dir, JobFileFormat::dcgm},
        {&slurm.jobstats_dir, JobFileFormat::jobstats}};
    if (dirs[0].first->empty() && dirs[1].first->empty()) return {};
    auto held = ledger.reservations();
    if (!held) return held.error();
    for (const auto& [dir, format] : dirs) {
        if (dir->empty()) continue;
        if (auto synced = sync_gpu_job_files(*dir, gpu_job_files(format, server, *held)); !synced) {
            return synced;
        }
    }
    return {};
}

}  // namespace gpuslots
