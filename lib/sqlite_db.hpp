// Thin RAII over the SQLite C API for the SQLite ledger: a connection, cached prepared
// statements, and transactions that roll back unless committed. Internal to lib/.
// Failures are thrown as sqlite::Failure (a StoreFailure) and turned into gpuslots::Error at the
// Ledger's public boundary, so the store code reads as a sequence of statements.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gpuslots/store.hpp"
#include "write_queue.hpp"

namespace gpuslots::sqlite {

// What the SQLite store throws (store.hpp); `code` is an SQLite extended result code.
using Failure = StoreFailure;

class Statement {
  public:
    Statement(sqlite3* db, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Binds parameters ?1, ?2, ... in order and resets the statement for a new execution.
    template <typename... Args>
    Statement& run_with(const Args&... args) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
        int index = 1;
        (bind(index++, args), ...);
        return *this;
    }

    // Advances one row: true while there is a row, false when done (the statement is then
    // reset, so it holds no read snapshot open).
    bool step();
    // Ends an execution early (after reading only the first row).
    void reset() { sqlite3_reset(stmt_); }
    // Runs a statement that returns no rows.
    void done();

    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
    std::string text(int column) const;  // "" for NULL
    bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

  private:
    void bind(int index, std::int64_t value);
    void bind(int index, int value) { bind(index, static_cast<std::int64_t>(value)); }
    void bind(int index, std::uint32_t value) { bind(index, static_cast<std::int64_t>(value)); }
    void bind(int index, std::string_view value);
    void bind(int index, const std::string& value) { bind(index, std::string_view(value)); }
    void bind(int index, const char* value) { bind(index, std::string_view(value)); }
    void bind_null(int index);
    template <typename T>
    void bind(int index, const std::optional<T>& value) {
        if (value) {
            bind(index, *value);
        } else {
            bind_null(index);
        }
    }

    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

class Connection {
  public:
    // Opens an existing database file; never creates one (flags without SQLITE_OPEN_CREATE).
    // `write_queue`: writers take turns through WriteQueue before BEGIN IMMEDIATE.
    Connection(const std::string& path, bool writable, std::chrono::milliseconds busy_timeout,
               bool write_queue = true);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void exec(const char* sql);
    // BEGIN IMMEDIATE after this process's turn in the write queue (write_queue.hpp), both
    // within state.busy_timeout_ms; end_write() gives the turn back after COMMIT/ROLLBACK.
    void begin_write();
    void end_write();
    // BEGIN DEFERRED / COMMIT; these and BEGIN IMMEDIATE are prepared once per connection.
    void begin_read() { run_cached(begin_read_, "BEGIN DEFERRED"); }
    void commit() { run_cached(commit_, "COMMIT"); }
    std::int64_t pragma_integer(const char* pragma);
    sqlite3* handle() const { return db_; }

    // Throws Failure for `rc` with SQLite's message for this connection.
    [[noreturn]] void raise(int rc) const;

  private:
    static int on_busy(void* self, int attempt);
    void run_cached(std::unique_ptr<Statement>& slot, const char* sql);

    sqlite3* db_ = nullptr;
    std::string path_;
    std::string wal_path_;  // writers only: checked when closing
    std::chrono::milliseconds busy_timeout_;
    std::chrono::steady_clock::time_point busy_since_;
    // While a write transaction starts: the busy handler gives up here too.
    std::optional<std::chrono::steady_clock::time_point> write_deadline_;
    bool queue_opened_ = false;          // true once the queue was opened, or when there is none
    std::unique_ptr<WriteQueue> queue_;  // null: read-only, or not creatable (see WriteQueue)
    bool in_queue_ = false;
    std::unique_ptr<Statement> begin_write_, begin_read_, commit_;
};

// A write transaction (BEGIN IMMEDIATE: the write lock is taken up front, so two writers
// never both read and then collide at commit) or a read snapshot (BEGIN DEFERRED).
class Transaction {
  public:
    enum class Kind { read, write };
    Transaction(Connection& connection, Kind kind);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

  private:
    Connection& connection_;
    Kind kind_;
    bool open_ = true;
};

}  // namespace gpuslots::sqlite
