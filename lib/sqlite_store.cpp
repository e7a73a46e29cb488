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
//   - The ledger, its -wal and its -shm are root's and the owner's alone (0600): a process that
//     can open them can take the file locks SQLite's writers need (a read lock on a byte of
//     -shm stalls them all; an open read transaction keeps the WAL from being reset). Everyone
//     else reads the status snapshot that every commit publishes (sqlite_snapshot.hpp), so the
//     store for them is snapshot_store.cpp's, chosen in open_store(). The WAL and -shm files
//     persist (SQLITE_FCNTL_PERSIST_WAL) all the same: a process rebuilds the -shm index from
//     the WAL when it opens anyway, and a kept WAL is not recreated by every writer.
//   - The ledger counts its commits (table ledger_state) and the snapshot's head witnesses the
//     count after each commit: a ledger whose count is behind its witness has lost commits
//     (SQLite drops the frames after a damaged one, or a whole damaged or missing WAL, without
//     a word), which begin() reports as damage instead of reading the GPUs as free.
//   - A new ledger is built under a temporary name and linked into place, so the ledger path
//     never names a half-initialised file, and an existing empty file is always damage.
//   - Every query is keyed by server first, so one server's rows are found without reading
//     the others'.
#include "sqlite_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "retry.hpp"
#include "sqlite_db.hpp"
#include "sqlite_file.hpp"
#include "sqlite_snapshot.hpp"

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
        // The witness first: it is published after each commit, so whatever it says was
        // committed before the transaction below starts, and must be in it.
        const std::int64_t witness =
            schema_ >= kCountingSchema ? read_head(path()).value_or(-1) : -1;
        if (kind == Transaction::write) {
            db_->begin_write();  // leaves no transaction open and no queue turn held on a throw
        } else {
            db_->begin_read();
        }
        open_ = kind;
        found_.clear();
        touched_.clear();
        touched_all_ = false;
        claimed_ = false;
        changes_at_begin_ = sqlite3_total_changes64(db_->handle());
        if (schema_ < kCountingSchema) return;
        try {
            auto& count = statement(read_commits_, "SELECT commits FROM ledger_state WHERE id = 1");
            count.run_with();
            commits_ = count.step() ? count.integer(0) : -1;
            count.reset();
        } catch (...) {
            rollback();
            throw;
        }
        if (commits_ < 0 || commits_ < witness) {
            rollback();
            throw lost_commits(witness);
        }
    }

    void commit() override {
        if (!open_) return;
        const bool wrote = *open_ == Transaction::write &&
                           sqlite3_total_changes64(db_->handle()) != changes_at_begin_;
        if (!wrote || schema_ < kCountingSchema) {
            db_->commit();
            if (*open_ == Transaction::write) db_->end_write();
            open_.reset();
            return;
        }
        // Count the commit, and read what the snapshot must show of the servers it changed
        // while they are still this transaction's (a few rows: the servers touched, never the
        // fleet). The lock is taken before COMMIT so that snapshots are published in commit
        // order; a writer that cannot have it by its deadline commits all the same, unpublished
        // (the next one republishes: see publish_after_commit).
        statement(count_commit_, "UPDATE ledger_state SET commits = ?1 WHERE id = 1")
            .run_with(commits_ + 1)
            .done();
        std::vector<ServerRows> changed;
        if (!touched_all_) {
            for (const auto& server : touched_)
                changed.push_back(ServerRows{server, server_rows(server)});
        }
        std::optional<std::vector<std::string>> claims;
        if (claimed_) claims = claimed_servers();
        Publisher& snapshot = publisher();
        const bool locked =
            snapshot.lock(std::chrono::steady_clock::now() + config_.state.busy_timeout);
        try {
            db_->commit();
        } catch (...) {
            snapshot.unlock();
            throw;
        }
        open_.reset();
        if (locked) {
            publish_after_commit(snapshot, changed);
            if (claims) snapshot.publish_claims(*claims);
        }
        snapshot.unlock();
        // The turn goes on only now: the next writer would otherwise reach the snapshot's lock
        // before this one has let it go, and nap for it while holding SQLite's write lock.
        db_->end_write();
        ++commits_;
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
        auto& rows = statement(reservations_on_server_, select_reservations("WHERE server = ?1"));
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
                db_->handle(), select_reservations(fmt::format(
                                   "WHERE {} origin = '{}' AND task_id = ?1 ORDER BY "
                                   "server",
                                   server ? "server = ?2 AND" : "", origin_name(origin))));
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
        std::vector<Row> rows = all_rows();
        out.reserve(rows.size());
        for (auto& row : rows)
            out.push_back(std::move(row.r));
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
        touch(r.server);
        statement(insert_reservation_, R"sql(
            INSERT INTO reservations (origin, task_id, server, cpus, gpu_count, owner_uid, created,
                                      boot_id, expires_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql")
            .run_with(origin_name(r.origin), r.task_id, r.server, r.cpus, r.gpu_count, r.owner_uid,
                      r.created_unix,
                      r.boot_id.empty() ? std::optional<std::string_view>()
                                        : std::optional<std::string_view>(r.boot_id),
                      r.expires_unix)
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
        touch(r.server);
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
        touched_all_ = true;
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

    std::optional<std::vector<std::string>> claims() override {
        if (!db_ || schema_ < kClaimsSchema) return std::vector<std::string>();
        return claimed_servers();
    }

    void claim(std::string_view server) override {
        if (schema_ < kClaimsSchema) return;  // read_write opens migrate: only a reader is older
        statement(insert_claim_, R"sql(
            INSERT OR IGNORE INTO node_claims (server, claimed) VALUES (?1, ?2))sql")
            .run_with(server, static_cast<std::int64_t>(std::time(nullptr)))
            .done();
        if (sqlite3_changes(db_->handle()) > 0) claimed_ = true;
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
        // check-config as root or the owner publishes the status snapshot again from this
        // read (unless a writer has published a later commit meanwhile), so that a snapshot
        // that fell behind (a writer killed between its commit and its files) or was removed
        // is whole again; files that already say the same are not rewritten.
        if (schema_ >= kCountingSchema) {
            Publisher& snapshot = publisher();
            if (!snapshot.lock(std::chrono::steady_clock::now() + config_.state.busy_timeout)) {
                problems.push_back(
                    fmt::format("the status snapshot {} stayed locked by a "
                                "writer; it was not checked",
                                snapshot_dir(path())));
            } else {
                const auto head = snapshot.head();
                if ((!head || *head <= commits_) &&
                    (!snapshot.republish(commits_, by_server(all_rows())) ||
                     !snapshot.publish_claims(claimed_servers()))) {
                    problems.push_back(
                        fmt::format("cannot write the status snapshot {}", snapshot_dir(path())));
                }
                snapshot.unlock();
            }
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
    const std::string& path() const { return config_.state.sqlite.path; }

    void touch(const std::string& server) {
        if (std::find(touched_.begin(), touched_.end(), server) == touched_.end()) {
            touched_.push_back(server);
        }
    }

    Failure lost_commits(std::int64_t witness) const {
        const std::string dir = snapshot_dir(path());
        return Failure{
            SQLITE_CORRUPT,
            fmt::format("it has lost commits: it holds {} of the {} made (the count {}/head "
                        "recorded), so reservations it made are missing; its -wal file was "
                        "damaged or removed, or an older copy was put in place. Nothing was "
                        "changed: restore it from a backup, or, to go on with it as it is (after "
                        "restoring an older copy on purpose), remove {}; the next write or "
                        "'gpuslots check-config' as root publishes it again",
                        commits_ < 0 ? 0 : commits_, witness, dir, dir),
            true};
    }

    Publisher& publisher() {
        if (!publisher_)
            publisher_ = std::make_unique<Publisher>(path(), file_.st_uid, file_.st_gid);
        return *publisher_;
    }

    // After COMMIT, under the snapshot's lock. The commit stands whatever happens here.
    void publish_after_commit(Publisher& snapshot,
                              const std::vector<ServerRows>& changed) noexcept {
        try {
            const auto head = snapshot.head();
            if (head && *head >= commits_ && !touched_all_) {
                snapshot.publish(commits_ + 1, changed);
                return;
            }
            // No snapshot yet (a ledger of an earlier release, a removed directory), one that
            // missed a commit, or a reset: publish all of it, from a fresh read.
            db_->begin_read();
            try {
                auto& count =
                    statement(read_commits_, "SELECT commits FROM ledger_state WHERE id = 1");
                count.run_with();
                const std::int64_t now = count.step() ? count.integer(0) : 0;
                count.reset();
                const auto all = by_server(all_rows());
                const auto claims = claimed_servers();
                db_->commit();
                snapshot.republish(now, all);
                snapshot.publish_claims(claims);
            } catch (...) {
                sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
            }
        } catch (...) {
        }
    }

    // The servers in node_claims, sorted (its key order).
    std::vector<std::string> claimed_servers() {
        std::vector<std::string> out;
        if (schema_ < kClaimsSchema) return out;
        auto& s = statement(claims_, "SELECT server FROM node_claims ORDER BY server");
        s.run_with();
        while (s.step())
            out.push_back(s.text(0));
        return out;
    }

    // Every reservation with its row id, oldest first. Both tables in their stored order (no
    // sorting or index lookups in SQLite), joined here: at 10,000 servers this is most of what
    // `status` costs. Row ids grow with every insert, so rowid order is age order.
    std::vector<Row> all_rows() {
        std::vector<Row> out;
        auto& rows = statement(all_reservations_, select_reservations(""));
        rows.run_with();
        while (rows.step())
            out.push_back(Row{rows.integer(0), row_to_reservation(rows, 1)});
        auto& holds = statement(all_holds_, R"sql(
            SELECT reservation, gpu FROM gpu_holds)sql");  // by server, then GPU index
        holds.run_with();
        while (holds.step()) {
            const std::int64_t id = holds.integer(0);
            auto it = std::lower_bound(out.begin(), out.end(), id,
                                       [](const Row& r, std::int64_t v) { return r.id < v; });
            if (it != out.end() && it->id == id) {
                it->r.gpus.push_back(static_cast<int>(holds.integer(1)));
            }
        }
        return out;
    }

    static std::vector<ServerRows> by_server(std::vector<Row> rows) {
        std::vector<ServerRows> out;
        std::stable_sort(rows.begin(), rows.end(),
                         [](const Row& a, const Row& b) { return a.r.server < b.r.server; });
        for (auto& row : rows) {
            if (out.empty() || out.back().server != row.r.server) {
                out.push_back(ServerRows{row.r.server, {}});
            }
            out.back().rows.push_back(std::move(row));
        }
        return out;
    }

    // One server's reservations with their row ids and GPUs, in id order.
    std::vector<Row> server_rows(const std::string& server) {
        std::vector<Row> out;
        auto& rows = statement(reservations_on_server_, select_reservations("WHERE server = ?1"));
        rows.run_with(server);
        while (rows.step())
            out.push_back(Row{rows.integer(0), row_to_reservation(rows, 1)});
        std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) { return a.id < b.id; });
        auto& holds = statement(holds_on_server_, R"sql(
            SELECT gpu, reservation FROM gpu_holds WHERE server = ?1)sql");
        holds.run_with(server);
        while (holds.step()) {
            const std::int64_t id = holds.integer(1);
            auto it = std::lower_bound(out.begin(), out.end(), id,
                                       [](const Row& r, std::int64_t v) { return r.id < v; });
            if (it != out.end() && it->id == id)
                it->r.gpus.push_back(static_cast<int>(holds.integer(0)));
        }
        return out;
    }

    // The reservations' columns as row_to_reservation() reads them, then `rest`. A reader of a
    // ledger from before kBootSchema (which it does not migrate) reads NULLs for the columns
    // that schema lacks.
    std::string select_reservations(std::string_view rest) const {
        return fmt::format(
            "SELECT id, origin, task_id, server, cpus, gpu_count, owner_uid, created, {} FROM "
            "reservations {}",
            schema_ >= kBootSchema ? "boot_id, expires_at" : "NULL, NULL", rest);
    }

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
        r.boot_id = s.text(first + 7);
        if (!s.is_null(first + 8)) r.expires_unix = s.integer(first + 8);
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
    struct stat file_ {};                 // the ledger file, as open() found it
    std::int64_t schema_ = 0;             // its schema version (as migrated)
    std::int64_t commits_ = 0;            // its commit count, as this transaction began
    std::int64_t changes_at_begin_ = 0;
    std::vector<std::string> touched_;  // servers whose rows this transaction changed
    bool touched_all_ = false;          // erase_all()
    bool claimed_ = false;              // claim() added a server to node_claims
    std::unique_ptr<Publisher> publisher_;
    std::unique_ptr<Statement> read_commits_, count_commit_;
    std::unique_ptr<Statement> reservations_on_server_, holds_on_server_, loads_,
        gpus_of_reservation_, all_reservations_, all_holds_, find_refusal_, insert_reservation_,
        insert_hold_, delete_holds_, delete_reservation_, insert_refusal_, delete_refusal_, claims_,
        insert_claim_;
};

// Errors that need no SQLite code are returned; SQLite's failures are thrown (open_store()
// retries the transient ones). Leaves db_ null only for a read-only open of no ledger.
Result<void> SqliteStore::open() {
    const std::string& path = config_.state.sqlite.path;
    FileProbe file = probe(path);
    if (!file.exists) {
        if (access_ == Access::read_only) return {};  // reads as empty; nothing is created
        create_ledger_file(path, std::chrono::steady_clock::now() + config_.state.busy_timeout);
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
    if (auto safe = check_ledger_files(path, file.st, access_ == Access::read_write); !safe) {
        return safe.error();
    }
    file_ = file.st;
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
        schema_ = kSchemaVersion;
    } else {
        schema_ = version;
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const Config& config, Access access) {
    // Who reads what: root and the ledger's owner read the ledger; everyone else reads its
    // status snapshot and never opens a file of the ledger (sqlite_snapshot.hpp says why).
    if (access == Access::read_only && ::geteuid() != 0) {
        FileProbe file = probe(config.state.sqlite.path);
        if (file.exists && S_ISREG(file.st.st_mode) && file.st.st_uid != ::geteuid()) {
            return open_snapshot_store(config);
        }
    }
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
