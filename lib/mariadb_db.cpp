#include "mariadb_db.hpp"

#include <errmsg.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gpuslots::mariadb {
namespace {

// Every result column is read into a buffer this size first; a longer value is fetched again
// into one that fits.
constexpr unsigned long kColumnBuffer = 64;

void set_timeout(MYSQL* db, mysql_option option, std::chrono::seconds s) {
    const unsigned int value = static_cast<unsigned int>(s.count());
    api().optionsv(db, option, &value);
}

}  // namespace

bool connection_lost(int code) {
    return code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR || code == CR_UNKNOWN_HOST ||
           code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST ||
           code == CR_SERVER_LOST_EXTENDED || code == CR_IPSOCK_ERROR ||
           code == CR_SOCKET_CREATE_ERROR || code == CR_COMMANDS_OUT_OF_SYNC;
}

bool unreachable(int code) {
    constexpr int kTooManyConnections = 1040;  // ER_CON_COUNT_ERROR
    constexpr int kNotReady = 1047;            // ER_UNKNOWN_COM_ERROR: Galera, not primary
    constexpr int kShutdown = 1053;            // ER_SERVER_SHUTDOWN
    constexpr int kHostBlocked = 1129;         // ER_HOST_IS_BLOCKED
    constexpr int kKilled = 1927;              // ER_CONNECTION_KILLED
    constexpr int kUserConnections = 1203;     // ER_TOO_MANY_USER_CONNECTIONS
    constexpr int kUserLimit = 1226;           // ER_USER_LIMIT_REACHED
    constexpr int kReadOnlyOption = 1290;      // ER_OPTION_PREVENTS_STATEMENT (read_only)
    constexpr int kReadOnlyMode = 1836;        // ER_READ_ONLY_MODE
    return (connection_lost(code) && code != CR_COMMANDS_OUT_OF_SYNC) ||
           code == kTooManyConnections || code == kNotReady || code == kShutdown ||
           code == kHostBlocked || code == kKilled || code == kUserConnections ||
           code == kUserLimit || code == kReadOnlyOption || code == kReadOnlyMode;
}

Connection::Connection(const Endpoint& endpoint, std::chrono::seconds lock_wait) {
    const MariadbOptions& o = endpoint.options;
    // The connector skips an option file it cannot read without a word, and would then log in
    // as nobody in particular: say which file, and why, instead.
    const int fd = ::open(endpoint.option_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw Failure{errno == EACCES || errno == EPERM ? kOptionFileDenied : kOptionFileUnreadable,
                      fmt::format("cannot read the option file {}: {}", endpoint.option_file,
                                  std::strerror(errno))};
    }
    ::close(fd);
    db_ = api().init(nullptr);
    if (db_ == nullptr) throw Failure{CR_OUT_OF_MEMORY, "out of memory"};
    api().optionsv(db_, MYSQL_READ_DEFAULT_FILE, endpoint.option_file.c_str());
    set_timeout(db_, MYSQL_OPT_CONNECT_TIMEOUT, o.connect_timeout);
    set_timeout(db_, MYSQL_OPT_READ_TIMEOUT, o.read_timeout);
    set_timeout(db_, MYSQL_OPT_WRITE_TIMEOUT, o.write_timeout);
    const char* host = o.host.empty() ? nullptr : o.host.c_str();
    const char* socket = o.socket.empty() ? nullptr : o.socket.c_str();
    const char* database = endpoint.use_database ? o.database.c_str() : nullptr;
    if (api().real_connect(db_, host, nullptr, nullptr, database, o.port, socket,
                           CLIENT_MULTI_RESULTS) == nullptr) {
        const Failure f{static_cast<int>(api().errno_of(db_)), api().error(db_)};
        api().close(db_);
        db_ = nullptr;
        throw f;
    }
    try {
        exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        exec(fmt::format("SET SESSION innodb_lock_wait_timeout = {}", lock_wait.count()));
    } catch (...) {
        api().close(db_);
        db_ = nullptr;
        throw;
    }
}

Connection::~Connection() {
    if (db_ != nullptr) api().close(db_);
}

void Connection::raise() const {
    throw Failure{static_cast<int>(api().errno_of(db_)), api().error(db_)};
}

void Connection::exec(std::string_view sql) {
    rows(sql);
}

std::vector<Row> Connection::rows(std::string_view sql) {
    if (api().real_query(db_, sql.data(), sql.size()) != 0) raise();
    std::vector<Row> out;
    bool first = true;
    for (;;) {
        if (MYSQL_RES* res = api().store_result(db_)) {
            const unsigned n = api().num_fields(res);
            while (MYSQL_ROW row = api().fetch_row(res)) {
                if (!first) continue;
                const unsigned long* lengths = api().fetch_lengths(res);
                Row r(n);
                for (unsigned i = 0; i < n; ++i) {
                    if (row[i] != nullptr) r[i] = std::string(row[i], lengths[i]);
                }
                out.push_back(std::move(r));
            }
            api().free_result(res);
            first = false;
        } else if (api().field_count(db_) != 0) {
            raise();  // a result was due and could not be read
        }
        const int more = api().next_result(db_);
        if (more > 0) raise();
        if (more < 0) break;
    }
    return out;
}

std::string Connection::user() {
    auto r = rows("SELECT CURRENT_USER()");
    return r.empty() || !r[0][0] ? std::string() : *r[0][0];
}

Statement::Statement(Connection& connection, std::string_view sql)
    : connection_(connection), sql_(sql) {
    stmt_ = api().stmt_init(connection.handle());
    if (stmt_ == nullptr) connection.raise();
    if (api().stmt_prepare(stmt_, sql_.data(), sql_.size()) != 0) {
        // A constructor that throws runs no destructor: close the handle here (a lost
        // connection fails here, and every reconnect would leak one otherwise).
        Failure failure{static_cast<int>(api().stmt_errno(stmt_)), api().stmt_error(stmt_)};
        api().stmt_close(stmt_);
        stmt_ = nullptr;
        throw failure;
    }
}

Statement::~Statement() {
    if (stmt_ != nullptr) api().stmt_close(stmt_);
}

void Statement::raise() const {
    throw Failure{static_cast<int>(api().stmt_errno(stmt_)), api().stmt_error(stmt_)};
}

Statement& Statement::run() {
    if (has_result_) {
        api().stmt_free_result(stmt_);
        has_result_ = false;
    }
    std::vector<MYSQL_BIND> in(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
        std::memset(&in[i], 0, sizeof in[i]);
        in[i].buffer_type = params_[i].type;
        if (params_[i].type == MYSQL_TYPE_LONGLONG) {
            in[i].buffer = &params_[i].number;
        } else if (params_[i].type != MYSQL_TYPE_NULL) {
            in[i].buffer = params_[i].text.data();
            in[i].buffer_length = params_[i].text.size();
        }
    }
    if (!in.empty() && api().stmt_bind_param(stmt_, in.data()) != 0) raise();
    if (api().stmt_execute(stmt_) != 0) raise();
    const unsigned columns = api().stmt_field_count(stmt_);
    if (columns == 0) return *this;
    row_.assign(columns, std::string(kColumnBuffer, '\0'));
    lengths_.assign(columns, 0);
    nulls_.assign(columns, 0);
    out_.assign(columns, MYSQL_BIND{});
    for (unsigned i = 0; i < columns; ++i) {
        std::memset(&out_[i], 0, sizeof out_[i]);
        out_[i].buffer_type = MYSQL_TYPE_STRING;
        out_[i].buffer = row_[i].data();
        out_[i].buffer_length = kColumnBuffer;
        out_[i].length = &lengths_[i];
        out_[i].is_null = reinterpret_cast<my_bool*>(&nulls_[i]);
    }
    if (api().stmt_bind_result(stmt_, out_.data()) != 0) raise();
    if (api().stmt_store_result(stmt_) != 0) raise();
    has_result_ = true;
    return *this;
}

bool Statement::fetch() {
    if (!has_result_) return false;
    const int rc = api().stmt_fetch(stmt_);
    if (rc == MYSQL_NO_DATA) {
        api().stmt_free_result(stmt_);
        has_result_ = false;
        return false;
    }
    if (rc == 1) raise();
    // The bound buffers hold the first kColumnBuffer bytes; a longer value is fetched again,
    // whole, into a string of its own.
    std::vector<std::string> values(row_.size());
    for (std::size_t i = 0; i < row_.size(); ++i) {
        if (nulls_[i] != 0) continue;
        if (lengths_[i] <= kColumnBuffer) {
            values[i].assign(row_[i].data(), lengths_[i]);
            continue;
        }
        values[i].assign(lengths_[i], '\0');
        MYSQL_BIND b{};
        std::memset(&b, 0, sizeof b);
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = values[i].data();
        b.buffer_length = lengths_[i];
        if (api().stmt_fetch_column(stmt_, &b, static_cast<unsigned>(i), 0) != 0) raise();
    }
    fetched_ = std::move(values);
    return true;
}

std::int64_t Statement::integer(std::size_t column) const {
    const std::string& s = fetched_[column];
    return s.empty() ? 0 : std::stoll(s);
}

std::uint64_t Statement::affected_rows() const {
    return static_cast<std::uint64_t>(api().stmt_affected_rows(stmt_));
}

}  // namespace gpuslots::mariadb
