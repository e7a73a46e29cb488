// The ledger: who holds which GPU indices and how many CPUs, on which server. Ledger holds the
// rules (what may be reserved, by whom, with which message) and the retry policy, once, over a
// Store (store.hpp) that keeps the rows of one backend. Every operation is one transaction
// that locks only the servers it concerns.
//
// Invariants the rules keep on every store (and check_invariants() verifies from the outside):
//   - a GPU index of a server is held by at most one reservation;
//   - free + reserved = total for every server and resource (never more reserved than exist);
//   - a manual task id holds at most one reservation; a Slurm job at most one per node;
//   - release frees exactly the indices and CPUs that the reservation took.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"
#include "gpuslots/reservation.hpp"
#include "gpuslots/store.hpp"

namespace gpuslots {

// Which servers' books a ledger holds, so that nobody reads "free" where the ledger simply
// does not know (SPEC: a node-local SQLite ledger is authoritative for its own node only).
//   - shared: one ledger for the cluster (state.backend: mariadb), written by every node's
//     prolog and epilog and every admin tool: the truth for every server.
//   - node: an SQLite ledger that the plugin writes on its node (the claims, Store::claims:
//     slurmd's start and each prolog that reserves mark the node they run on). Slurm jobs
//     elsewhere are booked in their own nodes' ledgers, so it is the truth for the claimed
//     servers only.
//   - standalone: an SQLite ledger no plugin has written (the admin tool alone, on one box
//     for a few servers, as the original tool was used). The truth for every server that
//     Slurm does not schedule (slurm: none); a server that Slurm schedules (slots, follow)
//     has its jobs booked by its own prolog in its own node's ledger, not here.
struct Authority {
    enum class Scope { shared, node, standalone };
    Scope scope = Scope::shared;
    std::vector<std::string> nodes;  // Scope::node: the claimed servers, sorted

    // Whether this ledger holds `server`'s books (its free slots are known here).
    bool covers(const Server& server) const;
};
const char* scope_name(Authority::Scope scope);  // "shared", "node", "standalone"

// The refusal of a booking on `server`, which `authority` does not cover, in the ledger at
// `ledger` (its location) under the config `config_source`: Errc::bad_input, saying where to
// book it instead (on that node, or in a shared ledger).
Error uncovered_server(const Authority& authority, const Server& server, std::string_view ledger,
                       std::string_view config_source);

class Ledger {
  public:
    using Access = gpuslots::Access;

    // The rules over `store`, for the fleet and limits of `config` (which must outlive it).
    Ledger(const Config& config, std::unique_ptr<Store> store);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    // Reserves request.gpus indices (the lowest free ones, or exactly request.exact_gpus) and
    // request.cpus on `server`. A request made on the server itself (request.on_server: the
    // plugin) claims this ledger as that server's own (Authority); any other request on a
    // server that authority() does not cover is refused (bad_input, saying where to book it
    // instead), since the ledger that knows that server's jobs is elsewhere. A Slurm job that
    // already holds the same there (count, CPUs, and the indices when exact ones are asked for)
    // gets that reservation back: a rerun prolog is not an error. Errors: bad_input (unknown
    // server, more than the server has, exact indices that are not one distinct index of the server
    // per GPU), no_fit (not free now; for exact indices the message names the holder), conflict
    // (the id already holds a different reservation), busy, ledger.
    Result<Reservation> reserve(std::string_view server, const Request& request);

    // Like reserve(), on the server best_fit() picks: the choice is made on the unlocked
    // loads of every server, then checked under the chosen server's lock, and made again
    // when another writer filled it meanwhile. Only servers that authority() covers are
    // considered. no_fit when it fits on none of them; bad_input for exact indices (they mean
    // something only on a named server) and when the ledger covers no server at all.
    Result<Reservation> allocate(const Request& request);

    // Releases the reservations of `task_id` (only the one on `server` when given) and, for a
    // Slurm job, any refusal recorded there. Returns what was released; empty when there was
    // nothing, which the caller may or may not treat as an error. With `required_owner`, a
    // reservation of another uid is not touched: Errc::permission.
    Result<std::vector<Reservation>> release(
        Origin origin, std::string_view task_id, const std::optional<std::string>& server,
        std::optional<std::uint32_t> required_owner = std::nullopt);

    // Releases `judged` only if the ledger still holds that very reservation: the same origin,
    // id and server, made at the same time with the same GPUs and CPUs, all checked and
    // erased in one transaction. For a caller that decided on an older snapshot (reconcile):
    // a reservation made again since, for a requeued job or a reused id, is not released.
    // Returns what was released, or nullopt when the ledger holds something else or nothing.
    Result<std::optional<Reservation>> release_if_unchanged(const Reservation& judged);

    // The reservation of `task_id` on `server`, if any.
    Result<std::optional<Reservation>> find(Origin origin, std::string_view task_id,
                                            std::string_view server);

    // Every reservation, read in one consistent snapshot, oldest first.
    Result<std::vector<Reservation>> reservations();
    // Those of one server (one indexed read, also on a fleet of thousands).
    Result<std::vector<Reservation>> reservations_on(std::string_view server);

    // Removes every reservation and refusal. Returns how many reservations there were. With
    // `required_owner`, the rule of release(): when any reservation is not a manual task of
    // that uid (another user's, or a Slurm job's), nothing is touched: Errc::permission.
    Result<std::size_t> reset(std::optional<std::uint32_t> required_owner = std::nullopt);

    // Slurm: the prolog could not reserve for job `task_id` on `server`; the step hooks read
    // the reason to fail the job with it. release() clears it.
    Result<void> record_refusal(std::string_view server, std::string_view task_id,
                                std::string_view reason);
    Result<std::optional<std::string>> refusal(std::string_view server, std::string_view task_id);

    // The reboot rule: releases the Slurm jobs' reservations on `server` that were made under
    // a boot id other than `boot_id` (the boot id of `server` itself, now), with their
    // refusals; as the caller runs on `server` (slurmd's start, a prolog), it also claims the
    // ledger as that server's own (Authority), once; a job's reservation made before its node's
    // current boot cannot belong to a live job. Manual reservations and those of an unknown boot
    // are never touched; an empty `boot_id` releases nothing. Returns what was released. Errors:
    // busy, ledger.
    Result<std::vector<Reservation>> release_before_boot(std::string_view server,
                                                         std::string_view boot_id);

    // Which servers' books this ledger holds (see Authority), as its store's claims and the
    // config's Slurm modes say. Errors: busy, ledger.
    Result<Authority> authority();

    // A full consistency check of the store itself (beyond check_invariants): storage
    // integrity and rows that do not add up. Empty when all is well.
    Result<std::vector<std::string>> verify();

    // Where the ledger lives, for messages ("/var/lib/gpuslots/state.db").
    const std::string& location() const { return location_; }

  private:
    template <typename Body>
    auto run(Body&& body) -> decltype(body());
    Result<const Server*> check(std::string_view server, const Request& request) const;
    Authority authority_in_transaction();
    std::optional<Error> held_elsewhere(const Request& request);
    Result<Reservation> place(const Server& server, const Request& request,
                              const ServerHoldings& holdings);

    const Config& config_;
    std::unique_ptr<Store> store_;
    std::string location_;
};

// Opens the ledger that config.state names, on the store of its backend (lib/storage.cpp).
// `config` must outlive the ledger. read_only never creates or changes anything: a ledger
// that does not exist yet reads as empty. read_write creates the ledger when it does not
// exist yet. Errors: config (a backend this build lacks), ledger (unreadable, damaged, not a
// gpuslots ledger, from a newer schema), permission (the caller may not write it), busy.
Result<std::unique_ptr<Ledger>> open_ledger(const Config& config, Ledger::Access access);

// Problems an outside observer can see in a snapshot: an index held twice, more reserved than
// a server has (after a server shrank in the config), a reservation whose GPU count does not
// match its indices. Reservations on servers that left the config are not problems here; see
// summarize().
std::vector<std::string> check_invariants(const Fleet& fleet,
                                          const std::vector<Reservation>& reservations);

}  // namespace gpuslots
