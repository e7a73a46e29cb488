#include "sqlite_file.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>

#include "snapshot_format.hpp"
#include "sqlite_snapshot.hpp"
#include "sqlite_store.hpp"

namespace gpuslots::sqlite {
namespace {

// The current schema, for a new ledger. Every query the ledger runs is keyed by server first,
// so one server's rows are found without reading the others'.
constexpr const char* kSchema = R"sql(
CREATE TABLE reservations (
    id        INTEGER PRIMARY KEY,
    origin    TEXT    NOT NULL CHECK (origin IN ('manual', 'slurm')),
    task_id   TEXT    NOT NULL,
    server    TEXT    NOT NULL,
    cpus      INTEGER NOT NULL CHECK (cpus >= 0),
    gpu_count INTEGER NOT NULL CHECK (gpu_count >= 0),
    owner_uid INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    boot_id    TEXT,
    expires_at INTEGER,
    UNIQUE (server, origin, task_id)
);
CREATE UNIQUE INDEX one_reservation_per_manual_task ON reservations (task_id)
    WHERE origin = 'manual';
CREATE TABLE gpu_holds (
    server      TEXT    NOT NULL,
    gpu         INTEGER NOT NULL CHECK (gpu >= 0),
    reservation INTEGER NOT NULL,
    PRIMARY KEY (server, gpu)
) WITHOUT ROWID;
CREATE TABLE refusals (
    task_id TEXT    NOT NULL,
    server  TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (task_id, server)
) WITHOUT ROWID;
CREATE TABLE ledger_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    commits INTEGER NOT NULL CHECK (commits >= 0)
);
INSERT INTO ledger_state (id, commits) VALUES (1, 0);
CREATE TABLE node_claims (
    server  TEXT    PRIMARY KEY,
    claimed INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Migrations: kMigrations[v - 1] takes a ledger from schema v to v + 1.
// 1 -> 2: reservations keyed by (server, origin, task_id), which also serves the per-server
// lookups, so the separate server index and the holds-by-reservation index go: two fewer
// b-trees written by every reserve and release.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE reservations_2 (
    id        INTEGER PRIMARY KEY,
    origin    TEXT    NOT NULL CHECK (origin IN ('manual', 'slurm')),
    task_id   TEXT    NOT NULL,
    server    TEXT    NOT NULL,
    cpus      INTEGER NOT NULL CHECK (cpus >= 0),
    gpu_count INTEGER NOT NULL CHECK (gpu_count >= 0),
    owner_uid INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    UNIQUE (server, origin, task_id)
);
INSERT INTO reservations_2 (id, origin, task_id, server, cpus, gpu_count, owner_uid, created)
    SELECT id, origin, task_id, server, cpus, gpu_count, owner_uid, created FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_2 RENAME TO reservations;
CREATE UNIQUE INDEX one_reservation_per_manual_task ON reservations (task_id)
    WHERE origin = 'manual';
DROP INDEX gpu_holds_by_reservation;
)sql",
    // 2 -> 3: the ledger counts its commits, so that one it lost (a damaged or deleted -wal)
    // shows against the count its status snapshot last published (sqlite_snapshot.hpp).
    R"sql(
CREATE TABLE ledger_state (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    commits INTEGER NOT NULL CHECK (commits >= 0)
);
INSERT INTO ledger_state (id, commits) VALUES (1, 0);
)sql",
    // 3 -> 4: each reservation records the boot id of the host that made it (NULL: unknown,
    // as for every row made before) and when it lapses (NULL: never). Appended columns, as
    // SQLite adds them in place: the new schema above has them as its last columns too.
    R"sql(
ALTER TABLE reservations ADD COLUMN boot_id TEXT;
ALTER TABLE reservations ADD COLUMN expires_at INTEGER;
)sql",
    // 4 -> 5: the servers whose plugin writes this ledger (Store::claims): a ledger the plugin
    // writes on its node is that node's own, and says so, so that the admin tool does not show
    // the other servers as free there. None for a ledger of an earlier release until its
    // node's slurmd starts or a prolog reserves.
    R"sql(
CREATE TABLE node_claims (
    server  TEXT    PRIMARY KEY,
    claimed INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion - 1, "one migration per schema step");

// The uid that owns the ledger file, or before it exists the nearest existing directory
// above it (whoever owns that would own the file). Errc::ledger when there is none.
Result<std::uint32_t> file_owner(const std::string& path) {
    FileProbe file = probe(path);
    if (file.exists) return static_cast<std::uint32_t>(file.st.st_uid);
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    while (!dir.empty()) {
        FileProbe d = probe(dir.string());
        if (d.exists) return static_cast<std::uint32_t>(d.st.st_uid);
        if (dir == dir.root_path()) break;
        dir = dir.parent_path();
    }
    return make_error(Errc::ledger, "ledger {}: no existing directory above it", path);
}

// The name of the network or cluster filesystem that holds `path` (or the nearest existing
// directory above it): "nfs", "cifs", "lustre", ... nullopt for local filesystems.
std::optional<std::string> network_filesystem(const std::string& path) {
    // Magic numbers from statfs(2) / linux/magic.h.
    struct Kind {
        unsigned long magic;
        const char* name;
    };
    static constexpr Kind kNetwork[] = {
        {0x6969, "nfs"},        {0xFF534D42, "cifs"}, {0xFE534D42, "smb2"},   {0x517B, "smb"},
        {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"}, {0x19830326, "beegfs"}, {0x00C36400, "ceph"},
        {0x65735546, "fuse"},   {0x5346414F, "afs"},  {0x013111A8, "ibrix"},  {0x7461636f, "ocfs2"},
        {0x01161970, "gfs2"},
    };
    std::filesystem::path p(path);
    struct statfs st {};
    while (!p.empty()) {
        if (::statfs(p.c_str(), &st) == 0) {
            for (const auto& k : kNetwork) {
                if (static_cast<unsigned long>(st.f_type) == k.magic) return std::string(k.name);
            }
            return std::nullopt;
        }
        if (p == p.root_path() || !p.has_parent_path()) break;
        p = p.parent_path();
    }
    return std::nullopt;
}

}  // namespace

Error to_error(const Failure& f, const std::string& path) {
    if (f.whole_sentence) {
        const bool busy = (f.code & 0xff) == SQLITE_BUSY;
        return make_error(busy ? Errc::busy : Errc::ledger, "ledger {}: {}", path, f.message);
    }
    switch (f.code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return make_error(Errc::busy,
                              "ledger {} stayed locked by another process past "
                              "state.busy_timeout_ms; try again, or look for a hung gpuslots "
                              "process",
                              path);
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
            return make_error(Errc::ledger,
                              "ledger {} is damaged ({}); restore it from a backup, or move it "
                              "away to start an empty one",
                              path, f.message);
        case SQLITE_READONLY:
            return make_error(Errc::ledger,
                              "ledger {} is read-only ({}, SQLite code {}); check the file, its "
                              "-wal/-shm files and the filesystem",
                              path, f.message, f.code);
        case SQLITE_CANTOPEN:
            return make_error(Errc::ledger,
                              "cannot open ledger {} ({}); check that it and its -wal and -shm "
                              "files exist and are readable",
                              path, f.message);
        case SQLITE_FULL:
            return make_error(Errc::ledger, "ledger {}: the disk is full", path);
        case SQLITE_CONSTRAINT:
            return make_error(Errc::conflict, "ledger {}: {}", path, f.message);
        default:
            return make_error(Errc::ledger, "ledger {}: {} (SQLite code {})", path, f.message,
                              f.code);
    }
}

FileProbe probe(const std::string& path) {
    FileProbe p;
    p.exists = ::lstat(path.c_str(), &p.st) == 0;
    return p;
}

namespace {

// Creates the missing directories above `dir` and `dir` itself, each 0755 whatever the umask
// (a umask of 000 must not leave a directory that others can write).
void make_directories(const std::filesystem::path& dir) {
    if (dir.empty()) return;
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) return;
    make_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0755) == 0) {
        ::chmod(dir.c_str(), 0755);
    } else if (errno != EEXIST) {
        throw Failure{SQLITE_CANTOPEN, fmt::format("cannot create directory {}: {}", dir.string(),
                                                   std::strerror(errno))};
    }
}

void fsync_path(const std::string& path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

}  // namespace

void create_ledger_file(const std::string& path, std::chrono::steady_clock::time_point deadline) {
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    make_directories(dir);
    // One creator at a time, under the snapshot's lock: the new ledger is built under a fixed
    // name that a killed creator leaves to the next one, and its empty snapshot is published
    // before the ledger appears, so that readers never find a ledger without one.
    Publisher snapshot(path, ::geteuid(), ::getegid());
    if (!snapshot.lock(deadline)) {
        throw Failure{SQLITE_BUSY, "another process is creating the ledger"};
    }
    if (probe(path).exists) return;  // a concurrent creator was first
    snapshot.remove_leftovers();
    // A -wal or -shm without its ledger belongs to a ledger that was moved away: SQLite
    // would replay that WAL into the new file.
    ::unlink((path + "-wal").c_str());
    ::unlink((path + "-shm").c_str());
    const std::string tmp = snapshot.new_ledger_path();
    {
        // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the mode
        // of the ledger, and only root and the owner may open any of them.
        const int fd =
            ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            throw Failure{SQLITE_CANTOPEN,
                          fmt::format("cannot create {}: {}", tmp, std::strerror(errno))};
        }
        ::fchmod(fd, 0600);
        ::close(fd);
        sqlite3* db = nullptr;
        int rc = sqlite3_open_v2(tmp.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
                                 nullptr);
        std::string sql = fmt::format(
            "PRAGMA journal_mode=WAL; PRAGMA application_id={}; BEGIN; {} PRAGMA "
            "user_version={}; COMMIT;",
            kApplicationId, kSchema, kSchemaVersion);
        char* message = nullptr;
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
        std::string why = message != nullptr ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        sqlite3_close_v2(db);
        if (rc != SQLITE_OK) {
            snapshot.remove_leftovers();
            throw Failure{rc, fmt::format("cannot create {}: {}", path, why)};
        }
    }
    fsync_path(tmp, O_RDONLY);
    if (!snapshot.republish(0, {})) {
        snapshot.remove_leftovers();
        throw Failure{SQLITE_CANTOPEN,
                      fmt::format("cannot write the status snapshot {}", snapshot_dir(path))};
    }
    const int linked = ::link(tmp.c_str(), path.c_str());
    const int link_errno = errno;
    snapshot.remove_leftovers();
    if (linked != 0) {
        throw Failure{SQLITE_CANTOPEN,
                      fmt::format("cannot create {}: {}", path, std::strerror(link_errno))};
    }
    fsync_path(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY);
}

Result<void> check_ledger_files(const std::string& path, const struct stat& ledger,
                                bool may_change_modes) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    struct stat d {};
    if (::stat(dir.empty() ? "." : dir.c_str(), &d) != 0) {
        return make_error(Errc::ledger, "ledger {}: cannot look at its directory: {}", path,
                          std::strerror(errno));
    }
    if (std::string why = unsafe_directory(dir, d, ledger.st_uid); !why.empty()) {
        return make_error(Errc::ledger, "ledger {}: refusing to use it: {}", path, why);
    }
    // The snapshot holds the witness of the ledger's commits (sqlite_snapshot.hpp): whoever
    // could write it could hide lost commits, or fake some to stop every writer.
    const std::string snapshot = snapshot_dir(path);
    if (::lstat(snapshot.c_str(), &d) == 0) {
        if (std::string why = unsafe_directory(snapshot, d, ledger.st_uid); !why.empty()) {
            return make_error(Errc::ledger, "ledger {}: refusing to use it: {}", path, why);
        }
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const std::string file = path + suffix;
        struct stat st {};
        if (::lstat(file.c_str(), &st) != 0) continue;  // SQLite makes the -wal and -shm
        if (!S_ISREG(st.st_mode) || st.st_uid != ledger.st_uid || (st.st_mode & 022) != 0) {
            return make_error(
                Errc::ledger,
                "ledger {}: refusing to use it: {} {}; it must be a file of the ledger's owner "
                "that only the owner can write (chown, then chmod 0600 {})",
                path, file,
                !S_ISREG(st.st_mode) ? "is not a regular file"
                : st.st_uid != ledger.st_uid
                    ? fmt::format("belongs to uid {}", st.st_uid)
                    : fmt::format("can be written by others (mode {:04o})", st.st_mode & 07777),
                file);
        }
        // Ledgers of earlier releases were 0644: whoever can open -shm can stall the writers.
        if ((st.st_mode & 077) != 0 && may_change_modes) ::chmod(file.c_str(), 0600);
    }
    return {};
}

std::optional<std::string> header_problem(const std::string& path, off_t file_size) {
    unsigned char h[100];
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fmt::format("cannot read it: {}", std::strerror(errno));
    const ssize_t n = ::pread(fd, h, sizeof h, 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(sizeof h)) return std::string("truncated: no complete header");
    if (std::memcmp(h, "SQLite format 3", 16) != 0) return std::string("not an SQLite file");
    const auto be32 = [&](int at) {
        return (std::uint32_t{h[at]} << 24) | (std::uint32_t{h[at + 1]} << 16) |
               (std::uint32_t{h[at + 2]} << 8) | std::uint32_t{h[at + 3]};
    };
    std::uint32_t page_size = (std::uint32_t{h[16]} << 8) | h[17];
    if (page_size == 1) page_size = 65536;
    const std::uint32_t pages = be32(28);
    // The in-header size is valid only when the change counter matches "version-valid-for".
    if (be32(24) == be32(92) &&
        static_cast<std::uint64_t>(file_size) < static_cast<std::uint64_t>(page_size) * pages) {
        return fmt::format("truncated: {} bytes, the header says {} pages of {} bytes", file_size,
                           pages, page_size);
    }
    return std::nullopt;
}

void migrate(Connection& db, const std::string& path) {
    Transaction txn(db, Transaction::Kind::write);
    // Another process may have migrated while this one waited for the write lock.
    std::int64_t version = db.pragma_integer("user_version");
    if (version >= kSchemaVersion) return;
    for (; version < kSchemaVersion; ++version) {
        try {
            db.exec(kMigrations[version - 1]);
        } catch (const Failure& f) {
            throw Failure{f.code, fmt::format("cannot migrate {} from schema version {} to {}: {}",
                                              path, version, version + 1, f.message)};
        }
    }
    db.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
    txn.commit();
}

Result<void> check_write_access(const Config& config, std::uint32_t euid) {
    if (euid == 0) return {};
    const std::string& path = config.state.sqlite.path;
    auto owner = file_owner(path);
    if (!owner) return owner.error();
    if (*owner == euid) return {};
    const passwd* pw = ::getpwuid(static_cast<uid_t>(*owner));
    return make_error(Errc::permission,
                      "permission denied: only root or the ledger's owner ({}) may change the "
                      "ledger {}; 'gpuslots status' works for everyone",
                      pw != nullptr ? std::string(pw->pw_name) : std::to_string(*owner), path);
}

std::vector<std::string> warnings(const SqliteOptions& options) {
    std::vector<std::string> out;
    if (auto fs = network_filesystem(options.path)) {
        out.push_back(
            fmt::format("ledger {} is on a network filesystem ({}); SQLite locking is not "
                        "reliable there: keep the ledger on a local disk",
                        options.path, *fs));
    }
    return out;
}

}  // namespace gpuslots::sqlite
