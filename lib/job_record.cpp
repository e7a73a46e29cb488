#include "gpuslots/job_record.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "gpuslots/ledger.hpp"
#include "gpuslots/storage.hpp"

namespace gpuslots {
namespace {

constexpr const char* kMagic = "gpuslots-job-record 1";
constexpr const char* kPendingMagic = "gpuslots-pending-release 1";
constexpr const char* kRefusalMagic = "gpuslots-refusal 1";
constexpr const char* kRecord = ".job";
constexpr const char* kPending = ".release";
constexpr const char* kRefusal = ".refused";
constexpr std::size_t kMaxRecordBytes = 16 * 1024;

// ASCII by value, whatever the locale: the entry object's C reader names the same files
// (step_settings_read.c).
bool plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

// "<node>+<job id>.job" (.release, .refused), bytes other than plain ones written %XX, so that
// no name can leave the directory or collide with another node's (several slurmd may share
// one host).
std::string file_name(const std::string& node, const std::string& job_id,
                      const char* suffix = kRecord) {
    std::string name;
    for (const std::string* part : {&node, &job_id}) {
        if (!name.empty()) name += '+';
        for (unsigned char c : *part) {
            if (plain(c)) {
                name += static_cast<char>(c);
            } else {
                name += fmt::format("%{:02X}", static_cast<unsigned>(c));
            }
        }
    }
    return name + suffix;
}

std::string errno_text() {
    return std::strerror(errno);
}

// The whole of a small file in `dir` (nullopt: it cannot be opened or read).
std::optional<std::string> read_small(int dir_fd, const std::string& name) {
    const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string text(kMaxRecordBytes, '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ::close(fd);
    if (n < 0) return std::nullopt;
    text.resize(static_cast<std::size_t>(n));
    return text;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The names in `dir` of `node`'s files (every node's when nullopt) that end in `suffix`.
std::vector<std::string> names_of(DIR* d, const std::optional<std::string>& node,
                                  const char* suffix) {
    std::vector<std::string> out;
    const std::string stem = node ? file_name(*node, "", "") : std::string();  // "<node>+"
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.rfind(stem, 0) == 0 && name[0] != '.' && ends_with(name, suffix)) {
            out.push_back(name);
        }
    }
    return out;
}

Error dir_error(const std::string& dir, const std::string& what) {
    return Error{Errc::ledger,
                 fmt::format("job record directory {}: {}; the plugin keeps what each job's "
                             "epilog needs there (plugstack.conf record_dir=DIR)",
                             dir, what)};
}

Result<void> check_dir(const std::string& dir, const struct stat& st) {
    if (!S_ISDIR(st.st_mode)) return dir_error(dir, "not a directory");
    if (st.st_uid != ::geteuid()) {
        return dir_error(dir, fmt::format("belongs to uid {}, not to uid {} who writes it; "
                                          "chown it or remove it",
                                          st.st_uid, ::geteuid()));
    }
    if ((st.st_mode & 022) != 0) {
        return dir_error(dir, fmt::format("others may write it (mode {:04o}); chmod 0700 it",
                                          st.st_mode & 07777));
    }
    return {};
}

}  // namespace

Config config_of(const JobRecord& record) {
    Config config;
    config.source = record.config_source;
    config.state = record.state;
    return config;
}

std::string encode_record(const JobRecord& r) {
    std::string out = std::string(kMagic) + "\n";
    const auto line = [&](const char* key, const std::string& value) {
        out += fmt::format("{} {}\n", key, value);
    };
    line("node", r.node);
    line("job", r.job_id);
    line("config", r.config_source);
    line("backend", r.state.backend);
    line("busy_timeout_ms", std::to_string(r.state.busy_timeout.count()));
    line("sqlite.path", r.state.sqlite.path);
    line("sqlite.durability", r.state.sqlite.durability == Durability::full ? "full" : "normal");
    line("sqlite.write_queue", r.state.sqlite.write_queue ? "1" : "0");
    const MariadbOptions& m = r.state.mariadb;
    line("mariadb.host", m.host);
    line("mariadb.port", std::to_string(m.port));
    line("mariadb.socket", m.socket);
    line("mariadb.database", m.database);
    line("mariadb.option_file", m.option_file);
    line("mariadb.read_option_file", m.read_option_file);
    line("mariadb.connect_timeout", std::to_string(m.connect_timeout.count()));
    line("mariadb.read_timeout", std::to_string(m.read_timeout.count()));
    line("mariadb.write_timeout", std::to_string(m.write_timeout.count()));
    if (r.held) {
        line("held.created", std::to_string(r.held->created_unix));
        line("held.gpus", fmt::format("{}", fmt::join(r.held->gpus, ",")));
        line("held.gpu_count", std::to_string(r.held->gpu_count));
        line("held.cpus", std::to_string(r.held->cpus));
    }
    return out + "end\n";
}

std::optional<JobRecord> decode_record(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    if (!std::getline(in, line) || line != kMagic) return std::nullopt;
    std::map<std::string, std::string> values;
    bool ended = false;
    while (std::getline(in, line)) {
        if (line == "end") {
            ended = true;
            break;
        }
        const auto space = line.find(' ');
        if (space == std::string::npos) return std::nullopt;
        values[line.substr(0, space)] = line.substr(space + 1);
    }
    if (!ended) return std::nullopt;  // cut short
    for (const char* key : {"node", "job", "config", "backend", "busy_timeout_ms", "sqlite.path",
                            "sqlite.durability", "sqlite.write_queue"}) {
        if (values.count(key) == 0) return std::nullopt;
    }
    JobRecord r;
    r.node = values["node"];
    r.job_id = values["job"];
    r.config_source = values["config"];
    r.state.backend = values["backend"];
    try {
        r.state.busy_timeout = std::chrono::milliseconds(std::stoll(values["busy_timeout_ms"]));
    } catch (...) {
        return std::nullopt;
    }
    r.state.sqlite.path = values["sqlite.path"];
    r.state.sqlite.durability =
        values["sqlite.durability"] == "normal" ? Durability::normal : Durability::full;
    r.state.sqlite.write_queue = values["sqlite.write_queue"] != "0";
    // The database server's options (every key, as encode_record() writes them all).
    MariadbOptions& m = r.state.mariadb;
    const auto copy = [&](const char* key, std::string& into) {
        if (auto it = values.find(key); it != values.end()) into = it->second;
    };
    copy("mariadb.host", m.host);
    copy("mariadb.socket", m.socket);
    copy("mariadb.database", m.database);
    copy("mariadb.option_file", m.option_file);
    copy("mariadb.read_option_file", m.read_option_file);
    try {
        if (auto it = values.find("mariadb.port"); it != values.end()) {
            m.port = static_cast<unsigned>(std::stoul(it->second));
        }
        for (auto [key, into] : {std::pair{"mariadb.connect_timeout", &m.connect_timeout},
                                 std::pair{"mariadb.read_timeout", &m.read_timeout},
                                 std::pair{"mariadb.write_timeout", &m.write_timeout}}) {
            if (auto it = values.find(key); it != values.end()) {
                *into = std::chrono::seconds(std::stoll(it->second));
            }
        }
        if (values.count("held.created") != 0) {
            Reservation held;
            held.origin = Origin::slurm;
            held.task_id = r.job_id;
            held.server = r.node;
            held.created_unix = std::stoll(values.at("held.created"));
            held.gpu_count = std::stoi(values.at("held.gpu_count"));
            held.cpus = std::stoi(values.at("held.cpus"));
            const std::string& gpus = values.at("held.gpus");
            for (std::size_t at = 0; at < gpus.size();) {
                const std::size_t comma = std::min(gpus.find(',', at), gpus.size());
                held.gpus.push_back(std::stoi(gpus.substr(at, comma - at)));
                at = comma + 1;
            }
            r.held = std::move(held);
        }
    } catch (...) {
        return std::nullopt;  // a number that is not one, or a held.* key missing
    }
    return r;
}

std::string encode_pending(const PendingRelease& p) {
    return fmt::format("{}\nsince {}\nwhy {}\n{}", kPendingMagic, p.since_unix, p.why,
                       encode_record(p.record));
}

std::optional<PendingRelease> decode_pending(const std::string& text) {
    std::istringstream in(text);
    std::string magic, since, why;
    if (!std::getline(in, magic) || magic != kPendingMagic || !std::getline(in, since) ||
        since.rfind("since ", 0) != 0 || !std::getline(in, why) || why.rfind("why ", 0) != 0) {
        return std::nullopt;
    }
    PendingRelease p;
    try {
        p.since_unix = std::stoll(since.substr(6));
    } catch (...) {
        return std::nullopt;
    }
    p.why = why.substr(4);
    // A file that ends on the why line (torn, or hand-made) has no record after it.
    const std::streamoff rest = in.tellg();
    if (rest < 0 || static_cast<std::size_t>(rest) >= text.size()) return std::nullopt;
    auto record = decode_record(text.substr(static_cast<std::size_t>(rest)));
    if (!record) return std::nullopt;
    p.record = std::move(*record);
    return p;
}

Result<RecordDir> RecordDir::open(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) return dir_error(dir, errno_text());
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
            return dir_error(dir, "cannot create it: " + errno_text());
        }
        if (::lstat(dir.c_str(), &st) != 0) return dir_error(dir, errno_text());
    }
    if (auto ok = check_dir(dir, st); !ok) return ok.error();
    return RecordDir(dir);
}

Result<RecordDir> RecordDir::open_existing(const std::string& dir) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        if (errno == ENOENT) return RecordDir("");
        return dir_error(dir, errno_text());
    }
    if (auto ok = check_dir(dir, st); !ok) return ok.error();
    return RecordDir(dir);
}

namespace {

// A value that would break the line-per-key format.
std::optional<std::string> line_break_in(const JobRecord& record) {
    const MariadbOptions& m = record.state.mariadb;
    for (const std::string* v : {&record.node, &record.job_id, &record.config_source,
                                 &record.state.backend, &record.state.sqlite.path, &m.host,
                                 &m.socket, &m.database, &m.option_file, &m.read_option_file}) {
        if (v->find('\n') != std::string::npos) return *v;
    }
    return std::nullopt;
}

}  // namespace

// Written under a temporary name and renamed into place: a process that dies at any point
// (the prolog killed, slurmd restarted) leaves the old file or the new one, whole. Durable
// (the file and then the directory synced) when asked: a release kept while the ledger is out
// of reach, a change the ledger is owed. A job record (or a refusal) is not: what it is for
// ends with the boot. Only a crash of the node itself can lose one that was written, and that
// ends every job of the boot; what their records would have released, the reboot rule
// releases (Ledger::release_before_boot, at slurmd's start and before a refusal), and a
// record torn by the crash is "not a whole job record", skipped. On a disk-backed record_dir
// the two syncs per record were a prolog's dearest calls after the ledger's commit (four per
// reserving prolog: tests/bench/README.md, "The hook path").
Result<void> RecordDir::replace(const std::string& name, const std::string& bytes,
                                bool durable) const {
    const std::string tmp = dir_ + "/." + name + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return dir_error(dir_, "cannot write " + tmp + ": " + errno_text());
    const bool written =
        ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) &&
        (!durable || ::fsync(fd) == 0);
    const std::string why = errno_text();
    ::close(fd);
    if (!written || ::rename(tmp.c_str(), (dir_ + "/" + name).c_str()) != 0) {
        ::unlink(tmp.c_str());
        return dir_error(dir_, "cannot write " + name + ": " + (written ? errno_text() : why));
    }
    if (!durable) return {};
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        const std::string dir_why = errno_text();
        if (dfd >= 0) ::close(dfd);
        return dir_error(dir_, "cannot sync it after writing " + name + ": " + dir_why);
    }
    ::close(dfd);
    return {};
}

Result<void> RecordDir::unlink(const std::string& name) const {
    if (dir_.empty()) return {};
    const std::string path = dir_ + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return dir_error(dir_, "cannot remove " + path + ": " + errno_text());
    }
    return {};
}

Result<void> RecordDir::write(const JobRecord& record) const {
    if (auto bad = line_break_in(record)) {
        return dir_error(dir_,
                         fmt::format("cannot record {}: a line break in it", in_quotes(*bad, 100)));
    }
    return replace(file_name(record.node, record.job_id), encode_record(record), false);
}

Result<void> RecordDir::write_pending(const PendingRelease& pending) const {
    if (dir_.empty()) return dir_error("(none)", "no directory to keep the release in");
    if (auto bad = line_break_in(pending.record)) {
        return dir_error(dir_,
                         fmt::format("cannot record {}: a line break in it", in_quotes(*bad, 100)));
    }
    PendingRelease p = pending;
    std::replace(p.why.begin(), p.why.end(), '\n', ' ');
    return replace(file_name(p.record.node, p.record.job_id, kPending), encode_pending(p), true);
}

Result<void> RecordDir::remove_pending(const std::string& node, const std::string& job_id) const {
    return unlink(file_name(node, job_id, kPending));
}

std::vector<PendingRelease> RecordDir::pending(const std::optional<std::string>& node,
                                               std::vector<std::string>* unreadable) const {
    std::vector<PendingRelease> out;
    if (dir_.empty()) return out;
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return out;
    for (const std::string& name : names_of(d, node, kPending)) {
        auto text = read_small(::dirfd(d), name);
        auto p = text ? decode_pending(*text) : std::nullopt;
        if (p && (!node || p->record.node == *node)) {
            out.push_back(std::move(*p));
        } else if (!p && unreadable != nullptr) {
            unreadable->push_back(
                fmt::format("{}/{} is not a whole pending release; look at it, "
                            "then remove it",
                            dir_, name));
        }
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const PendingRelease& a, const PendingRelease& b) {
        return a.since_unix < b.since_unix;
    });
    return out;
}

Result<void> RecordDir::write_refusal(const std::string& node, const std::string& job_id,
                                      const std::string& reason) const {
    std::string line = reason;
    std::replace(line.begin(), line.end(), '\n', ' ');
    return replace(
        file_name(node, job_id, kRefusal),
        fmt::format("{}\nnode {}\njob {}\nreason {}\n", kRefusalMagic, node, job_id, line),
        false);  // for the job's steps: ends with the boot, as a record does
}

std::optional<std::string> RecordDir::refusal(const std::string& node,
                                              const std::string& job_id) const {
    if (dir_.empty()) return std::nullopt;
    const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return std::nullopt;
    auto text = read_small(dfd, file_name(node, job_id, kRefusal));
    ::close(dfd);
    if (!text) return std::nullopt;
    const std::string expected =
        fmt::format("{}\nnode {}\njob {}\nreason ", kRefusalMagic, node, job_id);
    if (text->rfind(expected, 0) != 0) return std::nullopt;
    std::string reason = text->substr(expected.size());
    if (!reason.empty() && reason.back() == '\n') reason.pop_back();
    return reason;
}

Result<void> RecordDir::remove_refusal(const std::string& node, const std::string& job_id) const {
    return unlink(file_name(node, job_id, kRefusal));
}

Result<std::optional<JobRecord>> RecordDir::read(const std::string& node,
                                                 const std::string& job_id) const {
    if (dir_.empty()) return std::optional<JobRecord>();
    const std::string path = dir_ + "/" + file_name(node, job_id);
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::optional<JobRecord>();
        return dir_error(dir_, "cannot read " + path + ": " + errno_text());
    }
    std::string text(kMaxRecordBytes, '\0');
    const ssize_t n = ::read(fd, text.data(), text.size());
    ::close(fd);
    if (n < 0) return dir_error(dir_, "cannot read " + path + ": " + errno_text());
    text.resize(static_cast<std::size_t>(n));
    auto record = decode_record(text);
    if (!record || record->node != node || record->job_id != job_id) {
        return dir_error(dir_, path + " is not a whole job record");
    }
    return std::optional<JobRecord>(std::move(*record));
}

Result<void> RecordDir::remove(const std::string& node, const std::string& job_id) const {
    return unlink(file_name(node, job_id));
}

std::vector<JobRecord> RecordDir::on_node(const std::optional<std::string>& node) const {
    std::vector<JobRecord> out;
    if (dir_.empty()) return out;
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return out;
    for (const std::string& name : names_of(d, node, kRecord)) {
        auto text = read_small(::dirfd(d), name);
        if (!text || text->empty()) continue;
        if (auto r = decode_record(*text); r && (!node || r->node == *node)) {
            out.push_back(std::move(*r));
        }
    }
    ::closedir(d);
    return out;
}

namespace {

// The Slurm reservation of the record's job on its node in the ledger `config` names (nullopt:
// none; an error: it cannot be read).
Result<std::optional<Reservation>> held_in(const Config& config, const JobRecord& record) {
    auto ledger = open_ledger(config, Access::read_only);
    if (!ledger) return ledger.error();
    return (*ledger)->find(Origin::slurm, record.job_id, record.node);
}

}  // namespace

std::vector<JobRecord> held_in_other_ledgers(const Config& config, const RecordDir& records,
                                             const std::optional<std::string>& node,
                                             bool remove_stale) {
    std::vector<JobRecord> out;
    for (JobRecord& other : records.on_node(node)) {
        if (other.state.backend == config.state.backend &&
            ledger_location(other.state) == ledger_location(config.state)) {
            continue;
        }
        // Does the other ledger still hold that job there? Read-only: nothing is created.
        const Config old = config_of(other);
        // A ledger file that is gone proves nothing about the job (it may still run on the
        // GPUs the record names, or the path may be on a filesystem not mounted yet): the
        // record keeps holding until its epilog or an admin removes it.
        struct stat st {};
        if (old.state.backend == "sqlite" && ::lstat(old.state.sqlite.path.c_str(), &st) != 0 &&
            errno == ENOENT) {
            out.push_back(std::move(other));
            continue;
        }
        auto ledger = open_ledger(old, Access::read_only);
        if (ledger) {
            auto held = (*ledger)->find(Origin::slurm, other.job_id, other.node);
            if (held && !held->has_value()) {
                // A record left behind is looked at again next time. When the configured
                // ledger holds the job (a ledger file renamed to its new path, a database
                // restored under another name), the record is rewritten to name it: the
                // job's epilog then releases there, and its steps still find a record (without
                // one they would take the fast path that hides its GPUs:
                // gpuslots/step_settings.h). Removed when neither holds it; kept when the
                // configured ledger cannot be read.
                if (remove_stale) {
                    auto here = held_in(config, other);
                    if (here && here->has_value()) {
                        (void)records.write(JobRecord{other.node, other.job_id, config.source,
                                                      config.state, **here});
                    } else if (here) {
                        (void)records.remove(other.node, other.job_id);
                    }
                }
                continue;
            }
        }
        out.push_back(std::move(other));
    }
    return out;
}

}  // namespace gpuslots
