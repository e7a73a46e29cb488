// The shared store: one ledger for the whole cluster on a MariaDB/MySQL server, written by every
// node's prolog and epilog and by the admin tool. The rules are the Ledger's (ledger.cpp); this
// file is SQL. The schema and why it looks as it does: mariadb_schema.cpp.
//
// Why this shape:
//   - One InnoDB transaction per operation. Write transactions run in READ COMMITTED: a writer
//     first locks the servers row of each server it decides on (SELECT ... FOR UPDATE; every
//     writer of that server waits there), then reads that server's rows, which are then the
//     latest committed ones and stay so until it commits. Writers on different servers never
//     wait for each other; allocate's best fit reads the fleet's loads without a lock and
//     checks again under the chosen server's (Ledger::allocate).
//   - Deadlocks (1213) and lock wait time-outs (1205) undo the transaction or statement and
//     are transient: the Ledger re-runs the whole operation within state.busy_timeout_ms, so
//     they never reach a caller as a "conflict". So is a duplicate key (1062): it means a
//     concurrent writer made the same manual task id, which the re-run then sees.
//   - A lost connection is not retried within the operation: a COMMIT whose answer was lost
//     may have happened. It is reported as the ledger being unreachable; the next operation
//     connects again.
//   - Reads outside write transactions are single statements (each a consistent snapshot of
//     its own, taking no locks): a step hook's lookup is one round trip.
#include <algorithm>
#include <map>

#include "mariadb_store.hpp"

namespace gpuslots::mariadb {
namespace {

constexpr const char* kColumns =
    "r.id, r.origin, r.task_id, r.server, r.cpus, r.gpu_count, r.owner_uid, r.created, "
    "r.boot_id, r.expires_at, GROUP_CONCAT(h.gpu ORDER BY h.gpu SEPARATOR ',')";
constexpr const char* kJoin =
    "FROM reservations r LEFT JOIN gpu_holds h ON h.reservation = r.id AND h.server = r.server";

Reservation to_reservation(const Statement& s) {
    Reservation r;
    r.origin = s.text(1) == "slurm" ? Origin::slurm : Origin::manual;
    r.task_id = s.text(2);
    r.server = s.text(3);
    r.cpus = static_cast<int>(s.integer(4));
    r.gpu_count = static_cast<int>(s.integer(5));
    r.owner_uid = static_cast<std::uint32_t>(s.integer(6));
    r.created_unix = s.integer(7);
    r.boot_id = s.text(8);
    if (!s.is_null(9)) r.expires_unix = s.integer(9);
    if (!s.is_null(10)) r.gpus = gpu_list(s.text(10));
    return r;
}

class WriterStore final : public Store {
  public:
    WriterStore(const Config& config, Access access, std::unique_ptr<Connection> db)
        : config_(config), access_(access), db_(std::move(db)) {}

    void begin(Transaction kind) override {
        found_.clear();
        if (kind == Transaction::write && access_ == Access::read_only) {
            throw Failure{kReadOnly, "the ledger was opened for reading only"};
        }
        if (!db_) reconnect();
        if (kind == Transaction::write) {
            guard([&] { db_->exec("START TRANSACTION"); });
            open_ = true;
        }
    }

    void commit() override {
        if (!open_) return;
        guard([&] { db_->exec("COMMIT"); });
        open_ = false;
    }

    void rollback() noexcept override {
        if (!open_) return;
        open_ = false;
        if (db_) api().query(db_->handle(), "ROLLBACK");
    }

    void lock_servers(const std::vector<std::string>& servers) override {
        if (servers.empty()) return;
        guard([&] {
            if (lock(servers) == servers.size()) return;
            // A server no writer has touched yet: its row first (a concurrent insert of the
            // same row waits for ours, then finds it), then the lock on it.
            auto& add = statement(insert_server_, R"sql(
                INSERT IGNORE INTO servers (name, gpus, cpus) VALUES (?, ?, ?))sql");
            for (const auto& name : servers) {
                const Server* s = config_.fleet.server(name);
                add.execute(name, s ? s->gpus : 0, s ? s->cpus : 0);
            }
            lock(servers);
        });
    }

    ServerHoldings holdings(std::string_view server) override {
        return guard([&] {
            ServerHoldings out;
            auto& rows = statement(
                on_server_,
                fmt::format("SELECT {} {} WHERE r.server = ? GROUP BY r.id", kColumns, kJoin));
            rows.execute(server);
            while (rows.fetch())
                out.reservations.push_back(to_reservation(rows));
            // Every held index, also one whose reservation row is missing (a damaged ledger).
            auto& held = statement(held_on_server_, "SELECT gpu FROM gpu_holds WHERE server = ?");
            held.execute(server);
            while (held.fetch())
                out.held_gpus.push_back(static_cast<int>(held.integer(0)));
            return out;
        });
    }

    std::vector<ServerLoad> loads() override {
        return guard([&] {
            std::vector<ServerLoad> out;
            auto& s = statement(loads_, R"sql(
                SELECT server, SUM(gpu_count), SUM(cpus) FROM reservations GROUP BY server)sql");
            s.execute();
            while (s.fetch()) {
                out.push_back(ServerLoad{s.text(0), static_cast<int>(s.integer(1)),
                                         static_cast<int>(s.integer(2))});
            }
            return out;
        });
    }

    std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                  std::optional<std::string_view> server) override {
        return guard([&] {
            std::vector<Reservation> out;
            auto& s = statement(find_[server ? 1 : 0],
                                fmt::format("SELECT {} {} WHERE r.origin = ? AND r.task_id = ? {} "
                                            "GROUP BY r.id ORDER BY r.server",
                                            kColumns, kJoin, server ? "AND r.server = ?" : ""));
            s.clear();
            s.add(origin_name(origin));
            s.add(task_id);
            if (server) s.add(*server);
            s.run();
            while (s.fetch()) {
                out.push_back(to_reservation(s));
                found_.push_back(Found{origin, out.back().task_id, out.back().server,
                                       static_cast<std::uint64_t>(s.integer(0))});
            }
            return out;
        });
    }

    std::vector<Reservation> all() override {
        return guard([&] {
            std::vector<Reservation> out;
            auto& s = statement(
                all_, fmt::format("SELECT {} {} GROUP BY r.id ORDER BY r.id", kColumns, kJoin));
            s.execute();
            while (s.fetch())
                out.push_back(to_reservation(s));
            return out;
        });
    }

    std::optional<std::string> refusal(std::string_view server, std::string_view task_id) override {
        return guard([&] {
            auto& s = statement(refusal_, R"sql(
                SELECT reason FROM refusals WHERE task_id = ? AND server = ?)sql");
            s.execute(task_id, server);
            std::optional<std::string> reason;
            while (s.fetch())
                reason = s.text(0);
            return reason;
        });
    }

    void insert(const Reservation& r) override {
        guard([&] {
            auto& row = statement(insert_, R"sql(
                INSERT INTO reservations (origin, task_id, server, cpus, gpu_count, owner_uid,
                                          created, boot_id, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?))sql");
            row.execute(origin_name(r.origin), r.task_id, r.server, r.cpus, r.gpu_count,
                        r.owner_uid, r.created_unix,
                        r.boot_id.empty() ? std::optional<std::string>() : r.boot_id,
                        r.expires_unix);
            if (r.gpus.empty()) return;
            const auto id = static_cast<std::int64_t>(row.insert_id());
            // One statement for all the indices: the primary key (server, gpu) refuses the
            // whole reservation if any of them is held already.
            auto& holds = hold_statement(r.gpus.size());
            holds.clear();
            for (int g : r.gpus) {
                holds.add(r.server);
                holds.add(g);
                holds.add(id);
            }
            holds.run();
        });
    }

    void erase(const Reservation& r) override {
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
        const auto id = static_cast<std::int64_t>(it->id);
        found_.erase(it);
        guard([&] {
            statement(delete_holds_, "DELETE FROM gpu_holds WHERE server = ? AND reservation = ?")
                .execute(r.server, id);
            statement(delete_, "DELETE FROM reservations WHERE id = ?").execute(id);
        });
    }

    std::size_t erase_all() override {
        return guard([&] {
            // Every server's lock first, so that no writer is between its decision and its
            // commit while the rows go.
            db_->exec("SELECT name FROM servers ORDER BY name FOR UPDATE");
            auto count = db_->rows("SELECT COUNT(*) FROM reservations");
            db_->exec("DELETE FROM gpu_holds");
            db_->exec("DELETE FROM reservations");
            db_->exec("DELETE FROM refusals");
            return static_cast<std::size_t>(std::stoull(count.at(0).at(0).value_or("0")));
        });
    }

    void record_refusal(std::string_view server, std::string_view task_id, std::string_view reason,
                        std::int64_t created_unix) override {
        guard([&] {
            statement(record_refusal_, R"sql(
                INSERT INTO refusals (task_id, server, reason, created) VALUES (?, ?, ?, ?)
                ON DUPLICATE KEY UPDATE reason = VALUES(reason), created = VALUES(created))sql")
                .execute(task_id, server, reason, created_unix);
        });
    }

    void erase_refusals(std::string_view task_id, std::optional<std::string_view> server) override {
        guard([&] {
            if (server) {
                statement(erase_refusal_, "DELETE FROM refusals WHERE task_id = ? AND server = ?")
                    .execute(task_id, *server);
            } else {
                statement(erase_refusals_, "DELETE FROM refusals WHERE task_id = ?")
                    .execute(task_id);
            }
        });
    }

    // One ledger for the whole cluster: the truth for every server.
    std::optional<std::vector<std::string>> claims() override { return std::nullopt; }
    void claim(std::string_view) override {}

    std::vector<std::string> verify() override {
        return guard([&] {
            std::vector<std::string> problems;
            for (const auto& row : db_->rows(R"sql(
                    SELECT h.server, h.gpu FROM gpu_holds h
                    LEFT JOIN reservations r ON r.id = h.reservation AND r.server = h.server
                    WHERE r.id IS NULL ORDER BY h.server, h.gpu)sql")) {
                problems.push_back(fmt::format("GPU {} of {} is held by no reservation",
                                               row[1].value_or("?"), row[0].value_or("?")));
            }
            return problems;
        });
    }

    bool transient(const StoreFailure& f) const override {
        return f.code == kDeadlock || f.code == kLockWaitTimeout || f.code == kDuplicateKey;
    }

    Error describe(const StoreFailure& f) const override {
        return to_error(f, config_.state.mariadb, config_.state.mariadb.option_file);
    }

  private:
    // Runs `body`; a failure that lost the connection drops it, so that the next operation
    // connects again instead of failing on a dead one.
    template <typename F>
    auto guard(F&& body) -> decltype(body()) {
        try {
            return body();
        } catch (const Failure& f) {
            if (connection_lost(f.code)) drop();
            throw;
        }
    }

    void drop() {
        statements_.clear();
        on_server_ = held_on_server_ = loads_ = all_ = refusal_ = insert_ = delete_holds_ =
            delete_ = record_refusal_ = erase_refusal_ = erase_refusals_ = insert_server_ = nullptr;
        find_[0] = find_[1] = nullptr;
        holds_.clear();
        locks_.clear();
        db_.reset();
        open_ = false;
    }

    void reconnect() {
        db_ = std::make_unique<Connection>(
            Endpoint{config_.state.mariadb, config_.state.mariadb.option_file},
            lock_wait(config_.state));
    }

    // Locks the servers rows that exist of `servers`; returns how many there were.
    std::size_t lock(const std::vector<std::string>& servers) {
        auto& slot = locks_[servers.size()];
        if (!slot) {
            std::string marks;
            for (std::size_t i = 0; i < servers.size(); ++i)
                marks += i == 0 ? "?" : ", ?";
            slot = std::make_unique<Statement>(
                *db_, fmt::format("SELECT name FROM servers WHERE name IN ({}) ORDER BY name "
                                  "FOR UPDATE",
                                  marks));
        }
        slot->clear();
        for (const auto& s : servers)
            slot->add(s);
        slot->run();
        std::size_t n = 0;
        while (slot->fetch())
            ++n;
        return n;
    }

    Statement& hold_statement(std::size_t n) {
        auto& slot = holds_[n];
        if (!slot) {
            std::string values;
            for (std::size_t i = 0; i < n; ++i)
                values += i == 0 ? "(?, ?, ?)" : ", (?, ?, ?)";
            slot = std::make_unique<Statement>(
                *db_, "INSERT INTO gpu_holds (server, gpu, reservation) VALUES " + values);
        }
        return *slot;
    }

    Statement& statement(Statement*& slot, std::string_view sql) {
        if (slot == nullptr) {
            statements_.push_back(std::make_unique<Statement>(*db_, sql));
            slot = statements_.back().get();
        }
        return *slot;
    }

    const Config& config_;
    Access access_;
    std::unique_ptr<Connection> db_;  // null after a lost connection: begin() connects again
    bool open_ = false;
    struct Found {
        Origin origin;
        std::string task_id;
        std::string server;
        std::uint64_t id;
    };
    std::vector<Found> found_;  // the row ids find() read in this transaction, for erase()
    std::vector<std::unique_ptr<Statement>> statements_;  // owns the prepared statements below
    Statement *on_server_ = nullptr, *held_on_server_ = nullptr, *loads_ = nullptr, *all_ = nullptr,
              *refusal_ = nullptr, *insert_ = nullptr, *delete_holds_ = nullptr, *delete_ = nullptr,
              *record_refusal_ = nullptr, *erase_refusal_ = nullptr, *erase_refusals_ = nullptr,
              *insert_server_ = nullptr;
    Statement* find_[2] = {nullptr, nullptr};
    std::map<std::size_t, std::unique_ptr<Statement>> holds_, locks_;  // by number of rows
};

}  // namespace

std::vector<int> gpu_list(const std::string& list) {
    std::vector<int> out;
    for (std::size_t at = 0; at < list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        out.push_back(std::stoi(list.substr(at, comma - at)));
        at = comma + 1;
    }
    return out;
}

std::unique_ptr<Store> writer_store(const Config& config, Access access,
                                    std::unique_ptr<Connection> db) {
    return std::make_unique<WriterStore>(config, access, std::move(db));
}

}  // namespace gpuslots::mariadb
