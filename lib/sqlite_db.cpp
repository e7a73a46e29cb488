#include "sqlite_db.hpp"

#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

namespace gpuslots::sqlite {

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw Failure{rc, sqlite3_errmsg(db)};
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

void Statement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) throw Failure{rc, sqlite3_errmsg(db_)};
}

void Statement::bind(int index, std::string_view value) {
    const int rc = sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) throw Failure{rc, sqlite3_errmsg(db_)};
}

void Statement::bind_null(int index) {
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK) throw Failure{rc, sqlite3_errmsg(db_)};
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
        sqlite3_reset(stmt_);
        return false;
    }
    const int code = sqlite3_extended_errcode(db_);
    std::string message = sqlite3_errmsg(db_);
    sqlite3_reset(stmt_);
    throw Failure{code != SQLITE_OK ? code : rc, std::move(message)};
}

void Statement::done() {
    while (step()) {
    }
}

std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p != nullptr ? std::string(reinterpret_cast<const char*>(p),
                                      static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                        : std::string();
}

Connection::Connection(const std::string& path, bool writable,
                       std::chrono::milliseconds busy_timeout, bool write_queue)
    : path_(path), busy_timeout_(busy_timeout), queue_opened_(!writable || !write_queue) {
    const int flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) |
                      SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        const int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : rc;
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw Failure{code, std::move(message)};
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_handler(db_, &Connection::on_busy, this);
    if (writable) {
        // Most writers live for one transaction (a prolog, an epilog, one CLI call). Closing
        // does not checkpoint (that would cost two more fsyncs per process); see the destructor.
        sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        wal_path_ = path + "-wal";
    }
}

// With a persistent WAL and one transaction per process, SQLite never restarts the log: each
// new process finds the shared-memory index gone, rebuilds it from the whole WAL and starts
// counting from zero, so the WAL only ever grows (and every open reads all of it). Once it
// passes 256 KiB, the closing writer checkpoints it and truncates it to zero bytes (the file
// stays, as status readers without write access need it).
Connection::~Connection() {
    end_write();
    struct stat st {};
    if (!wal_path_.empty() && ::stat(wal_path_.c_str(), &st) == 0 && st.st_size > 256 * 1024) {
        sqlite3_busy_timeout(db_, 5);  // never wait long: the next writer will do it
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
    begin_write_.reset();
    begin_read_.reset();
    commit_.reset();
    sqlite3_close_v2(db_);
}

void Connection::begin_write() {
    const auto deadline = std::chrono::steady_clock::now() + busy_timeout_;
    if (!queue_opened_) {
        queue_opened_ = true;  // WriteQueue::open does not throw: once is enough
        // A ledger this process cannot write is left to SQLite, which says so at BEGIN.
        if (sqlite3_db_readonly(db_, "main") == 0) queue_ = WriteQueue::open(path_, nullptr);
    }
    if (queue_) {
        // Half the deadline at most for the turn, the rest for SQLite's lock: a turn that does
        // not come (a holder that hangs, a damaged object) delays the write, never fails it.
        if (queue_->enter(std::chrono::steady_clock::now() + busy_timeout_ / 2)) {
            in_queue_ = true;
        } else if (!queue_->usable()) {
            queue_.reset();  // SQLite's lock alone from now on
        }
    }
    write_deadline_ = deadline;
    try {
        run_cached(begin_write_, "BEGIN IMMEDIATE");
    } catch (...) {
        end_write();
        throw;
    }
}

void Connection::end_write() {
    write_deadline_.reset();
    if (in_queue_) {
        in_queue_ = false;
        queue_->leave();
    }
}

void Connection::run_cached(std::unique_ptr<Statement>& slot, const char* sql) {
    if (!slot) slot = std::make_unique<Statement>(db_, sql);
    slot->run_with().done();
}

// SQLite's own busy_timeout sleeps in steps that grow to 100 ms, so a waiter can oversleep a
// lock that was held for one fsync by two orders of magnitude. A commit here holds the write
// lock for about one fsync (0.1-5 ms), so nap briefly, growing from 20 us to 1 ms, with jitter
// so that waiters do not wake in lockstep. Bounded by state.busy_timeout_ms.
int Connection::on_busy(void* self, int attempt) {
    auto* c = static_cast<Connection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (attempt == 0) c->busy_since_ = now;
    if (now - c->busy_since_ >= c->busy_timeout_) return 0;
    if (c->write_deadline_ && now >= *c->write_deadline_) return 0;
    thread_local std::minstd_rand jitter(std::random_device{}());
    const long base_us = std::min(1000L, 20L << std::min(attempt, 6));
    const long nap_us = base_us / 2 + static_cast<long>(jitter() % static_cast<unsigned>(base_us));
    timespec ts{0, nap_us * 1000L};
    nanosleep(&ts, nullptr);
    return 1;
}

void Connection::exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw Failure{sqlite3_extended_errcode(db_), std::move(message)};
    }
}

std::int64_t Connection::pragma_integer(const char* pragma) {
    Statement s(db_, std::string("PRAGMA ") + pragma);
    return s.step() ? s.integer(0) : 0;
}

void Connection::raise(int rc) const {
    throw Failure{rc, sqlite3_errmsg(db_)};
}

Transaction::Transaction(Connection& connection, Kind kind) : connection_(connection), kind_(kind) {
    if (kind == Kind::write) {
        connection_.begin_write();
    } else {
        connection_.begin_read();
    }
}

Transaction::~Transaction() {
    if (open_) sqlite3_exec(connection_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    if (kind_ == Kind::write) connection_.end_write();
}

void Transaction::commit() {
    connection_.commit();
    open_ = false;
    if (kind_ == Kind::write) connection_.end_write();
}

}  // namespace gpuslots::sqlite
