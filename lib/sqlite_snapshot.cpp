// The status snapshot's files and how writers publish them (see sqlite_snapshot.hpp for why).
// The readers' Store is in snapshot_store.cpp; the file format is in snapshot_format.cpp.
#include "sqlite_snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "snapshot_format.hpp"
#include "sqlite_db.hpp"

namespace gpuslots::sqlite {
namespace {

constexpr const char* kTmp = ".tmp";  // what an earlier version of this file built aside
constexpr const char* kNewLedger = ".new-ledger";
constexpr const char* kClaims = "claims";
constexpr const char* kClaimsTmp = ".claims.tmp";  // written aside, then renamed over kClaims

// Handing a snapshot file to the ledger's owner is best effort: root can read it either way.
// (A (void) cast does not silence glibc's warn_unused_result under _FORTIFY_SOURCE.)
void ignore_failure(int /*rc*/) {}

bool read_whole(int dir_fd, const std::string& name, std::string& out) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return n == 0;
        }
        out.append(buffer, static_cast<std::size_t>(n));
    }
}

bool process_gone(long pid) {
    return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string snapshot_dir(const std::string& ledger_path) {
    return ledger_path + ".status";
}

Publisher::Publisher(const std::string& ledger_path, std::uint32_t owner, std::uint32_t group)
    : ledger_(ledger_path), dir_(snapshot_dir(ledger_path)), owner_(owner), group_(group) {
    const bool give_away = ::geteuid() == 0 && owner_ != 0;
    if (::mkdir(dir_.c_str(), 0755) == 0) {
        ::chmod(dir_.c_str(), 0755);  // whatever the umask
        if (give_away && ::chown(dir_.c_str(), owner_, group_) != 0) {
            throw Failure{SQLITE_CANTOPEN, fmt::format("cannot give {} to uid {}: {}", dir_, owner_,
                                                       std::strerror(errno))};
        }
    } else if (errno != EEXIST) {
        throw Failure{SQLITE_CANTOPEN,
                      fmt::format("cannot create {}: {}", dir_, std::strerror(errno))};
    }
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd_ < 0) {
        throw Failure{SQLITE_CANTOPEN,
                      fmt::format("cannot open {}: {}", dir_, std::strerror(errno))};
    }
    struct stat st {};
    if (::fstat(dir_fd_, &st) != 0 || (st.st_uid != owner_ && st.st_uid != 0) ||
        (st.st_mode & 022) != 0) {
        const std::string why = unsafe_directory(dir_, st, owner_);
        ::close(dir_fd_);
        throw Failure{SQLITE_CANTOPEN, why, true};
    }
    lock_fd_ = ::openat(dir_fd_, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lock_fd_ < 0) {
        const int e = errno;
        ::close(dir_fd_);
        throw Failure{SQLITE_CANTOPEN,
                      fmt::format("cannot open {}/lock: {}", dir_, std::strerror(e))};
    }
    ::fchmod(lock_fd_, 0600);
    if (give_away) ignore_failure(::fchown(lock_fd_, owner_, group_));
}

Publisher::~Publisher() {
    unlock();
    ::close(lock_fd_);
    ::close(dir_fd_);
}

// The lock is held for microseconds (a few files written) by root or the owner only, so a
// wait means a writer that is stopped or stuck: naps of 20 us growing to 1 ms, up to the
// caller's deadline, never a blocking flock() that nothing could interrupt.
bool Publisher::lock(std::chrono::steady_clock::time_point deadline) {
    if (locked_) return true;
    for (long nap_us = 20;; nap_us = std::min(1000L, nap_us * 2)) {
        if (::flock(lock_fd_, LOCK_EX | LOCK_NB) == 0) {
            locked_ = true;
            return true;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) return false;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(nap_us));
    }
}

void Publisher::unlock() {
    if (!locked_) return;
    ::flock(lock_fd_, LOCK_UN);
    locked_ = false;
}

std::optional<std::int64_t> Publisher::head() const {
    std::string bytes;
    if (!read_whole(dir_fd_, "head", bytes)) return std::nullopt;
    return parse_head(bytes);
}

// Rewritten in place, never replaced: on ext4 a rename over the old file, or an O_TRUNC,
// frees its block through the journal, which cost 200-250 us per commit here (the whole rest
// of a commit costs about 25 us of CPU). A reader that races the pwrite sees a body that does
// not match its checksum and reads again (snapshot_format.hpp). A server left empty keeps its
// file, with no rows in it.
bool Publisher::write_server(const ServerRows& server) noexcept {
    try {
        const std::string name = server_file_name(server.server);
        const std::string bytes = encode_server(server);
        int fd = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
            fd = ::openat(dir_fd_, name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (fd >= 0) {
                ::fchmod(fd, 0644);  // whatever the umask
                if (::geteuid() == 0 && owner_ != 0) ignore_failure(::fchown(fd, owner_, group_));
            }
        }
        if (fd < 0) return false;
        bool ok = ::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size());
        // Cut off a longer version's tail (readers ignore it meanwhile: the header says where
        // the body ends). Only when there is one: an ftruncate to the same size still changes
        // the inode's times, an inode write on every commit.
        struct stat st {};
        ok = ok && ::fstat(fd, &st) == 0;
        if (ok && st.st_size > static_cast<off_t>(bytes.size()))
            ok = ::ftruncate(fd, static_cast<off_t>(bytes.size())) == 0;
        return ::close(fd) == 0 && ok;
    } catch (...) {
        return false;
    }
}

// The head is rewritten in place (one pwrite of one fixed-size record, not a file per
// commit): a reader that races a writer sees a record whose check does not match, and reads
// again.
bool Publisher::write_head(std::int64_t commit) noexcept {
    const std::string record = encode_head(commit);
    int fd = ::openat(dir_fd_, "head", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = ::openat(dir_fd_, "head", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::fchmod(fd, 0644);
            if (::geteuid() == 0 && owner_ != 0) ignore_failure(::fchown(fd, owner_, group_));
        }
    }
    if (fd < 0) return false;
    const bool ok =
        ::pwrite(fd, record.data(), record.size(), 0) == static_cast<ssize_t>(record.size());
    ::close(fd);
    return ok;
}

void Publisher::publish(std::int64_t commit, const std::vector<ServerRows>& servers) noexcept {
    for (const auto& s : servers) {
        if (!write_server(s)) return;  // the head stays behind: the next writer republishes
    }
    write_head(commit);
}

bool Publisher::republish(std::int64_t commit, const std::vector<ServerRows>& all) noexcept {
    try {
        std::vector<std::string> present;
        const int fd = ::dup(dir_fd_);
        DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
        if (d == nullptr) return false;
        ::rewinddir(d);
        while (const dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            if (is_server_file_name(name)) present.push_back(name);
        }
        ::closedir(d);
        std::vector<std::string> wanted;
        std::string existing;
        for (const auto& s : all) {
            if (s.rows.empty()) continue;
            wanted.push_back(server_file_name(s.server));
            if (read_whole(dir_fd_, wanted.back(), existing) && existing == encode_server(s)) {
                continue;
            }
            if (!write_server(s)) return false;
        }
        // Servers that hold nothing now: their file says so (read it for its server's name).
        for (const auto& name : present) {
            if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) continue;
            if (!read_whole(dir_fd_, name, existing)) continue;
            const auto rows = decode_server(existing);
            if (rows && rows->rows.empty()) continue;
            if (!rows) {  // not ours to read: no server can be named, so it goes
                if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) return false;
                continue;
            }
            if (!write_server(ServerRows{rows->server, {}})) return false;
        }
        return write_head(commit);
    } catch (...) {
        return false;
    }
}

bool Publisher::publish_claims(const std::vector<std::string>& servers) noexcept {
    try {
        const std::string bytes = encode_claims(servers);
        std::string existing;
        if (read_whole(dir_fd_, kClaims, existing) && existing == bytes) return true;
        ::unlinkat(dir_fd_, kClaimsTmp, 0);
        const int fd = ::openat(dir_fd_, kClaimsTmp,
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) return false;
        ::fchmod(fd, 0644);  // whatever the umask
        if (::geteuid() == 0 && owner_ != 0) ignore_failure(::fchown(fd, owner_, group_));
        const bool written =
            ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
        if (::close(fd) != 0 || !written) {
            ::unlinkat(dir_fd_, kClaimsTmp, 0);
            return false;
        }
        return ::renameat(dir_fd_, kClaimsTmp, dir_fd_, kClaims) == 0;
    } catch (...) {
        return false;
    }
}

std::optional<std::vector<std::string>> read_claims(const std::string& ledger_path) {
    const std::string path = snapshot_dir(ledger_path) + "/" + kClaims;
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::vector<std::string>();
        return std::nullopt;
    }
    std::string bytes;
    char buffer[8192];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        bytes.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    if (n < 0) return std::nullopt;
    return decode_claims(bytes);
}

std::string Publisher::new_ledger_path() const {
    return dir_ + "/" + kNewLedger;
}

void Publisher::remove_leftovers() noexcept {
    try {
        ::unlinkat(dir_fd_, kTmp, 0);
        ::unlinkat(dir_fd_, kClaimsTmp, 0);
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            ::unlink((new_ledger_path() + suffix).c_str());
        }
        // Earlier releases built a new ledger as "<ledger>.new-<pid>" beside it.
        const std::filesystem::path ledger(ledger_);
        const std::string prefix = ledger.filename().string() + ".new-";
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(ledger.parent_path(), ec)) {
            const std::string name = e.path().filename().string();
            if (name.rfind(prefix, 0) != 0) continue;
            const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
            if (process_gone(pid)) ::unlink(e.path().c_str());
        }
    } catch (...) {
    }
}

std::optional<std::int64_t> read_head(const std::string& ledger_path) {
    const std::string path = snapshot_dir(ledger_path) + "/head";
    for (int attempt = 0; attempt < 20; ++attempt) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return std::nullopt;
        char record[kHeadSize];
        const ssize_t n = ::pread(fd, record, sizeof record, 0);
        ::close(fd);
        if (n <= 0) return std::nullopt;
        if (auto commit = parse_head(std::string(record, static_cast<std::size_t>(n)))) {
            return commit;
        }
        std::this_thread::yield();  // a writer is rewriting it: read again
    }
    return std::nullopt;
}

}  // namespace gpuslots::sqlite
