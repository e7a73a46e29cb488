// The readers' Store: the ledger as its status snapshot shows it (sqlite_snapshot.hpp), for
// users who may not open the ledger itself. It opens no file of the ledger and takes no lock:
// it lists the snapshot's directory and reads each server's file once per transaction.
//
// It carries what `gpuslots status` and `check-config` show: every reservation with its GPUs,
// and the servers whose plugin writes the ledger (claims()).
// Refusals are not published (only the plugin's step hooks read them, and they run as root),
// so refusal() finds none. Every write is refused as the ledger is read-only to these users.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "snapshot_format.hpp"
#include "sqlite_db.hpp"
#include "sqlite_file.hpp"
#include "sqlite_snapshot.hpp"

namespace gpuslots::sqlite {
namespace {

[[noreturn]] void refuse_write() {
    throw Failure{SQLITE_READONLY, "the ledger was opened for reading only"};
}

class SnapshotStore final : public Store {
  public:
    SnapshotStore(const Config& config, int dir_fd)
        : config_(config), dir_(snapshot_dir(config.state.sqlite.path)), dir_fd_(dir_fd) {}
    ~SnapshotStore() override { ::close(dir_fd_); }

    void begin(Transaction kind) override {
        if (kind == Transaction::write) refuse_write();
        load();
    }
    void commit() override {}
    void rollback() noexcept override {}
    void lock_servers(const std::vector<std::string>&) override {}

    ServerHoldings holdings(std::string_view server) override {
        ServerHoldings out;
        auto it = servers_.find(std::string(server));
        if (it == servers_.end()) return out;
        for (const Row& row : it->second.rows) {
            out.reservations.push_back(row.r);
            out.held_gpus.insert(out.held_gpus.end(), row.r.gpus.begin(), row.r.gpus.end());
        }
        std::sort(out.held_gpus.begin(), out.held_gpus.end());
        return out;
    }

    std::vector<ServerLoad> loads() override {
        std::vector<ServerLoad> out;
        for (const auto& [name, s] : servers_) {
            ServerLoad load{name, 0, 0};
            for (const Row& row : s.rows) {
                load.gpus += row.r.gpu_count;
                load.cpus += row.r.cpus;
            }
            out.push_back(load);
        }
        return out;
    }

    std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                  std::optional<std::string_view> server) override {
        std::vector<Reservation> out;
        for (const auto& [name, s] : servers_) {  // ordered by server, as the contract asks
            if (server && name != *server) continue;
            for (const Row& row : s.rows) {
                if (row.r.origin == origin && row.r.task_id == task_id) out.push_back(row.r);
            }
        }
        return out;
    }

    std::vector<Reservation> all() override {
        std::vector<const Row*> rows;
        for (const auto& [name, s] : servers_) {
            for (const Row& row : s.rows)
                rows.push_back(&row);
        }
        std::sort(rows.begin(), rows.end(),
                  [](const Row* a, const Row* b) { return a->id < b->id; });
        std::vector<Reservation> out;
        out.reserve(rows.size());
        for (const Row* row : rows)
            out.push_back(row->r);
        return out;
    }

    std::optional<std::string> refusal(std::string_view, std::string_view) override {
        return std::nullopt;
    }

    void insert(const Reservation&) override { refuse_write(); }
    void erase(const Reservation&) override { refuse_write(); }
    std::size_t erase_all() override { refuse_write(); }
    void record_refusal(std::string_view, std::string_view, std::string_view,
                        std::int64_t) override {
        refuse_write();
    }
    void erase_refusals(std::string_view, std::optional<std::string_view>) override {
        refuse_write();
    }

    std::optional<std::vector<std::string>> claims() override { return claims_; }
    void claim(std::string_view) override { refuse_write(); }

    // Each file was checked as it was read (load()); the ledger itself is root's to check.
    std::vector<std::string> verify() override { return {}; }

    bool transient(const StoreFailure&) const override { return false; }
    Error describe(const StoreFailure& f) const override {
        return to_error(f, config_.state.sqlite.path);
    }

  private:
    void load() {
        servers_.clear();
        if (!read_head(config_.state.sqlite.path)) {
            throw Failure{SQLITE_CANTOPEN,
                          fmt::format("its status snapshot {} is not there yet (users other "
                                      "than root and the ledger's owner read that); any write "
                                      "or 'gpuslots check-config' as root publishes it",
                                      dir_),
                          true};
        }
        const int fd = ::dup(dir_fd_);
        DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
        if (d == nullptr) {
            throw Failure{SQLITE_CANTOPEN,
                          fmt::format("cannot list {}: {}", dir_, std::strerror(errno))};
        }
        ::rewinddir(d);
        std::vector<std::string> names;
        while (const dirent* e = ::readdir(d)) {
            if (is_server_file_name(e->d_name)) names.emplace_back(e->d_name);
        }
        ::closedir(d);
        auto claims = read_claims(config_.state.sqlite.path);
        if (!claims) {
            throw Failure{SQLITE_CORRUPT,
                          fmt::format("its status snapshot file {}/claims is damaged; "
                                      "'gpuslots check-config' as root publishes it again",
                                      dir_),
                          true};
        }
        claims_ = std::move(*claims);
        std::string bytes;
        for (const auto& name : names) {
            const int f = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (f < 0) {
                if (errno == ENOENT) continue;  // removed by a republish meanwhile
                throw Failure{SQLITE_CANTOPEN, fmt::format("cannot read {}/{}: {}", dir_, name,
                                                           std::strerror(errno))};
            }
            // A writer may be rewriting the file as it is read: its checksum then fails, and
            // it is read again. A writer holds it for microseconds, unless it is descheduled
            // mid-write on a busy machine: so retry with short naps, up to busy_timeout_ms
            // (a file that is damaged for good is reported then).
            std::optional<ServerRows> rows;
            const auto deadline = std::chrono::steady_clock::now() + config_.state.busy_timeout;
            for (long nap_us = 0;; nap_us = std::min(2000L, nap_us + 50)) {
                bytes.clear();
                char buffer[16384];
                ssize_t n = 0;
                while ((n = ::pread(f, buffer, sizeof buffer, static_cast<off_t>(bytes.size()))) >
                       0) {
                    bytes.append(buffer, static_cast<std::size_t>(n));
                }
                rows = decode_server(bytes);
                if (rows || std::chrono::steady_clock::now() >= deadline) break;
                std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
            }
            ::close(f);
            if (!rows) {
                throw Failure{SQLITE_CORRUPT,
                              fmt::format("its status snapshot file {}/{} is damaged; "
                                          "'gpuslots check-config' as root publishes it again",
                                          dir_, name),
                              true};
            }
            if (rows->rows.empty()) continue;  // a server that holds nothing now
            std::string server = rows->server;
            servers_[std::move(server)] = std::move(*rows);
        }
    }

    const Config& config_;
    std::string dir_;
    int dir_fd_;
    std::map<std::string, ServerRows> servers_;
    std::vector<std::string> claims_;  // as the snapshot's "claims" file says
};

}  // namespace

Result<std::unique_ptr<Store>> open_snapshot_store(const Config& config) {
    const std::string& path = config.state.sqlite.path;
    const std::string dir = snapshot_dir(path);
    struct stat ledger {};
    if (::stat(path.c_str(), &ledger) != 0) {
        return make_error(Errc::ledger, "cannot read ledger {}: {}", path, std::strerror(errno));
    }
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        return make_error(Errc::ledger, "ledger {}: cannot read its status snapshot {}: {}", path,
                          dir, std::strerror(errno));
    }
    if (fd < 0) {
        return make_error(Errc::ledger,
                          "ledger {}: its status snapshot {} is not there yet (users other than "
                          "root and the ledger's owner read that); any write or 'gpuslots "
                          "check-config' as root publishes it",
                          path, dir);
    }
    // As root refuses a ledger that others could tamper with, users do.
    if (auto safe = check_ledger_files(path, ledger, false); !safe) {
        ::close(fd);
        return safe.error();
    }
    return std::unique_ptr<Store>(std::make_unique<SnapshotStore>(config, fd));
}

}  // namespace gpuslots::sqlite
