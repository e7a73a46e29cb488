// Thin RAII over the MariaDB C connector (libmariadb, the one Slurm's own accounting uses) for
// the MariaDB store: a connection whose credentials come from a MySQL option file, prepared
// statements with bound parameters, and the classification of the server's failures. Internal
// to lib/. Failures are thrown as StoreFailure (store.hpp) with the server's or the
// connector's error number, so the store reads as a sequence of statements.
#pragma once

#include <mysql.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/store.hpp"
#include "mariadb_api.hpp"

namespace gpuslots::mariadb {

using Failure = StoreFailure;

// Error numbers the store decides on (mysqld_error.h, errmsg.h).
inline constexpr int kDeadlock = 1213;         // ER_LOCK_DEADLOCK: the transaction was undone
inline constexpr int kLockWaitTimeout = 1205;  // ER_LOCK_WAIT_TIMEOUT: the statement was undone
inline constexpr int kDuplicateKey = 1062;     // ER_DUP_ENTRY
inline constexpr int kAccessDenied = 1045;     // ER_ACCESS_DENIED_ERROR: user or password
inline constexpr int kDatabaseDenied = 1044;   // ER_DBACCESS_DENIED_ERROR
inline constexpr int kCommandDenied = 1142;    // ER_TABLEACCESS_DENIED_ERROR
inline constexpr int kProcedureDenied = 1370;  // ER_PROCACCESS_DENIED_ERROR
inline constexpr int kUnknownDatabase = 1049;  // ER_BAD_DB_ERROR
inline constexpr int kNoSuchTable = 1146;      // ER_NO_SUCH_TABLE
inline constexpr int kNoSuchProcedure = 1305;  // ER_SP_DOES_NOT_EXIST
inline constexpr int kSignal = 1644;           // ER_SIGNAL_EXCEPTION: the procedure refused
// Not the server's: the option file could not be read (checked before connecting), for want
// of permission or otherwise; a write in a store opened for reading only.
inline constexpr int kOptionFileUnreadable = -1;
inline constexpr int kOptionFileDenied = -2;
inline constexpr int kReadOnly = -3;
inline constexpr int kConnectorMissing = -4;  // libmariadb cannot be loaded (mariadb_api.hpp)

// True for the connector's "cannot reach / lost the server" errors (2002, 2003, 2005, 2006,
// 2013, ...) and a client out of step with it (2014): the connection is of no more use and
// the next operation connects again.
bool connection_lost(int code);

// True for what makes the ledger unreachable for a while without anything being wrong with
// this node, its config or the ledger itself: the errors of connection_lost() but 2014 (a
// bug), a time-out (the connector reports those as 2002/2003 at connect, 2013 on an answer),
// and a server that answers but cannot serve now: shutting down (1053), out of connections
// (1040), this host blocked after too many failed connects (1129), the session killed (1927),
// a Galera node that is not in the primary component (1047), the account's connection limits
// reached (1203, 1226: a burst of prologs), a server in read-only mode (1290, 1836: a
// fail-over under way). The plugin turns these into a
// refused job (prolog) and a release kept on the node (epilog), never into a drained node:
// they are the database's, shared by every node. Wrong credentials, a missing or other
// schema, missing grants are not here: they are the site's configuration (Errc::config).
bool unreachable(int code);

// A row of text columns (NULL: nullopt), as the text protocol returns them.
using Row = std::vector<std::optional<std::string>>;

class Connection;

// A prepared statement. Parameters are bound in order (?, ?, ...); every result column is read
// as text and converted by the accessors. One execution at a time.
class Statement {
  public:
    Statement(Connection& connection, std::string_view sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Binds `args` and executes; a statement with a result is then read with fetch().
    template <typename... Args>
    Statement& execute(const Args&... args) {
        params_.clear();
        (add(args), ...);
        run();
        return *this;
    }
    // The same for a list of parameters only known at run time: clear(), add()..., run().
    Statement& clear() {
        params_.clear();
        return *this;
    }
    void add(std::int64_t v) { params_.push_back(Param{MYSQL_TYPE_LONGLONG, v, {}}); }
    void add(int v) { add(static_cast<std::int64_t>(v)); }
    void add(std::uint32_t v) { add(static_cast<std::int64_t>(v)); }
    void add(std::string_view v) { params_.push_back(Param{MYSQL_TYPE_STRING, 0, std::string(v)}); }
    void add(const std::string& v) { add(std::string_view(v)); }
    void add(const char* v) { add(std::string_view(v)); }
    // nullopt: SQL NULL.
    template <typename T>
    void add(const std::optional<T>& v) {
        if (v) {
            add(*v);
        } else {
            params_.push_back(Param{MYSQL_TYPE_NULL, 0, {}});
        }
    }
    Statement& run();
    // The next row of the result: false when there is none left (the result is then freed).
    bool fetch();
    std::int64_t integer(std::size_t column) const;
    const std::string& text(std::size_t column) const { return fetched_[column]; }
    bool is_null(std::size_t column) const { return nulls_[column] != 0; }
    // Rows changed by the last execution of an INSERT / UPDATE / DELETE.
    std::uint64_t affected_rows() const;
    // The AUTO_INCREMENT id the last INSERT gave.
    std::uint64_t insert_id() const { return api().stmt_insert_id(stmt_); }

  private:
    struct Param {
        enum_field_types type;
        long long number;
        std::string text;
    };
    [[noreturn]] void raise() const;

    Connection& connection_;
    MYSQL_STMT* stmt_ = nullptr;
    std::string sql_;
    std::vector<Param> params_;
    bool has_result_ = false;
    std::vector<std::string> row_;      // the bound buffers
    std::vector<std::string> fetched_;  // the current row's values
    std::vector<unsigned long> lengths_;
    std::vector<char> nulls_;
    std::vector<MYSQL_BIND> out_;
};

// What to connect to and as whom (the option file holds user, password and may hold host,
// port, socket; what the config names explicitly wins).
struct Endpoint {
    const MariadbOptions& options;
    std::string option_file;
    bool use_database = true;  // false: connect without choosing one (it may not exist yet)
};

class Connection {
  public:
    // Connects within options.connect_timeout; the session reads and writes within
    // read_timeout / write_timeout, waits for a row lock at most `lock_wait`, and runs in
    // READ COMMITTED (write transactions lock what they decide on; see mariadb_store.cpp).
    // Throws Failure: kOptionFileUnreadable, or the server's or connector's error.
    Connection(const Endpoint& endpoint, std::chrono::seconds lock_wait);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs a statement without parameters (BEGIN, COMMIT, DDL) and discards any result.
    void exec(std::string_view sql);
    // Runs a query without parameters over the text protocol and returns the rows of its
    // first result (CALL returns more: they are read and dropped).
    std::vector<Row> rows(std::string_view sql);
    // The error as a Failure (the connection's own errno and message).
    [[noreturn]] void raise() const;
    MYSQL* handle() const { return db_; }
    // Whom the server logged us in as ("gpuslots@localhost").
    std::string user();

  private:
    MYSQL* db_ = nullptr;
};

}  // namespace gpuslots::mariadb
