// The embedded ledger: one SQLite file in WAL mode.
//
// Why this shape:
//   - Crash safety and concurrency come from SQLite: every operation is one transaction, a
//     kill -9 at any point leaves the file before or after it. Writers take the write lock up
//     front (BEGIN IMMEDIATE), so a reserve never reads stale usage.
//   - WAL + synchronous=FULL: one fsync per commit (the physical limit of a durable operation),
//     and readers (status) never block writers (the prologs).
//   - The WAL and -shm files persist (SQLITE_FCNTL_PERSIST_WAL), so users without write access
//     to /var/lib/gpuslots can still read status: SQLite needs those files to exist to read a
//     WAL database without creating them.
//   - A new ledger is built under a temporary name and linked into place, so the ledger path
//     never names a half-initialised file, and an existing empty file is always damage.
//   - Each operation reads and writes only the rows of the server it concerns (every query is
//     keyed by server), the same shape a row-locking database server backend needs.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <optional>
#include <thread>
#include <unordered_map>

#include "gpuslots/ledger.hpp"
#include "gpuslots/placement.hpp"
#include "gpuslots/request.hpp"
#include "sqlite_db.hpp"
#include "sqlite_file.hpp"

namespace gpuslots {
namespace {

using sqlite::create_ledger_file;
using sqlite::FileProbe;
using sqlite::header_problem;
using sqlite::kApplicationId;
using sqlite::kSchemaVersion;
using sqlite::probe;
using sqlite::to_error;

Origin parse_origin(const std::string& s) {
    return s == "slurm" ? Origin::slurm : Origin::manual;
}

std::string join(const std::vector<int>& v) {
    return fmt::format("{}", fmt::join(v, ","));
}

class SqliteLedger final : public Ledger {
  public:
    SqliteLedger(const Config& config, Access access) : config_(config), access_(access) {}

    Result<void> open();
    Result<void> open_unguarded();

    Result<Reservation> reserve(std::string_view server, const Request& request) override {
        return guarded([&] {
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::write);
            auto result = reserve_locked(server, request);
            if (result) txn.commit();
            return result;
        });
    }

    Result<Reservation> allocate(const Request& request) override {
        return guarded([&]() -> Result<Reservation> {
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::write);
            if (auto held = held_elsewhere(request)) return *held;
            const auto& servers = config_.fleet.servers();
            std::vector<ServerUsage> usage(servers.size());
            for (std::size_t i = 0; i < servers.size(); ++i) {
                usage[i].gpus_total = servers[i].gpus;
                usage[i].cpus_total = servers[i].cpus;
            }
            auto& s = statement(usage_by_server_, R"sql(
                SELECT r.server, sum(r.cpus), sum(r.gpu_count) FROM reservations r
                GROUP BY r.server)sql");
            s.run_with();
            while (s.step()) {
                if (auto i = config_.fleet.find(s.text(0))) {
                    usage[*i].cpus_used = static_cast<int>(s.integer(1));
                    usage[*i].gpus_used = static_cast<int>(s.integer(2));
                }
            }
            auto chosen = best_fit(usage, request.gpus, request.cpus);
            if (!chosen) {
                int most_gpus = 0;
                int most_cpus = 0;
                for (const auto& u : usage) {
                    most_gpus = std::max(most_gpus, u.gpus_free());
                    most_cpus = std::max(most_cpus, u.cpus_free());
                }
                return make_error(Errc::no_fit,
                                  "no server has {} free (the most free on one server: {} GPUs, "
                                  "{} CPUs); try later or ask for less",
                                  slots_text(request.gpus, request.cpus), most_gpus, most_cpus);
            }
            auto result = reserve_locked(servers[*chosen].name, request);
            if (result) txn.commit();
            return result;
        });
    }

    Result<std::vector<Reservation>> release(Origin origin, std::string_view task_id,
                                             const std::optional<std::string>& server,
                                             std::optional<std::uint32_t> required_owner) override {
        return guarded([&]() -> Result<std::vector<Reservation>> {
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::write);
            std::vector<Reservation> found = load(origin, task_id, server);
            for (const auto& r : found) {
                if (required_owner && r.owner_uid != *required_owner) {
                    return make_error(Errc::permission,
                                      "task '{}' on {} belongs to uid {}; only that user or "
                                      "root may release it",
                                      r.task_id, r.server, r.owner_uid);
                }
            }
            auto& del_holds = statement(delete_holds_, R"sql(
                DELETE FROM gpu_holds WHERE server = ?1 AND reservation = ?2)sql");
            auto& del_res = statement(delete_reservation_, R"sql(
                DELETE FROM reservations WHERE id = ?1)sql");
            for (std::size_t i = 0; i < found.size(); ++i) {
                del_holds.run_with(found[i].server, ids_[i]).done();
                del_res.run_with(ids_[i]).done();
            }
            if (origin == Origin::slurm) {
                auto& del_refusal = statement(delete_refusal_, R"sql(
                    DELETE FROM refusals WHERE task_id = ?1 AND (?2 IS NULL OR server = ?2))sql");
                if (server) {
                    del_refusal.run_with(task_id, *server).done();
                } else {
                    del_refusal.run_with(task_id).done();
                }
            }
            txn.commit();
            return found;
        });
    }

    Result<std::optional<Reservation>> find(Origin origin, std::string_view task_id,
                                            std::string_view server) override {
        return guarded([&]() -> Result<std::optional<Reservation>> {
            if (!db_) return std::optional<Reservation>();
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::read);
            auto found = load(origin, task_id, std::string(server));
            if (found.empty()) return std::optional<Reservation>();
            return std::optional<Reservation>(std::move(found.front()));
        });
    }

    Result<std::vector<Reservation>> reservations() override {
        return guarded([&]() -> Result<std::vector<Reservation>> {
            std::vector<Reservation> out;
            if (!db_) return out;
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::read);
            // Both tables in their stored order (no sorting or index lookups in SQLite), joined
            // here: at 10,000 servers this is most of what `status` costs. Row ids grow with
            // every insert, so rowid order is age order.
            std::vector<std::int64_t> ids;  // ascending
            auto& rows = statement(all_reservations_, R"sql(
                SELECT id, origin, task_id, server, cpus, gpu_count, owner_uid, created
                FROM reservations)sql");
            rows.run_with();
            while (rows.step()) {
                ids.push_back(rows.integer(0));
                out.push_back(row_to_reservation(rows, 1));
            }
            auto& holds = statement(all_holds_, R"sql(
                SELECT reservation, gpu FROM gpu_holds)sql");  // by server, then GPU index
            holds.run_with();
            while (holds.step()) {
                const std::int64_t id = holds.integer(0);
                auto it = std::lower_bound(ids.begin(), ids.end(), id);
                if (it != ids.end() && *it == id) {
                    out[static_cast<std::size_t>(it - ids.begin())].gpus.push_back(
                        static_cast<int>(holds.integer(1)));
                }
            }
            return out;
        });
    }

    Result<std::size_t> reset() override {
        return guarded([&]() -> Result<std::size_t> {
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::write);
            const auto count = static_cast<std::size_t>(count_rows("reservations"));
            db_->exec("DELETE FROM gpu_holds; DELETE FROM reservations; DELETE FROM refusals;");
            txn.commit();
            return count;
        });
    }

    Result<void> record_refusal(std::string_view server, std::string_view task_id,
                                std::string_view reason) override {
        return guarded([&]() -> Result<void> {
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::write);
            statement(insert_refusal_, R"sql(
                INSERT OR REPLACE INTO refusals (task_id, server, reason, created)
                VALUES (?1, ?2, ?3, ?4))sql")
                .run_with(task_id, server, reason, static_cast<std::int64_t>(std::time(nullptr)))
                .done();
            txn.commit();
            return {};
        });
    }

    Result<std::optional<std::string>> refusal(std::string_view server,
                                               std::string_view task_id) override {
        return guarded([&]() -> Result<std::optional<std::string>> {
            if (!db_) return std::optional<std::string>();
            auto& s = statement(find_refusal_, R"sql(
                SELECT reason FROM refusals WHERE task_id = ?1 AND server = ?2)sql");
            s.run_with(task_id, server);
            std::optional<std::string> reason;
            if (s.step()) reason = s.text(0);
            s.reset();  // release the read snapshot
            return reason;
        });
    }

    Result<std::vector<std::string>> verify() override {
        return guarded([&]() -> Result<std::vector<std::string>> {
            std::vector<std::string> problems;
            if (!db_) return problems;
            sqlite::Transaction txn(*db_, sqlite::Transaction::Kind::read);
            sqlite::Statement check(db_->handle(), "PRAGMA quick_check");
            while (check.step()) {
                if (check.text(0) != "ok") problems.push_back("storage: " + check.text(0));
            }
            sqlite::Statement orphans(db_->handle(), R"sql(
                SELECT h.server, h.gpu FROM gpu_holds h
                LEFT JOIN reservations r ON r.id = h.reservation
                WHERE r.id IS NULL OR r.server <> h.server)sql");
            while (orphans.step()) {
                problems.push_back(fmt::format("GPU {} of {} is held by no reservation",
                                               orphans.integer(1), orphans.text(0)));
            }
            return problems;
        });
    }

    const std::string& location() const override { return config_.state.path; }

  private:
    template <typename F>
    auto guarded(F&& body) -> decltype(body()) {
        const auto deadline = std::chrono::steady_clock::now() + config_.state.busy_timeout;
        for (int attempt = 0;; ++attempt) {
            try {
                return body();
            } catch (const sqlite::Failure& f) {
                // A reader without write access to the -shm file cannot rebuild the WAL index
                // itself; while a writer is doing so it gets one of these. Reads are
                // idempotent: wait for the writer and read again.
                const bool transient = f.code == SQLITE_READONLY_RECOVERY ||
                                       f.code == SQLITE_READONLY_CANTINIT ||
                                       f.code == SQLITE_BUSY_RECOVERY;
                if (!transient || std::chrono::steady_clock::now() >= deadline) {
                    return to_error(f, config_.state.path);
                }
                std::this_thread::sleep_for(std::chrono::microseconds(100 << std::min(attempt, 6)));
            } catch (const std::bad_alloc&) {
                return make_error(Errc::internal, "out of memory");
            }
        }
    }

    sqlite::Statement& statement(std::unique_ptr<sqlite::Statement>& slot, std::string_view sql) {
        if (!slot) slot = std::make_unique<sqlite::Statement>(db_->handle(), sql);
        return *slot;
    }

    std::int64_t count_rows(const char* table) {
        sqlite::Statement s(db_->handle(), fmt::format("SELECT count(*) FROM {}", table));
        return s.step() ? s.integer(0) : 0;
    }

    Reservation row_to_reservation(const sqlite::Statement& s, int first) const {
        Reservation r;
        r.origin = parse_origin(s.text(first));
        r.task_id = s.text(first + 1);
        r.server = s.text(first + 2);
        r.cpus = static_cast<int>(s.integer(first + 3));
        r.gpu_count = static_cast<int>(s.integer(first + 4));
        r.owner_uid = static_cast<std::uint32_t>(s.integer(first + 5));
        r.created_unix = s.integer(first + 6);
        return r;
    }

    // The reservations of a task (on one server, or all), with their GPU indices. Also leaves
    // their row ids in ids_, in the same order, for release().
    std::vector<Reservation> load(Origin origin, std::string_view task_id,
                                  const std::optional<std::string>& server) {
        // The origin is part of the SQL, not a bound value: with a bound value SQLite would
        // re-prepare the statement on every call (the manual-task index is partial).
        auto& s = find_reservations_[(origin == Origin::slurm ? 2 : 0) + (server ? 1 : 0)];
        if (!s) {
            s = std::make_unique<sqlite::Statement>(
                db_->handle(), fmt::format(R"sql(
                    SELECT id, origin, task_id, server, cpus, gpu_count, owner_uid, created
                    FROM reservations WHERE {} origin = '{}' AND task_id = ?1 ORDER BY server)sql",
                                           server ? "server = ?2 AND" : "", origin_name(origin)));
        }
        if (server) {
            s->run_with(task_id, *server);
        } else {
            s->run_with(task_id);
        }
        std::vector<Reservation> out;
        ids_.clear();
        while (s->step()) {
            ids_.push_back(s->integer(0));
            out.push_back(row_to_reservation(*s, 1));
        }
        auto& g = statement(gpus_of_reservation_, R"sql(
            SELECT gpu FROM gpu_holds WHERE server = ?1 AND reservation = ?2 ORDER BY gpu)sql");
        for (std::size_t i = 0; i < out.size(); ++i) {
            g.run_with(out[i].server, ids_[i]);
            while (g.step())
                out[i].gpus.push_back(static_cast<int>(g.integer(0)));
        }
        return out;
    }

    // For a manual task: its existing reservation anywhere is a conflict.
    std::optional<Error> held_elsewhere(const Request& request) {
        if (request.origin != Origin::manual) return std::nullopt;
        auto existing = load(Origin::manual, request.task_id, std::nullopt);
        if (existing.empty()) return std::nullopt;
        const auto& r = existing.front();
        return make_error(Errc::conflict,
                          "task '{}' already holds GPUs [{}] and {} CPUs on {}; release it "
                          "first or use another task id",
                          r.task_id, join(r.gpus), r.cpus, r.server);
    }

    // Runs inside a write transaction.
    Result<Reservation> reserve_locked(std::string_view server_name, const Request& request) {
        const Server* server = config_.fleet.server(server_name);
        if (server == nullptr) {
            return make_error(Errc::bad_input, "server '{}' is not in the config {}", server_name,
                              config_.source);
        }
        if (request.gpus < 0 || request.cpus < 0 || request.gpus > server->gpus ||
            request.cpus > server->cpus) {
            return make_error(Errc::bad_input,
                              "{} GPUs and {} CPUs can never fit on {} ({} GPUs, {} CPUs)",
                              request.gpus, request.cpus, server->name, server->gpus, server->cpus);
        }
        if (request.origin == Origin::slurm) {
            auto existing = load(Origin::slurm, request.task_id, std::string(server_name));
            if (!existing.empty()) {
                const auto& r = existing.front();
                if (r.gpu_count == request.gpus && r.cpus == request.cpus) return r;
                return make_error(Errc::conflict,
                                  "job {} already holds {} GPUs and {} CPUs on {}, not the {} "
                                  "GPUs and {} CPUs asked for",
                                  r.task_id, r.gpu_count, r.cpus, r.server, request.gpus,
                                  request.cpus);
            }
        } else if (auto held = held_elsewhere(request)) {
            return *held;
        }

        std::vector<int> held;
        auto& holds = statement(holds_on_server_, R"sql(
            SELECT gpu FROM gpu_holds WHERE server = ?1)sql");
        holds.run_with(server_name);
        while (holds.step())
            held.push_back(static_cast<int>(holds.integer(0)));
        auto& cpu_sum = statement(cpus_on_server_, R"sql(
            SELECT coalesce(sum(cpus), 0) FROM reservations WHERE server = ?1)sql");
        cpu_sum.run_with(server_name);
        const int cpus_used = cpu_sum.step() ? static_cast<int>(cpu_sum.integer(0)) : 0;
        cpu_sum.reset();

        std::vector<int> gpus = lowest_free_gpus(server->gpus, held, request.gpus);
        if (static_cast<int>(gpus.size()) < request.gpus ||
            cpus_used + request.cpus > server->cpus) {
            const int gpus_free =
                static_cast<int>(lowest_free_gpus(server->gpus, held, server->gpus).size());
            return make_error(Errc::no_fit,
                              "{} do not fit on {} now: {} of {} GPUs and {} of {} CPUs are free",
                              slots_text(request.gpus, request.cpus), server->name, gpus_free,
                              server->gpus, std::max(0, server->cpus - cpus_used), server->cpus);
        }

        Reservation r;
        r.origin = request.origin;
        r.task_id = request.task_id;
        r.server = server->name;
        r.gpus = gpus;
        r.gpu_count = request.gpus;
        r.cpus = request.cpus;
        r.owner_uid = request.owner_uid;
        r.created_unix = static_cast<std::int64_t>(std::time(nullptr));
        statement(insert_reservation_, R"sql(
            INSERT INTO reservations (origin, task_id, server, cpus, gpu_count, owner_uid, created)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql")
            .run_with(origin_name(r.origin), r.task_id, r.server, r.cpus, r.gpu_count, r.owner_uid,
                      r.created_unix)
            .done();
        const std::int64_t id = sqlite3_last_insert_rowid(db_->handle());
        auto& insert_hold = statement(insert_hold_, R"sql(
            INSERT INTO gpu_holds (server, gpu, reservation) VALUES (?1, ?2, ?3))sql");
        for (int g : gpus)
            insert_hold.run_with(r.server, g, id).done();
        return r;
    }

    const Config& config_;
    Access access_;
    std::unique_ptr<sqlite::Connection> db_;  // null: read-only and no ledger yet
    std::vector<std::int64_t> ids_;
    std::unique_ptr<sqlite::Statement> find_reservations_[4];  // by origin, and server or not

    std::unique_ptr<sqlite::Statement> usage_by_server_, delete_holds_, delete_reservation_,
        delete_refusal_, all_reservations_, all_holds_, insert_refusal_, find_refusal_,
        gpus_of_reservation_, holds_on_server_, cpus_on_server_, insert_reservation_, insert_hold_;
};

Result<void> SqliteLedger::open() {
    return guarded([&] { return open_unguarded(); });
}

Result<void> SqliteLedger::open_unguarded() {
    const std::string& path = config_.state.path;
    FileProbe file = probe(path);
    if (!file.exists) {
        if (access_ == Access::read_only) return {};  // reads as empty; nothing is created
        create_ledger_file(path);
        file = probe(path);
    }
    if (S_ISLNK(file.st.st_mode)) {
        // The ledger is opened without following links (a link in its directory must not
        // redirect root's writes); name the real file instead.
        return make_error(Errc::ledger,
                          "ledger {} is a symbolic link; set state.path in {} to the real file",
                          path, config_.source);
    }
    if (!S_ISREG(file.st.st_mode)) {
        return make_error(Errc::ledger, "ledger {} is not a regular file; check state.path in {}",
                          path, config_.source);
    }
    if (file.st.st_size == 0) {
        // We never leave an empty file behind (see create_ledger_file), so this is damage.
        throw sqlite::Failure{SQLITE_CORRUPT, "the file is empty (0 bytes)"};
    }
    if (auto problem = header_problem(path, file.st.st_size)) {
        throw sqlite::Failure{SQLITE_CORRUPT, *problem};
    }
    db_ = std::make_unique<sqlite::Connection>(path, access_ == Access::read_write,
                                               config_.state.busy_timeout,
                                               config_.state.write_queue);
    const std::int64_t app = db_->pragma_integer("application_id");
    const std::int64_t version = db_->pragma_integer("user_version");
    if (app != kApplicationId) {
        return make_error(Errc::ledger,
                          "{} is an SQLite database but not a gpuslots ledger (application_id "
                          "{}); check state.path in {}",
                          path, app, config_.source);
    }
    if (version > kSchemaVersion) {
        return make_error(Errc::ledger,
                          "ledger {} has schema version {}, newer than this gpuslots (up to {}); "
                          "upgrade gpuslots on this host",
                          path, version, kSchemaVersion);
    }
    if (version < 1) {
        return make_error(Errc::ledger, "ledger {} has an unknown schema version {}", path,
                          version);
    }
    if (access_ == Access::read_write) {
        int persist = 1;
        sqlite3_file_control(db_->handle(), nullptr, SQLITE_FCNTL_PERSIST_WAL, &persist);
        db_->exec(config_.state.durability == Durability::full ? "PRAGMA synchronous=FULL"
                                                               : "PRAGMA synchronous=NORMAL");
        // An older ledger is brought up to date by the first process that may write it; a
        // reader reads it as it is (the columns have not changed, only the indexes).
        if (version < kSchemaVersion) sqlite::migrate(*db_, path);
    }
    return {};
}

}  // namespace

const char* origin_name(Origin origin) {
    return origin == Origin::slurm ? "slurm" : "manual";
}

Result<std::unique_ptr<Ledger>> open_ledger(const Config& config, Ledger::Access access) {
    if (config.state.backend != "sqlite") {
        return make_error(Errc::config, "state.backend '{}' is not available in this build",
                          config.state.backend);
    }
    auto ledger = std::make_unique<SqliteLedger>(config, access);
    if (auto opened = ledger->open(); !opened) return opened.error();
    return std::unique_ptr<Ledger>(std::move(ledger));
}

Result<std::uint32_t> ledger_owner(const Config& config) {
    FileProbe file = probe(config.state.path);
    if (file.exists) return static_cast<std::uint32_t>(file.st.st_uid);
    // Not created yet: whoever owns the nearest existing directory above it would own it.
    std::filesystem::path dir = std::filesystem::path(config.state.path).parent_path();
    while (!dir.empty()) {
        FileProbe d = probe(dir.string());
        if (d.exists) return static_cast<std::uint32_t>(d.st.st_uid);
        if (dir == dir.root_path()) break;
        dir = dir.parent_path();
    }
    return make_error(Errc::ledger, "ledger {}: no existing directory above it", config.state.path);
}

}  // namespace gpuslots
