// Benchmarks 9, 10, 11: the shared ledger on MariaDB (state.backend: mariadb), against a real
// server started by tests/support/mariadb_server.sh (run_all.sh starts one in its work dir, on
// the same disk as the SQLite ledgers, and stops it by its PID at the end).
//
// As everywhere in this driver, what is compared is measured side by side in one run, in
// slices or runs that take turns, because the machine is shared.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>

#include "bench_common.hpp"
#include "commands.hpp"
#include "fleet_fixture.hpp"
#include "gpuslots/config.hpp"
#include "gpuslots/ledger.hpp"
#include "gpuslots/storage.hpp"
#include "ledger_load.hpp"
#include "mariadb_db.hpp"
#include "process_timing.hpp"

namespace gpuslots::bench {
namespace {

std::string admin_file(const std::string& server_dir) {
    return server_dir + "/admin.cnf";
}

// The `state:` section of a ledger in database `name` on the server in `server_dir`.
std::string mariadb_state_yaml(const std::string& server_dir, const std::string& name) {
    return fmt::format(
        "state:\n  backend: mariadb\n  mariadb:\n    socket: {0}/mysqld.sock\n"
        "    database: {1}\n    option_file: {0}/db.cnf\n    read_option_file: {0}/read.cnf\n",
        server_dir, name);
}

std::unique_ptr<mariadb::Connection> admin_connection(const std::string& server_dir,
                                                      const MariadbOptions& options) {
    try {
        return std::make_unique<mariadb::Connection>(
            mariadb::Endpoint{options, admin_file(server_dir), false}, std::chrono::seconds(5));
    } catch (const StoreFailure& f) {
        throw std::runtime_error("cannot connect as the admin (" + admin_file(server_dir) +
                                 "): " + f.message);
    }
}

void admin_exec(mariadb::Connection& admin, const std::string& sql) {
    try {
        admin.exec(sql);
    } catch (const StoreFailure& f) {
        throw std::runtime_error(sql.substr(0, 80) + ": " + f.message);
    }
}

// Parses `yaml`; drops and creates its database as `gpuslots db init` creates it (the test
// server's accounts gpuslots_rw / gpuslots_ro exist already). Returns the config.
Config fresh_ledger(const std::string& server_dir, const std::string& yaml,
                    const std::string& path) {
    auto config = parse_config(yaml, path);
    if (!config) throw std::runtime_error("bench config: " + config.error().message);
    {
        auto admin = admin_connection(server_dir, config->state.mariadb);
        admin_exec(*admin, "DROP DATABASE IF EXISTS `" + config->state.mariadb.database + "`");
    }
    StoreInit how;
    how.admin_option_file = admin_file(server_dir);
    how.writer = "gpuslots_rw";
    how.reader = "gpuslots_ro";
    how.account_host = "localhost";
    auto done = init_store(*config, how);
    if (!done) throw std::runtime_error("db init: " + done.error().message);
    return std::move(*config);
}

// Whether database `name` already holds the fixture: `servers` server rows and `reservations`
// reservations (made by an earlier round of this run: it is reused, not filled again).
bool holds_fixture(const std::string& server_dir, const std::string& name, int servers,
                   int reservations) {
    MariadbOptions options;
    try {
        auto admin = admin_connection(server_dir, options);
        const auto rows = admin->rows(fmt::format(
            "SELECT (SELECT count(*) FROM `{0}`.servers), (SELECT count(*) FROM `{0}`.reservations)",
            name));
        return rows.size() == 1 && rows[0].size() == 2 && rows[0][0] == std::to_string(servers) &&
               rows[0][1] == std::to_string(reservations);
    } catch (const StoreFailure&) {
        return false;  // no such database yet
    } catch (const std::runtime_error&) {
        return false;
    }
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

// MariaDB's own single-client durable commit rate: one connection, one InnoDB row updated
// and committed per transaction (the cheapest durable commit the server offers a client).
struct CommitProbe {
    long count = 0;
    double seconds = 0;
    double rate() const { return seconds > 0 ? static_cast<double>(count) / seconds : 0; }
};

class Committer {
  public:
    Committer(const std::string& server_dir, const std::string& database) {
        options_.database = database;
        admin_ = admin_connection(server_dir, options_);
        admin_exec(*admin_, "DROP DATABASE IF EXISTS `" + database + "`");
        admin_exec(*admin_, "CREATE DATABASE `" + database + "`");
        admin_exec(*admin_, "CREATE TABLE `" + database +
                                "`.probe (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB");
        admin_exec(*admin_, "INSERT INTO `" + database + "`.probe VALUES (1, 0)");
        update_ = "UPDATE `" + database + "`.probe SET n = n + 1 WHERE id = 1";
    }
    void run(double seconds, CommitProbe& into) {
        const auto start = Clock::now();
        long n = 0;
        while (seconds_since(start) < seconds) {
            admin_exec(*admin_, "START TRANSACTION");
            admin_exec(*admin_, update_);
            admin_exec(*admin_, "COMMIT");
            ++n;
        }
        into.count += n;
        into.seconds += seconds_since(start);
    }

  private:
    MariadbOptions options_;
    std::unique_ptr<mariadb::Connection> admin_;
    std::string update_;
};

void take_turns(int turns, const std::vector<std::function<void()>>& measurements) {
    const std::size_t n = measurements.size();
    for (int t = 0; t < turns; ++t) {
        for (std::size_t j = 0; j < n; ++j)
            measurements[(static_cast<std::size_t>(t) + j) % n]();
    }
}

struct Latencies {
    std::vector<double> reserve_us;
    std::vector<double> release_us;
    std::vector<double> pair_us;
};

// One prolog and one epilog as the hooks make them: each opens the ledger (a connection to
// the server, or the SQLite file), makes its one operation and closes it again.
void prolog_epilog(const Config& config, const std::string& server, const std::string& job,
                   Latencies& into) {
    Request request;
    request.origin = Origin::slurm;
    request.task_id = job;
    request.gpus = 2;
    request.cpus = 4;
    const auto t0 = Clock::now();
    {
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        if (!ledger) throw std::runtime_error("prolog: " + ledger.error().message);
        if (auto r = (*ledger)->reserve(server, request); !r)
            throw std::runtime_error("prolog: " + r.error().message);
    }
    const auto t1 = Clock::now();
    {
        auto ledger = open_ledger(config, Ledger::Access::read_write);
        if (!ledger) throw std::runtime_error("epilog: " + ledger.error().message);
        if (auto r = (*ledger)->release(Origin::slurm, job, server); !r)
            throw std::runtime_error("epilog: " + r.error().message);
    }
    const auto t2 = Clock::now();
    into.reserve_us.push_back(micros_between(t0, t1));
    into.release_us.push_back(micros_between(t1, t2));
    into.pair_us.push_back(micros_between(t0, t2));
}

void report_latencies(const std::string& key, const std::string& label, const Latencies& l) {
    fmt::print(
        "{:<28} reserve p50 {:6.2f} p99 {:6.2f} | release p50 {:6.2f} p99 {:6.2f} | pair p50 "
        "{:6.2f} p99 {:6.2f} ms ({} pairs)\n",
        label, percentile(l.reserve_us, 50) / 1e3, percentile(l.reserve_us, 99) / 1e3,
        percentile(l.release_us, 50) / 1e3, percentile(l.release_us, 99) / 1e3,
        percentile(l.pair_us, 50) / 1e3, percentile(l.pair_us, 99) / 1e3, l.pair_us.size());
    result(key + ".reserve_p50_ms", percentile(l.reserve_us, 50) / 1e3);
    result(key + ".reserve_p99_ms", percentile(l.reserve_us, 99) / 1e3);
    result(key + ".release_p50_ms", percentile(l.release_us, 50) / 1e3);
    result(key + ".release_p99_ms", percentile(l.release_us, 99) / 1e3);
    result(key + ".pair_p50_ms", percentile(l.pair_us, 50) / 1e3);
    result(key + ".pair_p99_ms", percentile(l.pair_us, 99) / 1e3);
}

}  // namespace

void run_mariadb_prolog(const MariadbBenchOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print(
        "== 9: one prolog reserve + epilog release (each opens the ledger), MariaDB ({}) vs "
        "SQLite (durability full, {}), {} interleaved pairs ==\n",
        o.server_dir, o.dir, o.runs);
    const std::string fleet = fleet_yaml(4, 8, 64, false);
    const Config mariadb =
        fresh_ledger(o.server_dir, fleet + mariadb_state_yaml(o.server_dir, "gt_bench_prolog"),
                     o.dir + "/b9-mariadb.yaml");
    const std::string ledger = o.dir + "/b9-sqlite.db";
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(ledger + suffix);
    auto sqlite = parse_config(fleet + state_yaml(ledger, "full"), o.dir + "/b9-sqlite.yaml");
    if (!sqlite) throw std::runtime_error(sqlite.error().message);
    Latencies lm;
    Latencies ls;
    for (int i = 0; i < o.runs; ++i) {
        const std::string job = std::to_string(900'000 + i);
        const std::string server = server_name(i % 4);
        if (i % 2 == 0) {
            prolog_epilog(mariadb, server, job, lm);
            prolog_epilog(*sqlite, server, job, ls);
        } else {
            prolog_epilog(*sqlite, server, job, ls);
            prolog_epilog(mariadb, server, job, lm);
        }
    }
    report_latencies("b9.mariadb", "MariaDB (socket, durable)", lm);
    report_latencies("b9.sqlite", "SQLite (durability full)", ls);
    result("b9.reserve_p50_mariadb_over_sqlite",
           percentile(lm.reserve_us, 50) / percentile(ls.reserve_us, 50));
    result("b9.pair_p50_mariadb_over_sqlite",
           percentile(lm.pair_us, 50) / percentile(ls.pair_us, 50));
    result("b9.pair_p99_mariadb_over_sqlite",
           percentile(lm.pair_us, 99) / percentile(ls.pair_us, 99));
}

void run_mariadb_contention(const MariadbBenchOptions& o) {
    std::filesystem::create_directories(o.dir);
    const double slice = std::min(o.seconds, 1.0);
    const int turns = std::max(1, static_cast<int>(o.seconds / slice + 0.5));
    fmt::print(
        "== 10: {} processes reserve+release on MariaDB: each on its own server vs all on "
        "one; against one client's durable commits; {} turns of {} s ==\n",
        o.processes, turns, slice);
    // Servers large enough that all workers fit on one at once (1 GPU, 1 CPU each): on one
    // server what they wait for is that server's row lock, never room.
    const int gpus = std::max(16, o.processes);
    const std::string fleet = fleet_yaml(o.processes, gpus, 64, false);
    std::vector<std::string> own;
    for (int i = 0; i < o.processes; ++i)
        own.push_back(server_name(i));
    LoadSpec spread;
    spread.dir = o.dir;
    spread.config_yaml = fleet + mariadb_state_yaml(o.server_dir, "gt_bench_spread");
    fresh_ledger(o.server_dir, spread.config_yaml, o.dir + "/b10-spread.yaml");
    spread.servers = own;
    spread.processes = o.processes;
    spread.seconds = slice;
    spread.gpus = 1;
    spread.cpus = 1;
    spread.sqlite_busy_handler = false;
    LoadSpec one = spread;
    one.config_yaml = fleet + mariadb_state_yaml(o.server_dir, "gt_bench_one");
    fresh_ledger(o.server_dir, one.config_yaml, o.dir + "/b10-one.yaml");
    one.servers = {server_name(0)};
    Committer committer(o.server_dir, "gt_bench_commit");

    CommitProbe probe;
    LoadResult rs;
    LoadResult ro;
    take_turns(turns, {[&] { committer.run(slice, probe); }, [&] { rs.add(run_load(spread)); },
                       [&] { ro.add(run_load(one)); }});
    fmt::print("{:<34} {:>7.0f} commits/s\n", "MariaDB, 1 client, durable commits", probe.rate());
    result("b10.single_client_commits_per_s", probe.rate());
    const auto show = [&](const std::string& key, const std::string& label, const LoadResult& r) {
        fmt::print(
            "{:<34} {:>7.0f} ops/s = {:.2f} x 1 client | per op p50 {:.2f} p99 {:.2f} ms | ops "
            "per worker {}..{} | failures {}\n",
            label, r.ops_per_second(), r.ops_per_second() / probe.rate(),
            percentile(r.latency_us, 50) / 1e3, percentile(r.latency_us, 99) / 1e3,
            r.worker_ops.empty() ? 0 : *std::min_element(r.worker_ops.begin(), r.worker_ops.end()),
            r.worker_ops.empty() ? 0 : *std::max_element(r.worker_ops.begin(), r.worker_ops.end()),
            r.failures);
        if (r.failures > 0) fmt::print("  first failure: {}\n", r.first_failure);
        result(key + ".ops_per_s", r.ops_per_second());
        result(key + ".vs_single_client", r.ops_per_second() / probe.rate());
        result(key + ".p50_ms", percentile(r.latency_us, 50) / 1e3);
        result(key + ".p99_ms", percentile(r.latency_us, 99) / 1e3);
        result(key + ".failures", static_cast<double>(r.failures));
    };
    show("b10.spread", fmt::format("{} processes, {} servers", o.processes, o.processes), rs);
    show("b10.one", fmt::format("{} processes, 1 server", o.processes), ro);
    result("b10.spread_over_one", rs.ops_per_second() / ro.ops_per_second());
}

void run_mariadb_status(const MariadbBenchOptions& o) {
    std::filesystem::create_directories(o.dir);
    fmt::print(
        "== 11: status --json as a process, {} servers x 8 GPUs with {} reservations on "
        "MariaDB, vs {} servers on MariaDB and vs the same fleet on SQLite; {} runs ==\n",
        o.large, o.large_reservations, o.small, o.runs);
    // The fleets as one hostlist entry each (what README tells sites to write), so that the
    // config's parsing (benchmark 5's subject) does not hide the ledger's part.
    struct Fleet {
        std::string key;
        std::string config_path;
        int servers;
        int reservations;
    };
    std::vector<Fleet> fleets{
        {"mariadb_large", o.dir + "/b11-mariadb-large.yaml", o.large, o.large_reservations},
        {"mariadb_small", o.dir + "/b11-mariadb-small.yaml", o.small, o.small * 4}};
    for (const auto& f : fleets) {
        const std::string name = "gt_bench_status_" + std::to_string(f.servers);
        const std::string yaml =
            fleet_yaml(f.servers, 8, 64, false) + mariadb_state_yaml(o.server_dir, name);
        write_text(f.config_path, yaml);
        if (holds_fixture(o.server_dir, name, f.servers, f.reservations)) continue;
        const Config config = fresh_ledger(o.server_dir, yaml, f.config_path);
        // Filled with SQL in one transaction (40,000 durable commits through the library would
        // take minutes here): the rows the library writes for a Slurm reservation, 1 or 2 GPUs
        // and 8 CPUs each, round-robin over the servers, as the SQLite fixture holds them.
        auto admin = admin_connection(o.server_dir, config.state.mariadb);
        const std::string db = "`" + config.state.mariadb.database + "`";
        admin_exec(*admin, "START TRANSACTION");
        std::vector<int> next_gpu(static_cast<std::size_t>(f.servers), 0);
        std::string reservations;
        std::string holds;
        const auto flush = [&](bool last) {
            if (reservations.size() > 200'000 || (last && !reservations.empty())) {
                admin_exec(*admin, "INSERT INTO " + db +
                                       ".reservations (id, origin, task_id, server, cpus, "
                                       "gpu_count, owner_uid, created) VALUES " +
                                       reservations);
                reservations.clear();
            }
            if (holds.size() > 200'000 || (last && !holds.empty())) {
                admin_exec(*admin, "INSERT INTO " + db + ".gpu_holds (server, gpu, reservation) VALUES " + holds);
                holds.clear();
            }
        };
        for (int k = 0; k < f.reservations; ++k) {
            const int s = k % f.servers;
            const int g = 1 + (k / f.servers) % 2;
            const std::string server = server_name(s);
            reservations += fmt::format("{}({},'slurm','{}','{}',8,{},0,1767225600)",
                                        reservations.empty() ? "" : ",", k + 1, 1'000'000 + k,
                                        server, g);
            for (int i = 0; i < g; ++i) {
                holds += fmt::format("{}('{}',{},{})", holds.empty() ? "" : ",", server,
                                     next_gpu[static_cast<std::size_t>(s)]++, k + 1);
            }
            flush(false);
        }
        flush(true);
        admin_exec(*admin, "COMMIT");
    }
    // SQLite: benchmark 5's ledger (built once, reused), with the fleet as one hostlist entry.
    const FleetFixture sqlite_fleet = make_fleet_fixture(o.fleet_dir.empty() ? o.dir + "/fleet" : o.fleet_dir, o.large,
                                                         o.large_reservations);
    const std::string sqlite_config = o.dir + "/b11-sqlite-large.yaml";
    write_text(sqlite_config,
               fleet_yaml(o.large, 8, 64, false) + state_yaml(sqlite_fleet.ledger_path, "full"));
    fleets.push_back({"sqlite_large", sqlite_config, o.large, o.large_reservations});

    // The fixtures are right: every fleet's status says how many reservations it holds.
    for (const auto& f : fleets) {
        const std::string out =
            run_capture({o.gpuslots, "--config", f.config_path, "status", "--json"});
        const std::string want = fmt::format("\"tasks\":{}", f.reservations);
        const std::string want_spaced = fmt::format("\"tasks\": {}", f.reservations);
        if (out.find(want) == std::string::npos && out.find(want_spaced) == std::string::npos)
            throw std::runtime_error(f.key + ": status --json does not say " + want);
    }
    std::map<std::string, std::vector<double>> ms;
    for (int i = 0; i < o.runs; ++i) {
        for (std::size_t k = 0; k < fleets.size(); ++k) {
            const Fleet& f = fleets[(k + static_cast<std::size_t>(i)) % fleets.size()];
            ms[f.key].push_back(
                run_checked({o.gpuslots, "--config", f.config_path, "status", "--json"}).wall_ms);
        }
    }
    for (const auto& f : fleets) {
        const double rss =
            peak_rss_mib({o.gpuslots, "--config", f.config_path, "status", "--json"}, o.dir);
        fmt::print("{:<15} {:>6} servers, {:>6} reservations: status --json {:7.1f} ms, peak RSS {}\n",
                   f.key, f.servers, f.reservations, median(ms[f.key]),
                   rss < 0 ? std::string("? (no /usr/bin/time)") : fmt::format("{:.1f} MiB", rss));
        result("b11.status_" + f.key + "_ms", median(ms[f.key]));
        if (rss >= 0) result("b11.status_" + f.key + "_rss_mib", rss);
    }
    result("b11.mariadb_large_over_small", median(ms["mariadb_large"]) / median(ms["mariadb_small"]));
    result("b11.mariadb_over_sqlite_large", median(ms["mariadb_large"]) / median(ms["sqlite_large"]));
}

}  // namespace gpuslots::bench
