// Opening the MariaDB store, who may write it, its messages, and the read account's store.
//
// Who reads what: whoever can read the writers' option file (root) works as the writers'
// account; everyone else reads with the read account, which may do nothing but CALL
// gpuslots_status() (mariadb_schema.cpp says why it has no table privileges). Its store
// answers every read from that one call.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mariadb_schema.hpp"
#include "mariadb_store.hpp"

namespace gpuslots::mariadb {
namespace {

class ReaderStore final : public Store {
  public:
    ReaderStore(const Config& config, std::unique_ptr<Connection> db)
        : config_(config), db_(std::move(db)) {}

    void begin(Transaction kind) override {
        if (kind == Transaction::write) {
            throw Failure{kProcedureDenied, "the read account cannot change the ledger"};
        }
        loaded_ = false;
    }
    void commit() override {}
    void rollback() noexcept override {}
    void lock_servers(const std::vector<std::string>&) override {}

    ServerHoldings holdings(std::string_view server) override {
        ServerHoldings out;
        for (const auto& r : rows()) {
            if (r.server != server) continue;
            out.reservations.push_back(r);
            out.held_gpus.insert(out.held_gpus.end(), r.gpus.begin(), r.gpus.end());
        }
        return out;
    }
    std::vector<ServerLoad> loads() override {
        std::vector<ServerLoad> out;
        for (const auto& r : rows()) {
            auto it = std::find_if(out.begin(), out.end(),
                                   [&](const ServerLoad& l) { return l.server == r.server; });
            if (it == out.end()) it = out.insert(out.end(), ServerLoad{r.server, 0, 0});
            it->gpus += r.gpu_count;
            it->cpus += r.cpus;
        }
        return out;
    }
    std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                  std::optional<std::string_view> server) override {
        std::vector<Reservation> out;
        for (const auto& r : rows()) {
            if (r.origin == origin && r.task_id == task_id && (!server || r.server == *server)) {
                out.push_back(r);
            }
        }
        std::stable_sort(out.begin(), out.end(), [](const Reservation& a, const Reservation& b) {
            return a.server < b.server;
        });
        return out;
    }
    std::vector<Reservation> all() override { return rows(); }
    // Refusals are the plugin's (root's); the status procedure does not return them.
    std::optional<std::string> refusal(std::string_view, std::string_view) override {
        return std::nullopt;
    }
    void insert(const Reservation&) override { denied(); }
    void erase(const Reservation&) override { denied(); }
    std::size_t erase_all() override { denied(); }
    void record_refusal(std::string_view, std::string_view, std::string_view,
                        std::int64_t) override {
        denied();
    }
    void erase_refusals(std::string_view, std::optional<std::string_view>) override { denied(); }
    // The read account sees no table: the checks are root's ('gpuslots check-config' as root).
    // One ledger for the whole cluster: the truth for every server.
    std::optional<std::vector<std::string>> claims() override { return std::nullopt; }
    void claim(std::string_view) override {}

    std::vector<std::string> verify() override { return {}; }
    bool transient(const StoreFailure&) const override { return false; }
    Error describe(const StoreFailure& f) const override {
        return to_error(f, config_.state.mariadb, config_.state.mariadb.read_option_file);
    }

  private:
    [[noreturn]] static void denied() {
        throw Failure{kProcedureDenied, "the read account cannot change the ledger"};
    }

    // Every reservation, from one CALL per read transaction (the procedure's one SELECT is a
    // consistent snapshot).
    const std::vector<Reservation>& rows() {
        if (loaded_) return rows_;
        if (!db_) {
            db_ = std::make_unique<Connection>(
                Endpoint{config_.state.mariadb, config_.state.mariadb.read_option_file},
                lock_wait(config_.state));
        }
        std::vector<Row> result;
        try {
            result = db_->rows(fmt::format("CALL {}()", kStatusProcedure));
        } catch (const Failure& f) {
            if (connection_lost(f.code)) db_.reset();
            throw;
        }
        rows_.clear();
        for (const Row& row : result) {
            Reservation r;
            const auto field = [&](std::size_t i) { return row.at(i).value_or("0"); };
            r.origin = field(1) == "slurm" ? Origin::slurm : Origin::manual;
            r.task_id = field(2);
            r.server = field(3);
            r.cpus = std::stoi(field(4));
            r.gpu_count = std::stoi(field(5));
            r.owner_uid = static_cast<std::uint32_t>(std::stoul(field(6)));
            r.created_unix = std::stoll(field(7));
            r.boot_id = row.at(8).value_or("");
            if (row.at(9)) r.expires_unix = std::stoll(*row[9]);
            if (row.at(10)) r.gpus = gpu_list(*row[10]);
            rows_.push_back(std::move(r));
        }
        loaded_ = true;
        return rows_;
    }

    const Config& config_;
    std::unique_ptr<Connection> db_;
    bool loaded_ = false;
    std::vector<Reservation> rows_;
};

bool readable(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

// Connects as the account of `option_file`; nullptr with the error in `error`.
std::unique_ptr<Connection> connect(const Config& config, const std::string& option_file,
                                    std::optional<Error>& error) {
    try {
        return std::make_unique<Connection>(Endpoint{config.state.mariadb, option_file},
                                            lock_wait(config.state));
    } catch (const Failure& f) {
        error = to_error(f, config.state.mariadb, option_file);
        return nullptr;
    }
}

}  // namespace

std::unique_ptr<Store> reader_store(const Config& config, std::unique_ptr<Connection> db) {
    return std::make_unique<ReaderStore>(config, std::move(db));
}

std::chrono::seconds lock_wait(const StateConfig& state) {
    const auto deadline = std::chrono::duration_cast<std::chrono::seconds>(state.busy_timeout);
    return std::max(std::chrono::seconds(1),
                    std::min(state.mariadb.read_timeout - std::chrono::seconds(1), deadline));
}

std::string location(const MariadbOptions& o) {
    std::string where = !o.socket.empty() ? o.socket
                        : !o.host.empty() ? (o.port ? fmt::format("{}:{}", o.host, o.port) : o.host)
                                          : "the server its option files name";
    return fmt::format("database {} on {}", o.database, where);
}

Error to_error(const Failure& f, const MariadbOptions& o, const std::string& option_file) {
    const std::string where = location(o);
    if (f.whole_sentence) return Error{Errc::ledger, f.message};
    switch (f.code) {
        case kOptionFileUnreadable:
            return make_error(Errc::config, "{}; it holds the database account of the ledger {}",
                              f.message, where);
        case kOptionFileDenied:
            return make_error(Errc::permission,
                              "{}: only root may change the ledger ({}); others read it with "
                              "state.mariadb.read_option_file",
                              f.message, where);
        case kReadOnly:
            return make_error(Errc::permission, "{} ({})", f.message, where);
        case kAccessDenied:
        case kDatabaseDenied:
            return make_error(
                Errc::config,
                "MariaDB refused the login as the account in {} ({}): {}; check its "
                "[client] user and password and the grants 'gpuslots db init' printed",
                option_file, where, f.message);
        case kCommandDenied:
        case kProcedureDenied:
            return make_error(Errc::permission,
                              "the database account in {} may not do this: {}; only root (with the "
                              "writers' option file {}) may change the ledger",
                              option_file, f.message, o.option_file);
        case kUnknownDatabase:
        case kNoSuchTable:
        case kNoSuchProcedure:
            // The site's set-up, not damage: the plugin refuses jobs, it drains no node.
            return make_error(Errc::config,
                              "{} holds no gpuslots ledger ({}); run 'gpuslots db init' as the "
                              "database admin",
                              where, f.message);
        case kDeadlock:
        case kLockWaitTimeout:
            return make_error(Errc::busy,
                              "the ledger ({}) stayed locked by other writers past "
                              "state.busy_timeout_ms: {}",
                              where, f.message);
        case kDuplicateKey:
            return make_error(Errc::conflict, "the ledger ({}) refused a duplicate: {}", where,
                              f.message);
        default:
            break;
    }
    if (unreachable(f.code)) {
        return make_error(Errc::unreachable,
                          "cannot reach the ledger ({}) within its time-outs (connect {} s, "
                          "answers {} s): {}; check that the database server is up and that "
                          "this host reaches it (state.mariadb host/port/socket, or those in {})",
                          where, o.connect_timeout.count(),
                          std::max(o.read_timeout, o.write_timeout).count(), f.message,
                          option_file);
    }
    return make_error(Errc::ledger, "the ledger ({}) failed: {} (MariaDB error {})", where,
                      f.message, f.code);
}

Result<std::unique_ptr<Store>> open_store(const Config& config, Access access) {
    const MariadbOptions& o = config.state.mariadb;
    std::optional<Error> error;
    if (access == Access::read_only && !readable(o.option_file)) {
        auto db = connect(config, o.read_option_file, error);
        if (!db) return *error;
        return reader_store(config, std::move(db));
    }
    auto db = connect(config, o.option_file, error);
    if (!db) return *error;
    // The writers' account may not create or migrate the schema: `db init` does, as the admin.
    try {
        const std::int64_t version = schema_version(*db);
        if (version == 0) throw Failure{kNoSuchTable, "no table ledger_schema"};
        if (version > kSchemaVersion) {
            return make_error(Errc::config,
                              "{} has gpuslots schema version {}, newer than this gpuslots (up "
                              "to {}); upgrade gpuslots on this host",
                              location(o), version, kSchemaVersion);
        }
        if (version < kSchemaVersion) {
            return make_error(Errc::config,
                              "{} has gpuslots schema version {}, older than this gpuslots ({}); "
                              "run 'gpuslots db init' as the database admin to migrate it",
                              location(o), version, kSchemaVersion);
        }
    } catch (const Failure& f) {
        return to_error(f, o, o.option_file);
    }
    return writer_store(config, access, std::move(db));
}

Result<void> check_write_access(const Config& config, std::uint32_t euid) {
    const std::string& file = config.state.mariadb.option_file;
    if (readable(file)) return {};
    const int e = errno;
    if (euid != 0 && (e == EACCES || e == EPERM)) {
        return make_error(Errc::permission,
                          "permission denied: only root may change the ledger (the database "
                          "account's option file {} is root's alone)",
                          file);
    }
    return make_error(Errc::config,
                      "cannot read the option file {}: {}; it holds the database "
                      "account of the ledger {}",
                      file, std::strerror(e), location(config.state.mariadb));
}

std::vector<std::string> warnings(const MariadbOptions& o) {
    struct stat st {};
    if (::stat(o.option_file.c_str(), &st) != 0 || (st.st_mode & 0077) == 0) return {};
    return {
        fmt::format("the option file {} (mode {:04o}) is readable by others, who can then "
                    "change the ledger; chmod 0600 {}",
                    o.option_file, st.st_mode & 07777, o.option_file)};
}

}  // namespace gpuslots::mariadb
