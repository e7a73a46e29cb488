// The MariaDB store's schema, its migrations, the read account's procedure and the event that
// keeps that account from holding back InnoDB's purge.
//
// Why this shape:
//   - The same rows as the SQLite store (sqlite_file.cpp): reservations, one gpu_holds row per
//     held index, refusals; plus a servers row per server, the row a writer locks
//     (SELECT ... FOR UPDATE) before it decides anything about that server's GPUs.
//   - The database refuses what the rules must never do, whatever a writer believes: the
//     primary key (server, gpu) of gpu_holds refuses a double-booked GPU, the unique keys of
//     reservations a second reservation of a job on a node or of a manual task anywhere.
//   - Names and task ids are bytes (VARBINARY), compared as the config and SQLite compare
//     them: exactly. Task ids may be up to 2048 bytes (the tool accepts 128; the keys that
//     hold them stay within InnoDB's 3072-byte limit).
//   - The read account gets no privilege on any table, only EXECUTE on gpuslots_status(): a
//     table privilege would let it lock rows (SELECT ... FOR UPDATE needs no more than SELECT)
//     and stall every prolog. The procedure runs as its definer and refuses to run inside a
//     transaction, so its one SELECT is a transaction of its own and takes no lock a writer
//     waits for. What the account can still do, open a transaction and keep its snapshot
//     (which holds back purge, so the ledger's undo history grows), is ended by the event
//     gpuslots_end_long_reads after 2 s.
#include "mariadb_schema.hpp"

#include <algorithm>
#include <unordered_set>

namespace gpuslots::mariadb {
namespace {

constexpr const char* kTables[] = {
    R"sql(CREATE TABLE ledger_schema (
    id      TINYINT NOT NULL PRIMARY KEY CHECK (id = 1),
    version INT     NOT NULL
) ENGINE=InnoDB)sql",
    R"sql(CREATE TABLE servers (
    name VARBINARY(255) NOT NULL PRIMARY KEY,
    gpus INT NOT NULL DEFAULT 0,
    cpus INT NOT NULL DEFAULT 0
) ENGINE=InnoDB)sql",
    R"sql(CREATE TABLE reservations (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    origin      ENUM('manual', 'slurm') NOT NULL,
    task_id     VARBINARY(2048) NOT NULL,
    server      VARBINARY(255) NOT NULL,
    cpus        INT NOT NULL CHECK (cpus >= 0),
    gpu_count   INT NOT NULL CHECK (gpu_count >= 0),
    owner_uid   INT UNSIGNED NOT NULL,
    created     BIGINT NOT NULL,
    boot_id     VARBINARY(64) NULL,  -- the host's boot id when it was made (NULL: unknown)
    expires_at  BIGINT NULL,         -- when it lapses, Unix time (NULL: never)
    manual_task VARBINARY(2048) AS (IF(origin = 'manual', task_id, NULL)) PERSISTENT,
    UNIQUE KEY one_per_task_and_server (server, origin, task_id),
    UNIQUE KEY one_reservation_per_manual_task (manual_task),
    KEY by_task (task_id)
) ENGINE=InnoDB)sql",
    R"sql(CREATE TABLE gpu_holds (
    server      VARBINARY(255) NOT NULL,
    gpu         INT NOT NULL CHECK (gpu >= 0),
    reservation BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (server, gpu),
    KEY by_reservation (reservation)
) ENGINE=InnoDB)sql",
    R"sql(CREATE TABLE refusals (
    task_id VARBINARY(2048) NOT NULL,
    server  VARBINARY(255) NOT NULL,
    reason  BLOB NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (task_id, server)
) ENGINE=InnoDB)sql",
};

// kMigrations[v - 1] takes a schema from version v to v + 1 (none yet).
constexpr const char* const* kMigrations = nullptr;

constexpr const char* kProcedure = R"sql(
CREATE OR REPLACE DEFINER = CURRENT_USER PROCEDURE gpuslots_status()
    SQL SECURITY DEFINER READS SQL DATA
    COMMENT 'gpuslots: every reservation with its GPUs, for the read account'
BEGIN
    IF @@in_transaction OR NOT @@autocommit THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT =
            'gpuslots_status() runs only outside a transaction, with autocommit on';
    END IF;
    SELECT r.id, r.origin, r.task_id, r.server, r.cpus, r.gpu_count, r.owner_uid, r.created,
           r.boot_id, r.expires_at, GROUP_CONCAT(h.gpu ORDER BY h.gpu SEPARATOR ',')
    FROM reservations r LEFT JOIN gpu_holds h ON h.reservation = r.id AND h.server = r.server
    GROUP BY r.id ORDER BY r.id;
END)sql";

// {} is the read account's user name, as an SQL string literal.
constexpr const char* kEvent = R"sql(
CREATE OR REPLACE DEFINER = CURRENT_USER EVENT gpuslots_end_long_reads
    ON SCHEDULE EVERY 1 SECOND
    COMMENT 'gpuslots: ends read-account transactions older than 2 s (they hold back purge)'
DO BEGIN
    DECLARE done INT DEFAULT 0;
    DECLARE victim BIGINT UNSIGNED;
    DECLARE c CURSOR FOR
        SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_TRX t
        JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
        WHERE p.USER = {} AND t.trx_started < NOW() - INTERVAL 2 SECOND;
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
    DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;  -- it ended meanwhile
    OPEN c;
    reap: LOOP
        FETCH c INTO victim;
        IF done THEN LEAVE reap; END IF;
        KILL CONNECTION victim;
    END LOOP;
    CLOSE c;
END)sql";

std::string literal(Connection& db, const std::string& text) {
    std::string out(text.size() * 2 + 1, '\0');
    const unsigned long n = api().real_escape_string(db.handle(), out.data(), text.c_str(),
                                                     static_cast<unsigned long>(text.size()));
    out.resize(n);
    return "'" + out + "'";
}

std::vector<std::string> grants(Connection& db, const std::string& database, const Accounts& a) {
    const std::string writer = literal(db, a.writer) + "@" + literal(db, a.host);
    const std::string reader = literal(db, a.reader) + "@" + literal(db, a.host);
    return {
        fmt::format("CREATE USER IF NOT EXISTS {} IDENTIFIED BY 'WRITER-PASSWORD';", writer),
        fmt::format("GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.* TO {};", database, writer),
        fmt::format("CREATE USER IF NOT EXISTS {} IDENTIFIED BY 'READER-PASSWORD' "
                    "WITH MAX_USER_CONNECTIONS 50;",
                    reader),
        fmt::format("GRANT EXECUTE ON PROCEDURE `{}`.`{}` TO {};", database, kStatusProcedure,
                    reader),
    };
}

}  // namespace

std::int64_t schema_version(Connection& db) {
    try {
        auto rows = db.rows("SELECT version FROM ledger_schema WHERE id = 1");
        return rows.empty() || !rows[0][0] ? 0 : std::stoll(*rows[0][0]);
    } catch (const Failure& f) {
        if (f.code == kNoSuchTable) return 0;
        throw;
    }
}

InitReport init_schema(Connection& admin, const Config& config, const Accounts& accounts) {
    const std::string& database = config.state.mariadb.database;
    InitReport report;
    admin.exec(fmt::format("CREATE DATABASE IF NOT EXISTS `{}`", database));
    if (api().select_db(admin.handle(), database.c_str()) != 0) admin.raise();
    report.from_version = schema_version(admin);
    if (report.from_version > kSchemaVersion) {
        throw Failure{0,
                      fmt::format("database {} has gpuslots schema version {}, newer than this "
                                  "gpuslots (up to {}); upgrade gpuslots on this host",
                                  database, report.from_version, kSchemaVersion),
                      true};
    }
    if (report.from_version == 0) {
        for (const char* table : kTables)
            admin.exec(table);
        admin.exec(
            fmt::format("INSERT INTO ledger_schema (id, version) VALUES (1, {})", kSchemaVersion));
    }
    for (std::int64_t v = std::max<std::int64_t>(report.from_version, 1); v < kSchemaVersion; ++v) {
        admin.exec(kMigrations[v - 1]);
        admin.exec(fmt::format("UPDATE ledger_schema SET version = {} WHERE id = 1", v + 1));
    }
    admin.exec(kProcedure);
    admin.exec(fmt::format(fmt::runtime(kEvent), literal(admin, accounts.reader)));

    // The servers table follows the config: new servers get their row, the totals are the
    // config's; a row of a server that left the config stays (its reservations may still
    // be released) and is reported.
    std::unordered_set<std::string> in_config;
    admin.exec("START TRANSACTION");
    Statement upsert(admin, R"sql(
        INSERT INTO servers (name, gpus, cpus) VALUES (?, ?, ?)
        ON DUPLICATE KEY UPDATE gpus = VALUES(gpus), cpus = VALUES(cpus))sql");
    for (const Server& s : config.fleet.servers()) {
        in_config.insert(s.name);
        if (upsert.execute(s.name, s.gpus, s.cpus).affected_rows() == 1) {
            report.added.push_back(s.name);
        }
    }
    Statement names(admin, "SELECT name FROM servers ORDER BY name");
    names.execute();
    while (names.fetch()) {
        if (in_config.count(names.text(0)) == 0) report.removed.push_back(names.text(0));
    }
    admin.exec("COMMIT");
    report.grants = grants(admin, database, accounts);
    const auto scheduler = admin.rows("SELECT @@event_scheduler");
    report.event_scheduler = !scheduler.empty() && scheduler[0][0].value_or("") == "ON";
    return report;
}

}  // namespace gpuslots::mariadb
