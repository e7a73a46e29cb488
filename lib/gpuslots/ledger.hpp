// The ledger: who holds which GPU indices and how many CPUs, on which server. One abstract
// interface, so that the embedded SQLite store and a database-server store are interchangeable;
// every operation is one transaction that touches only the rows of the server it concerns.
//
// Invariants every implementation keeps (and check_invariants() verifies from the outside):
//   - a GPU index of a server is held by at most one reservation;
//   - free + reserved = total for every server and resource (never more reserved than exist);
//   - a manual task id holds at most one reservation; a Slurm job at most one per node;
//   - release frees exactly the indices and CPUs that the reservation took.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpuslots/config.hpp"
#include "gpuslots/error.hpp"

namespace gpuslots {

// Who made a reservation: a person with the admin tool, or the SPANK plugin for a Slurm job
// (task id = job id). The two name spaces are separate: task "42" and job 42 do not collide.
enum class Origin { manual, slurm };
const char* origin_name(Origin origin);

struct Request {
    Origin origin = Origin::manual;
    std::string task_id;
    int gpus = 0;
    int cpus = 0;
    std::uint32_t owner_uid = 0;
};

struct Reservation {
    Origin origin = Origin::manual;
    std::string task_id;
    std::string server;
    std::vector<int> gpus;  // concrete indices, ascending
    int gpu_count = 0;      // what was reserved; equals gpus.size() unless the ledger is damaged
    int cpus = 0;
    std::uint32_t owner_uid = 0;
    std::int64_t created_unix = 0;
};

class Ledger {
  public:
    enum class Access { read_only, read_write };

    virtual ~Ledger() = default;
    Ledger() = default;
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    // Reserves request.gpus indices (lowest free first) and request.cpus on `server`.
    // A Slurm job that already holds the same amount there gets that reservation back (a rerun
    // prolog is not an error). Errors: bad_input (unknown server, more than the server has),
    // no_fit (not free now), conflict (the id already holds a reservation), busy, ledger.
    virtual Result<Reservation> reserve(std::string_view server, const Request& request) = 0;

    // Like reserve(), on the server best_fit() picks. no_fit when it fits on no server.
    virtual Result<Reservation> allocate(const Request& request) = 0;

    // Releases the reservations of `task_id` (only the one on `server` when given) and, for a
    // Slurm job, any refusal recorded there. Returns what was released; empty when there was
    // nothing, which the caller may or may not treat as an error. With `required_owner`, a
    // reservation of another uid is not touched: Errc::permission.
    virtual Result<std::vector<Reservation>> release(
        Origin origin, std::string_view task_id, const std::optional<std::string>& server,
        std::optional<std::uint32_t> required_owner = std::nullopt) = 0;

    // The reservation of `task_id` on `server`, if any.
    virtual Result<std::optional<Reservation>> find(Origin origin, std::string_view task_id,
                                                    std::string_view server) = 0;

    // Every reservation, read in one consistent snapshot, oldest first.
    virtual Result<std::vector<Reservation>> reservations() = 0;

    // Removes every reservation and refusal. Returns how many reservations there were.
    virtual Result<std::size_t> reset() = 0;

    // Slurm: the prolog could not reserve for job `task_id` on `server`; the step hooks read
    // the reason to fail the job with it. release() clears it.
    virtual Result<void> record_refusal(std::string_view server, std::string_view task_id,
                                        std::string_view reason) = 0;
    virtual Result<std::optional<std::string>> refusal(std::string_view server,
                                                       std::string_view task_id) = 0;

    // A full consistency check of the store itself (beyond check_invariants): storage
    // integrity and rows that do not add up. Empty when all is well.
    virtual Result<std::vector<std::string>> verify() = 0;

    // Where the ledger lives, for messages ("/var/lib/gpuslots/state.db").
    virtual const std::string& location() const = 0;
};

// Opens the store that config.state names. `config` must outlive the ledger.
// read_only never creates or changes anything: a ledger that does not exist yet reads as empty.
// read_write creates the ledger (and its directory) when it does not exist yet.
// Errors: ledger (unreadable, damaged, not a gpuslots ledger, from a newer schema),
// permission (the caller may not write it), busy.
Result<std::unique_ptr<Ledger>> open_ledger(const Config& config, Ledger::Access access);

// The uid that may change the ledger besides root (the owner of the ledger file, or of the
// directory it will be created in). Errc::ledger when neither exists.
Result<std::uint32_t> ledger_owner(const Config& config);

// Problems an outside observer can see in a snapshot: an index held twice, more reserved than
// a server has (after a server shrank in the config), a reservation whose GPU count does not
// match its indices. Reservations on servers that left the config are not problems here; see
// summarize().
std::vector<std::string> check_invariants(const Fleet& fleet,
                                          const std::vector<Reservation>& reservations);

}  // namespace gpuslots
