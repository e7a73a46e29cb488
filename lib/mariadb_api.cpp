#include "mariadb_api.hpp"

#include <dlfcn.h>

#include <fmt/format.h>

#include "mariadb_db.hpp"

namespace gpuslots::mariadb {
namespace {

template <typename F>
void find(void* handle, F& slot, const char* name) {
    void* symbol = ::dlsym(handle, name);
    if (symbol == nullptr) {
        ::dlclose(handle);  // tried again next time, from the start
        throw Failure{kConnectorMissing,
                      fmt::format("the MariaDB client library {} has no {}; install the one "
                                  "gpuslots was built with (Debian: libmariadb3)",
                                  GPUSLOTS_MARIADB_SONAME, name),
                      true};
    }
    slot = reinterpret_cast<F>(symbol);
}

Api load() {
    // RTLD_LOCAL: its symbols (and OpenSSL's) stay out of the way of Slurm's and the program's.
    void* handle = ::dlopen(GPUSLOTS_MARIADB_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = ::dlerror();
        throw Failure{kConnectorMissing,
                      fmt::format("cannot load the MariaDB client library for the ledger "
                                  "(state.backend: mariadb): {}; install it (Debian: libmariadb3)",
                                  why != nullptr ? why : GPUSLOTS_MARIADB_SONAME),
                      true};
    }
    Api a{};
    find(handle, a.init, "mysql_init");
    find(handle, a.optionsv, "mysql_optionsv");
    find(handle, a.real_connect, "mysql_real_connect");
    find(handle, a.close, "mysql_close");
    find(handle, a.errno_of, "mysql_errno");
    find(handle, a.error, "mysql_error");
    find(handle, a.real_query, "mysql_real_query");
    find(handle, a.query, "mysql_query");
    find(handle, a.store_result, "mysql_store_result");
    find(handle, a.num_fields, "mysql_num_fields");
    find(handle, a.fetch_row, "mysql_fetch_row");
    find(handle, a.fetch_lengths, "mysql_fetch_lengths");
    find(handle, a.free_result, "mysql_free_result");
    find(handle, a.field_count, "mysql_field_count");
    find(handle, a.next_result, "mysql_next_result");
    find(handle, a.real_escape_string, "mysql_real_escape_string");
    find(handle, a.select_db, "mysql_select_db");
    find(handle, a.stmt_init, "mysql_stmt_init");
    find(handle, a.stmt_prepare, "mysql_stmt_prepare");
    find(handle, a.stmt_close, "mysql_stmt_close");
    find(handle, a.stmt_errno, "mysql_stmt_errno");
    find(handle, a.stmt_error, "mysql_stmt_error");
    find(handle, a.stmt_bind_param, "mysql_stmt_bind_param");
    find(handle, a.stmt_bind_result, "mysql_stmt_bind_result");
    find(handle, a.stmt_execute, "mysql_stmt_execute");
    find(handle, a.stmt_store_result, "mysql_stmt_store_result");
    find(handle, a.stmt_fetch, "mysql_stmt_fetch");
    find(handle, a.stmt_fetch_column, "mysql_stmt_fetch_column");
    find(handle, a.stmt_field_count, "mysql_stmt_field_count");
    find(handle, a.stmt_free_result, "mysql_stmt_free_result");
    find(handle, a.stmt_affected_rows, "mysql_stmt_affected_rows");
    find(handle, a.stmt_insert_id, "mysql_stmt_insert_id");
    return a;  // the handle stays open for the life of the process
}

}  // namespace

const Api& api() {
    // A failed load throws out of the initialiser, which C++ then tries again next time.
    static const Api loaded = load();
    return loaded;
}

}  // namespace gpuslots::mariadb
