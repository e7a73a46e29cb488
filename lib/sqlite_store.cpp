// The embedded store: the ledger's rows in one SQLite file in WAL mode. The rules are the
// Ledger's (ledger.cpp); this file is SQL and the file's own concerns.
//
// Why this shape:
//   - Crash safety and concurrency come from SQLite: every operation is one transaction, a
//     kill -9 at any point leaves the file before or after it. Writers take the write lock up
//     front (BEGIN IMMEDIATE), which serialises them: lock_servers() has nothing left to do,
//     and the unlocked loads() that best fit reads are current.
//   - WAL + synchronous=FULL: one fsync per commit (the physical limit of a durable operation),
//     and readers (status) never block writers (the prologs).
//   - The WAL and -shm files persist (SQLITE_FCNTL_PERSIST_WAL), so users without write access
//     to /var/lib/gpuslots can still read status: SQLite needs those files to exist to read a
//     WAL database without creating them.
//   - A new ledger is built under a temporary name and linked into place, so the ledger path
//     never names a half-initialised file, and an existing empty file is always damage.
//   - Every query is keyed by server first, so one server's rows are found without reading
//     the others'.
#include "sqlite_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "retry.hpp"
#include "sqlite_db.hpp"
#include "sqlite_file.hpp"

namespace gpuslots::sqlite {
namespace {

Origin parse_origin(const std::string& s) {
    return s == "slurm" ? Origin::slurm : Origin::manual;
}

class SqliteStore final : public Store {
  public:
    SqliteStore(const Config& config, Access access) : config_(config), access_(access) {}

    Result<void> open();

    void begin(Transaction kind) override {
        if (!db_) {
            if (kind == Transaction::read) return;  // no ledger yet: every read is empty
            throw Failure{SQLITE_READONLY, "the ledger was opened for reading only"};
        }
        if (kind == Transaction::write) {
            db_->begin_write();  // leaves no transaction open and no queue turn held on a throw
        } else {
            db_->begin_read();
        }
        open_ = kind;
        found_.clear();
    }

    void commit() override {
        if (!open_) return;
        db_->commit();
        if (*open_ == Transaction::write) db_->end_write();
        open_.reset();
    }

    void rollback() noexcept override {
        if (!open_) return;
        sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        if (*open_ == Transaction::write) db_->end_write();
        open_.reset();
    }

    // BEGIN IMMEDIATE already holds the one write lock.
    void lock_servers(const std::vector<std::string>&) override {}

    ServerHoldings holdings(std::string_view server) override {
        ServerHoldings out;
        if (!db_) return out;
        std::vector<std::int64_t> ids;
        auto& rows = statement(reservations_on_server_, R"sql(
            SELECT id, origin, task_id, server, cpus, gpu_count, owner_uid, created
            FROM reservations WHERE server = ?1)sql");
        rows.run_with(server);
        while (rows.step()) {
            ids.push_back(rows.integer(0));
            out.reservations.push_back(row_to_reservation(rows, 1));
        }
        auto& holds = statement(holds_on_server_, R"sql(
            SELECT gpu, reservation FROM gpu_holds WHERE server = ?1)sql");  // by GPU index
        holds.run_with(server);
        while (holds.step()) {
            const int gpu = static_cast<int>(holds.integer(0));
            out.held_gpus.push_back(gpu);
            auto it = std::find(ids.begin(), ids.end(), holds.integer(1));
            if (it != ids.end()) {
                out.reservations[static_cast<std::size_t>(it - ids.begin())].gpus.push_back(gpu);
            }
        }
        return out;
    }

    std::vector<ServerLoad> loads() override {
        std::vector<ServerLoad> out;
        if (!db_) return out;
        auto& s = statement(loads_, R"sql(
            SELECT server, sum(gpu_count), sum(cpus) FROM reservations GROUP BY server)sql");
        s.run_with();
        while (s.step()) {
            out.push_back(ServerLoad{s.text(0), static_cast<int>(s.integer(1)),
                                     static_cast<int>(s.integer(2))});
        }
        return out;
    }

    std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                  std::optional<std::string_view> server) override {
        std::vector<Reservation> out;
        if (!db_) return out;
        // The origin is part of the SQL, not a bound value: with a bound value SQLite would
        // re-prepare the statement on every call (the manual-task index is partial).
        auto& s = find_[(origin == Origin::slurm ? 2 : 0) + (server ? 1 : 0)];
        if (!s) {
            s = std::make_unique<Statement>(
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
        std::vector<std::int64_t> ids;
        while (s->step()) {
            ids.push_back(s->integer(0));
            out.push_back(row_to_reservation(*s, 1));
            found_.push_back(Found{origin, out.back().task_id, out.back().server, ids.back()});
        }
        auto& g = statement(gpus_of_reservation_, R"sql(
            SELECT gpu FROM gpu_holds WHERE server = ?1 AND reservation = ?2 ORDER BY gpu)sql");
        for (std::size_t i = 0; i < out.size(); ++i) {
            g.run_with(out[i].server, ids[i]);
            while (g.step())
                out[i].gpus.push_back(static_cast<int>(g.integer(0)));
        }
        return out;
    }

    std::vector<Reservation> all() override {
        std::vector<Reservation> out;
        if (!db_) return out;
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
    }

    std::optional<std::string> refusal(std::string_view server, std::string_view task_id) override {
        if (!db_) return std::nullopt;
        auto& s = statement(find_refusal_, R"sql(
            SELECT reason FROM refusals WHERE task_id = ?1 AND server = ?2)sql");
        s.run_with(task_id, server);
        std::optional<std::string> reason;
        if (s.step()) reason = s.text(0);
        s.reset();  // release the read snapshot
        return reason;
    }

    void insert(const Reservation& r) override {
        statement(insert_reservation_, R"sql(
            INSERT INTO reservations (origin, task_id, server, cpus, gpu_count, owner_uid, created)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql")
            .run_with(origin_name(r.origin), r.task_id, r.server, r.cpus, r.gpu_count, r.owner_uid,
                      r.created_unix)
            .done();
        const std::int64_t id = sqlite3_last_insert_rowid(db_->handle());
        auto& insert_hold = statement(insert_hold_, R"sql(
            INSERT INTO gpu_holds (server, gpu, reservation) VALUES (?1, ?2, ?3))sql");
        for (int g : r.gpus)
            insert_hold.run_with(r.server, g, id).done();
    }

    void erase(const Reservation& r) override {
        // By row id, as the Ledger erases only what it has just found in this transaction.
        auto known = [&] {
            return std::find_if(found_.begin(), found_.end(), [&](const Found& f) {
                return f.origin == r.origin && f.task_id == r.task_id && f.server == r.server;
            });
        };
        auto it = known();
        if (it == found_.end()) {
            find(r.origin, r.task_id, r.server);
            it = known();
            if (it == found_.end()) return;
        }
        const std::int64_t id = it->id;
        found_.erase(it);
        statement(delete_holds_, R"sql(
            DELETE FROM gpu_holds WHERE server = ?1 AND reservation = ?2)sql")
            .run_with(r.server, id)
            .done();
        statement(delete_reservation_, R"sql(
            DELETE FROM reservations WHERE id = ?1)sql")
            .run_with(id)
            .done();
    }

    std::size_t erase_all() override {
        Statement count(db_->handle(), "SELECT count(*) FROM reservations");
        const auto n = static_cast<std::size_t>(count.step() ? count.integer(0) : 0);
        count.reset();
        db_->exec("DELETE FROM gpu_holds; DELETE FROM reservations; DELETE FROM refusals;");
        return n;
    }

    void record_refusal(std::string_view server, std::string_view task_id, std::string_view reason,
                        std::int64_t created_unix) override {
        statement(insert_refusal_, R"sql(
            INSERT OR REPLACE INTO refusals (task_id, server, reason, created)
            VALUES (?1, ?2, ?3, ?4))sql")
            .run_with(task_id, server, reason, created_unix)
            .done();
    }

    void erase_refusals(std::string_view task_id, std::optional<std::string_view> server) override {
        auto& s = statement(delete_refusal_, R"sql(
            DELETE FROM refusals WHERE task_id = ?1 AND (?2 IS NULL OR server = ?2))sql");
        if (server) {
            s.run_with(task_id, *server).done();
        } else {
            s.run_with(task_id).done();
        }
    }

    std::vector<std::string> verify() override {
        std::vector<std::string> problems;
        if (!db_) return problems;
        Statement check(db_->handle(), "PRAGMA quick_check");
        while (check.step()) {
            if (check.text(0) != "ok") problems.push_back("storage: " + check.text(0));
        }
        Statement orphans(db_->handle(), R"sql(
            SELECT h.server, h.gpu FROM gpu_holds h
            LEFT JOIN reservations r ON r.id = h.reservation
            WHERE r.id IS NULL OR r.server <> h.server)sql");
        while (orphans.step()) {
            problems.push_back(fmt::format("GPU {} of {} is held by no reservation",
                                           orphans.integer(1), orphans.text(0)));
        }
        return problems;
    }

    // A reader without write access to the -shm file cannot rebuild the WAL index itself;
    // while a writer is doing so it gets one of these. Wait for the writer and run again.
    bool transient(const StoreFailure& f) const override {
        return f.code == SQLITE_READONLY_RECOVERY || f.code == SQLITE_READONLY_CANTINIT ||
               f.code == SQLITE_BUSY_RECOVERY;
    }

    Error describe(const StoreFailure& f) const override {
        return to_error(f, config_.state.sqlite.path);
    }

  private:
    Statement& statement(std::unique_ptr<Statement>& slot, std::string_view sql) {
        if (!slot) slot = std::make_unique<Statement>(db_->handle(), sql);
        return *slot;
    }

    static Reservation row_to_reservation(const Statement& s, int first) {
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

    const Config& config_;
    Access access_;
    std::unique_ptr<Connection> db_;  // null: read-only and no ledger yet
    std::optional<Transaction> open_;
    // The row ids of the reservations find() read in this transaction, for erase().
    struct Found {
        Origin origin;
        std::string task_id;
        std::string server;
        std::int64_t id;
    };
    std::vector<Found> found_;
    std::unique_ptr<Statement> find_[4];  // by origin, and server or not
    std::unique_ptr<Statement> reservations_on_server_, holds_on_server_, loads_,
        gpus_of_reservation_, all_reservations_, all_holds_, find_refusal_, insert_reservation_,
        insert_hold_, delete_holds_, delete_reservation_, insert_refusal_, delete_refusal_;
};

// Errors that need no SQLite code are returned; SQLite's failures are thrown (open_store()
// retries the transient ones). Leaves db_ null only for a read-only open of no ledger.
Result<void> SqliteStore::open() {
    const std::string& path = config_.state.sqlite.path;
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
        throw Failure{SQLITE_CORRUPT, "the file is empty (0 bytes)"};
    }
    if (auto problem = header_problem(path, file.st.st_size)) {
        throw Failure{SQLITE_CORRUPT, *problem};
    }
    db_ =
        std::make_unique<Connection>(path, access_ == Access::read_write,
                                     config_.state.busy_timeout, config_.state.sqlite.write_queue);
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
        db_->exec(config_.state.sqlite.durability == Durability::full
                      ? "PRAGMA synchronous=FULL"
                      : "PRAGMA synchronous=NORMAL");
        // An older ledger is brought up to date by the first process that may write it; a
        // reader reads it as it is (the columns have not changed, only the indexes).
        if (version < kSchemaVersion) migrate(*db_, path);
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const Config& config, Access access) {
    std::unique_ptr<SqliteStore> store;
    auto opened = retry_transient(
        std::chrono::steady_clock::now() + config.state.busy_timeout,
        [&](const StoreFailure& f) { return store->transient(f); },
        [&](const StoreFailure& f) { return store->describe(f); },
        [&] {
            store = std::make_unique<SqliteStore>(config, access);  // each try from scratch
            return store->open();
        });
    if (!opened) return opened.error();
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace gpuslots::sqlite
