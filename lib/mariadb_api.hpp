// The MariaDB connector (libmariadb), loaded when a MariaDB ledger is first opened rather than
// linked: a program that links it loads it, and with it OpenSSL (libssl, libcrypto) and zlib,
// at every start, which on a SQLite ledger (the default) is all cost and no use. The admin
// tool and the plugin's core start in every prolog, epilog and step of a GPU job
// (tests/bench/README.md, "The connector, loaded when used"). Internal to lib/.
#pragma once

#include <mysql.h>

namespace gpuslots::mariadb {

// The connector's functions this store calls (mysql.h's declarations name their types; none
// of them is referenced, so nothing links against the library).
struct Api {
    decltype(&::mysql_init) init;
    decltype(&::mysql_optionsv) optionsv;
    decltype(&::mysql_real_connect) real_connect;
    decltype(&::mysql_close) close;
    decltype(&::mysql_errno) errno_of;
    decltype(&::mysql_error) error;
    decltype(&::mysql_real_query) real_query;
    decltype(&::mysql_query) query;
    decltype(&::mysql_store_result) store_result;
    decltype(&::mysql_num_fields) num_fields;
    decltype(&::mysql_fetch_row) fetch_row;
    decltype(&::mysql_fetch_lengths) fetch_lengths;
    decltype(&::mysql_free_result) free_result;
    decltype(&::mysql_field_count) field_count;
    decltype(&::mysql_next_result) next_result;
    decltype(&::mysql_real_escape_string) real_escape_string;
    decltype(&::mysql_select_db) select_db;
    decltype(&::mysql_stmt_init) stmt_init;
    decltype(&::mysql_stmt_prepare) stmt_prepare;
    decltype(&::mysql_stmt_close) stmt_close;
    decltype(&::mysql_stmt_errno) stmt_errno;
    decltype(&::mysql_stmt_error) stmt_error;
    decltype(&::mysql_stmt_bind_param) stmt_bind_param;
    decltype(&::mysql_stmt_bind_result) stmt_bind_result;
    decltype(&::mysql_stmt_execute) stmt_execute;
    decltype(&::mysql_stmt_store_result) stmt_store_result;
    decltype(&::mysql_stmt_fetch) stmt_fetch;
    decltype(&::mysql_stmt_fetch_column) stmt_fetch_column;
    decltype(&::mysql_stmt_field_count) stmt_field_count;
    decltype(&::mysql_stmt_free_result) stmt_free_result;
    decltype(&::mysql_stmt_affected_rows) stmt_affected_rows;
    decltype(&::mysql_stmt_insert_id) stmt_insert_id;
};

// The connector, loaded (once per process, thread-safe) on first use. Throws Failure with
// code kConnectorMissing when the library or one of its functions cannot be found.
const Api& api();

}  // namespace gpuslots::mariadb
