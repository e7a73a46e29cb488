// Where the ledger keeps its rows: the interface below the rules. Ledger (ledger.hpp) holds
// every reservation rule, every message and the retry policy; a Store keeps rows and
// transactions and nothing else: one row per reservation, one per held GPU index, one per
// recorded refusal. One class per backend (SQLite: lib/sqlite_store.cpp); the factory that
// picks one by state.backend is lib/storage.cpp.
//
// The contract is written for a row-locking database server as much as for SQLite:
//   - Every Ledger operation is one transaction: begin(), reads and writes, then commit(); or
//     rollback() when a rule refuses or a failure unwinds. Nothing is visible to others before
//     commit(), and all of it is after.
//   - A write transaction decides only on what it read about servers it has locked with
//     lock_servers(); what another writer may change meanwhile (every other server) is read
//     without locks and checked again under lock (allocate's best fit), or guarded by the
//     store's unique keys (a manual task id is unique across the fleet).
//   - Locks are per server, so operations on different servers never wait for each other
//     (SQLite, whose writers are serialised anyway, takes none).
//   - Failures are thrown as StoreFailure, never returned: the Ledger catches them, re-runs
//     the whole operation in a fresh transaction while transient() says the failure may pass
//     and the operation's deadline (state.busy_timeout_ms) allows, and otherwise hands
//     describe() to its caller. A store turns rows it cannot read into StoreFailure too.
//   - Servers are named as in the config, but a store keeps rows of any name: a server that
//     left the config keeps its reservations until they are released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/error.hpp"
#include "gpuslots/reservation.hpp"

namespace gpuslots {

enum class Access {
    read_only,   // never creates or changes anything; a ledger that does not exist reads empty
    read_write,  // creates the ledger when it does not exist yet
};

// What a store throws. `code` is the store's own (an SQLite extended result code, a MariaDB
// error number); only the store that threw it interprets it, in transient() and describe().
struct StoreFailure {
    int code = 0;
    std::string message;          // the store's words for what failed
    bool whole_sentence = false;  // message already says what to do: report it as it is
};

// What one server holds: its reservations, each with its GPU indices, and every GPU index
// held there. An index whose reservation row is missing (a damaged ledger) is in held_gpus all
// the same, so that it is never handed out again.
struct ServerHoldings {
    std::vector<Reservation> reservations;
    std::vector<int> held_gpus;
};

// The reserved totals of one server (GPU count as reserved, CPUs).
struct ServerLoad {
    std::string server;
    int gpus = 0;
    int cpus = 0;
};

class Store {
  public:
    enum class Transaction { read, write };

    virtual ~Store() = default;
    Store() = default;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Starts a transaction. read: one consistent snapshot for every read until commit().
    // write: may also write; throws when the store was opened read_only. On a throw no
    // transaction is open. One transaction at a time per store.
    virtual void begin(Transaction kind) = 0;
    // Makes the writes durable (as state's durability settings say) and visible; releases
    // the locks. After a throw the transaction is still open: call rollback().
    virtual void commit() = 0;
    // Ends the open transaction, undoing its writes and releasing its locks. Never throws; a
    // no-op when none is open.
    virtual void rollback() noexcept = 0;

    // Write transactions only. Locks `servers` (sorted, no duplicates: every writer locks in
    // the same order, so two writers never deadlock on each other) until the transaction
    // ends, so that nobody else changes their holdings meanwhile, and makes the reads below
    // return their latest committed rows (a locking read on a database server, not an older
    // snapshot). Any name may be given, also one that is not in the config. Called at most
    // once per transaction, before anything is decided for those servers.
    virtual void lock_servers(const std::vector<std::string>& servers) = 0;

    // Reads. Within a write transaction, a server's rows are current only once it is locked.
    virtual ServerHoldings holdings(std::string_view server) = 0;
    // The totals of every server that holds anything, without taking any lock: on a store
    // with row locks they may be out of date by the time they are used, and a decision made
    // on them (best fit) is checked again under the chosen server's lock.
    virtual std::vector<ServerLoad> loads() = 0;
    // The reservations of `task_id` (on `server` only, when given), ordered by server.
    virtual std::vector<Reservation> find(Origin origin, std::string_view task_id,
                                          std::optional<std::string_view> server) = 0;
    // Every reservation, oldest first.
    virtual std::vector<Reservation> all() = 0;
    // The reason recorded for refusing `task_id` (a Slurm job) on `server`, if any.
    virtual std::optional<std::string> refusal(std::string_view server,
                                               std::string_view task_id) = 0;

    // Writes, in a write transaction; insert() and erase() under the lock of r.server.
    //
    // insert(): records `r`, its row and one hold per index in r.gpus. When a unique key
    // refuses it, throw: a store whose reads can miss a concurrent writer's rows (the
    // fleet-wide check for a manual task id takes no lock) makes that failure transient(),
    // so that the operation is re-run and then sees the other reservation.
    virtual void insert(const Reservation& r) = 0;
    // Removes the reservation keyed (r.origin, r.task_id, r.server) and its holds; `r` is as
    // find() returned it in this transaction (a store may keep its row id from there).
    virtual void erase(const Reservation& r) = 0;
    // Removes every reservation, hold and refusal; returns how many reservations there were.
    virtual std::size_t erase_all() = 0;
    // Records (or replaces) the refusal of `task_id` on `server`.
    virtual void record_refusal(std::string_view server, std::string_view task_id,
                                std::string_view reason, std::int64_t created_unix) = 0;
    // Removes the refusals of `task_id` (on `server` only, when given).
    virtual void erase_refusals(std::string_view task_id,
                                std::optional<std::string_view> server) = 0;

    // Whose books the store keeps (Ledger::authority). nullopt: it is shared by the whole
    // cluster (every prolog and every admin tool writes it), so it is the truth for every
    // server. Otherwise it is one host's own (an SQLite file): the servers whose plugin has
    // claimed it so far, sorted, possibly none (then only the admin tool has written it).
    virtual std::optional<std::vector<std::string>> claims() = 0;
    // In a write transaction: records that the plugin on `server` itself writes this store,
    // which makes it that server's own ledger (once; a claim is never taken back). A no-op on a
    // shared store.
    virtual void claim(std::string_view server) = 0;

    // A check of the store itself, in a read transaction: the integrity of its storage and
    // rows that do not add up (a hold without its reservation). Empty when all is well.
    virtual std::vector<std::string> verify() = 0;

    // True when `failure` may pass if the whole operation is re-run from begin(): a lock that
    // a recovering process holds, a deadlock, a lock wait time-out.
    virtual bool transient(const StoreFailure& failure) const = 0;
    // `failure` as an error for the caller: the Errc (busy: locks held past the deadline;
    // conflict: a unique key that refused a write for good; ledger: damage and everything
    // else that makes the ledger unusable) and a sentence that names the ledger and says
    // what to do.
    virtual Error describe(const StoreFailure& failure) const = 0;
};

}  // namespace gpuslots
