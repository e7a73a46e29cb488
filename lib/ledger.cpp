// The ledger's rules, written once over any Store: what a request may ask for, when a
// reservation already exists, which GPUs a reservation gets, who may release it, and the
// words of every refusal.
//
// Why this shape:
//   - Every decision is made on rows read under the lock of the server it concerns
//     (Store::lock_servers), so the same code is correct on SQLite, whose writers are
//     serialised, and on a database server that locks rows, where writers on different
//     servers run at the same time.
//   - Requests are checked against the config before any transaction starts: a request that
//     can never succeed does not wait for anyone's lock.
//   - Best fit chooses on unlocked loads and checks under the chosen server's lock, so that an
//     allocate never holds every server's lock while it looks around.
#include "gpuslots/ledger.hpp"

#include <algorithm>
#include <ctime>

#include "gpuslots/boot.hpp"
#include "gpuslots/holders.hpp"
#include "gpuslots/placement.hpp"
#include "gpuslots/request.hpp"
#include "gpuslots/storage.hpp"
#include "ledger_txn.hpp"

namespace gpuslots {
namespace {

using detail::in_snapshot;
using detail::Transaction;

std::string join(const std::vector<int>& v) {
    return fmt::format("{}", fmt::join(v, ","));
}

// "job 42" or "task 'x'": who holds a reservation, in a message.
std::string holder_text(const Reservation& r) {
    return r.origin == Origin::slurm ? fmt::format("job {}", r.task_id)
                                     : fmt::format("task {}", in_quotes(r.task_id));
}

// Each server of the fleet, in config order, with what `loads` says it holds.
std::vector<ServerUsage> fleet_usage(const Fleet& fleet, const std::vector<ServerLoad>& loads) {
    std::vector<ServerUsage> usage(fleet.size());
    for (std::size_t i = 0; i < fleet.size(); ++i) {
        usage[i].gpus_total = fleet.servers()[i].gpus;
        usage[i].cpus_total = fleet.servers()[i].cpus;
    }
    for (const ServerLoad& load : loads) {
        if (auto i = fleet.find(load.server)) {
            usage[*i].gpus_used = load.gpus;
            usage[*i].cpus_used = load.cpus;
        }
    }
    return usage;
}

Error fits_nowhere(const std::vector<ServerUsage>& usage, const Request& request) {
    int most_gpus = 0;
    int most_cpus = 0;
    for (const auto& u : usage) {
        most_gpus = std::max(most_gpus, u.gpus_free());
        most_cpus = std::max(most_cpus, u.cpus_free());
    }
    return make_error(Errc::no_fit,
                      "no server has {} free (the most free on one server: {} GPUs, {} CPUs); "
                      "try later or ask for less",
                      slots_text(request.gpus, request.cpus), most_gpus, most_cpus);
}

// fits_nowhere() where some servers' books are kept elsewhere (`elsewhere`, not considered).
Error fits_nowhere_known(const std::vector<ServerUsage>& usage, const Request& request,
                         const std::vector<std::string>& elsewhere) {
    int most_gpus = 0;
    int most_cpus = 0;
    for (const auto& u : usage) {
        most_gpus = std::max(most_gpus, u.gpus_free());
        most_cpus = std::max(most_cpus, u.cpus_free());
    }
    const auto shown = static_cast<std::ptrdiff_t>(std::min<std::size_t>(4, elsewhere.size()));
    return make_error(Errc::no_fit,
                      "no server whose books this ledger keeps has {} free (the most free on "
                      "one: {} GPUs, {} CPUs); {} server(s) whose books are kept in their own "
                      "nodes' ledgers were not considered ({}{}); try later, ask for less, or "
                      "book on one of those nodes",
                      slots_text(request.gpus, request.cpus), most_gpus, most_cpus,
                      elsewhere.size(),
                      fmt::join(elsewhere.begin(), elsewhere.begin() + shown, " "),
                      elsewhere.size() > 4 ? " ..." : "");
}

std::vector<std::string> servers_of(const std::vector<Reservation>& reservations) {
    std::vector<std::string> names;
    for (const auto& r : reservations)
        names.push_back(r.server);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

}  // namespace

const char* origin_name(Origin origin) {
    return origin == Origin::slurm ? "slurm" : "manual";
}

bool Authority::covers(const Server& server) const {
    switch (scope) {
        case Scope::shared:
            return true;
        case Scope::node:
            return std::binary_search(nodes.begin(), nodes.end(), server.name);
        case Scope::standalone:
            return server.slurm == SlurmMode::none;
    }
    return false;
}

Error uncovered_server(const Authority& authority, const Server& server, std::string_view ledger,
                       std::string_view config_source) {
    if (authority.scope == Authority::Scope::node) {
        return make_error(Errc::bad_input,
                          "{}'s slots are not booked in this ledger: {} is the node ledger of "
                          "{} (its Slurm plugin writes it), and {}'s jobs are booked in {}'s "
                          "own; run this on {}, or share one ledger for the cluster "
                          "(state.backend: mariadb, README 'One ledger for the cluster')",
                          server.name, ledger, fmt::join(authority.nodes, ","), server.name,
                          server.name, server.name);
    }
    return make_error(Errc::bad_input,
                      "{}'s slots are not booked in this ledger: Slurm schedules {} (slurm: {} "
                      "in {}), so its jobs are booked by its own prolog in {}'s node ledger, not "
                      "in {}; run this on {}, or share one ledger for the cluster "
                      "(state.backend: mariadb, README 'One ledger for the cluster')",
                      server.name, server.name, slurm_mode_name(server.slurm), config_source,
                      server.name, ledger, server.name);
}

const char* scope_name(Authority::Scope scope) {
    switch (scope) {
        case Authority::Scope::shared:
            return "shared";
        case Authority::Scope::node:
            return "node";
        case Authority::Scope::standalone:
            return "standalone";
    }
    return "shared";
}

Ledger::Ledger(const Config& config, std::unique_ptr<Store> store)
    : config_(config), store_(std::move(store)), location_(ledger_location(config.state)) {}

Ledger::~Ledger() = default;

Result<Reservation> Ledger::reserve(std::string_view server_name, const Request& request) {
    auto server = check(server_name, request);
    if (!server) return server.error();
    return run([&]() -> Result<Reservation> {
        Transaction txn(*store_, Store::Transaction::write);
        // The plugin books on its own node: this ledger is that node's. Anyone else books only
        // where this ledger is the truth, or two ledgers would hand out the same GPUs.
        if (request.on_server) {
            store_->claim((*server)->name);
        } else if (const Authority authority = authority_in_transaction();
                   !authority.covers(**server)) {
            return uncovered_server(authority, **server, location_, config_.source);
        }
        if (auto held = held_elsewhere(request)) return *held;
        store_->lock_servers({(*server)->name});
        auto result = place(**server, request, store_->holdings((*server)->name));
        if (result) txn.commit();
        return result;
    });
}

Result<Reservation> Ledger::allocate(const Request& request) {
    if (!request.exact_gpus.empty()) {
        return make_error(Errc::bad_input,
                          "exact GPU indices [{}] need a named server; reserve on one instead "
                          "of letting the ledger choose",
                          join(request.exact_gpus));
    }
    const auto deadline = std::chrono::steady_clock::now() + config_.state.busy_timeout;
    return run([&]() -> Result<Reservation> {
        for (;;) {
            Transaction txn(*store_, Store::Transaction::write);
            const Authority authority = authority_in_transaction();
            std::vector<ServerUsage> usage = fleet_usage(config_.fleet, store_->loads());
            // A server whose books are kept elsewhere is never chosen: it looks over-full.
            std::vector<std::string> elsewhere;
            for (std::size_t i = 0; i < usage.size(); ++i) {
                const Server& s = config_.fleet.servers()[i];
                if (authority.covers(s)) continue;
                elsewhere.push_back(s.name);
                usage[i].gpus_used = usage[i].gpus_total + 1;
                usage[i].cpus_used = usage[i].cpus_total + 1;
            }
            if (!elsewhere.empty() && elsewhere.size() == usage.size()) {
                return make_error(Errc::bad_input,
                                  "this ledger keeps the books of none of the servers in {}: {} "
                                  "({} ledger); book on a node with 'gpuslots allocate' run "
                                  "there, or share one ledger for the cluster (state.backend: "
                                  "mariadb, README 'One ledger for the cluster')",
                                  config_.source, location_, scope_name(authority.scope));
            }
            if (auto held = held_elsewhere(request)) return *held;
            auto chosen = best_fit(usage, request.gpus, request.cpus);
            if (!chosen && !elsewhere.empty()) {
                return fits_nowhere_known(usage, request, elsewhere);
            }
            if (!chosen) return fits_nowhere(usage, request);
            const Server& server = config_.fleet.servers()[*chosen];
            if (auto checked = check(server.name, request); !checked) return checked.error();
            store_->lock_servers({server.name});
            const ServerHoldings holdings = store_->holdings(server.name);
            auto result = place(server, request, holdings);
            if (result) {
                txn.commit();
                return result;
            }
            // The loads were read without locks: another writer may have filled the chosen
            // server since. Then choose again on fresh loads, in a fresh transaction. (On
            // SQLite this never happens: its writers are serialised, so the loads are current.)
            int gpus_now = 0;
            int cpus_now = 0;
            for (const auto& r : holdings.reservations) {
                gpus_now += r.gpu_count;
                cpus_now += r.cpus;
            }
            const bool changed =
                gpus_now != usage[*chosen].gpus_used || cpus_now != usage[*chosen].cpus_used;
            if (!changed || result.error().code != Errc::no_fit ||
                std::chrono::steady_clock::now() >= deadline) {
                return result;
            }
        }
    });
}

Result<std::vector<Reservation>> Ledger::release(Origin origin, std::string_view task_id,
                                                 const std::optional<std::string>& server,
                                                 std::optional<std::uint32_t> required_owner) {
    return run([&]() -> Result<std::vector<Reservation>> {
        Transaction txn(*store_, Store::Transaction::write);
        std::vector<Reservation> found;
        if (server) {
            store_->lock_servers({*server});
            found = store_->find(origin, task_id, *server);
        } else {
            // Which servers hold it is known only after a look; lock those and look again.
            found = store_->find(origin, task_id, std::nullopt);
            if (!found.empty()) {
                store_->lock_servers(servers_of(found));
                found = store_->find(origin, task_id, std::nullopt);
            }
        }
        for (const auto& r : found) {
            if (required_owner && r.owner_uid != *required_owner) {
                return make_error(Errc::permission,
                                  "task '{}' on {} belongs to uid {}; only that user or "
                                  "root may release it",
                                  r.task_id, r.server, r.owner_uid);
            }
        }
        for (const auto& r : found)
            store_->erase(r);
        if (origin == Origin::slurm) {
            store_->erase_refusals(
                task_id, server ? std::optional<std::string_view>(*server) : std::nullopt);
        }
        txn.commit();
        return found;
    });
}

Result<std::optional<Reservation>> Ledger::find(Origin origin, std::string_view task_id,
                                                std::string_view server) {
    return run([&]() -> Result<std::optional<Reservation>> {
        auto found = in_snapshot(*store_, [&] { return store_->find(origin, task_id, server); });
        if (found.empty()) return std::optional<Reservation>();
        return std::optional<Reservation>(std::move(found.front()));
    });
}

Result<std::vector<Reservation>> Ledger::reservations() {
    return run([&]() -> Result<std::vector<Reservation>> {
        return in_snapshot(*store_, [&] { return store_->all(); });
    });
}

Result<std::vector<Reservation>> Ledger::reservations_on(std::string_view server) {
    return run([&]() -> Result<std::vector<Reservation>> {
        return in_snapshot(*store_, [&] { return store_->holdings(server).reservations; });
    });
}

Result<std::size_t> Ledger::reset(std::optional<std::uint32_t> required_owner) {
    return run([&]() -> Result<std::size_t> {
        Transaction txn(*store_, Store::Transaction::write);
        if (required_owner) {
            // The rule of release(): another user's task, or a Slurm job, is not the caller's.
            const std::vector<Reservation> all = store_->all();
            const auto others = std::count_if(all.begin(), all.end(), [&](const Reservation& r) {
                return r.origin != Origin::manual || r.owner_uid != *required_owner;
            });
            if (others > 0) {
                const auto first = std::find_if(all.begin(), all.end(), [&](const Reservation& r) {
                    return r.origin != Origin::manual || r.owner_uid != *required_owner;
                });
                return make_error(Errc::permission,
                                  "permission denied: {} of the {} reservation(s) are not yours "
                                  "({} on {} belongs to uid {}); only root may reset the ledger "
                                  "then; release your own tasks one by one instead",
                                  others, all.size(), holder_text(*first), first->server,
                                  first->owner_uid);
            }
        }
        const std::size_t count = store_->erase_all();
        txn.commit();
        return count;
    });
}

Result<void> Ledger::record_refusal(std::string_view server, std::string_view task_id,
                                    std::string_view reason) {
    return run([&]() -> Result<void> {
        Transaction txn(*store_, Store::Transaction::write);
        store_->record_refusal(server, task_id, reason,
                               static_cast<std::int64_t>(std::time(nullptr)));
        txn.commit();
        return {};
    });
}

Result<std::optional<std::string>> Ledger::refusal(std::string_view server,
                                                   std::string_view task_id) {
    return run([&]() -> Result<std::optional<std::string>> {
        return in_snapshot(*store_, [&] { return store_->refusal(server, task_id); });
    });
}

Result<Authority> Ledger::authority() {
    return run([&]() -> Result<Authority> {
        return in_snapshot(*store_, [&] { return authority_in_transaction(); });
    });
}

Authority Ledger::authority_in_transaction() {
    Authority authority;
    auto claims = store_->claims();
    if (!claims) return authority;  // shared: every server
    if (claims->empty()) {
        authority.scope = Authority::Scope::standalone;
        return authority;
    }
    authority.scope = Authority::Scope::node;
    authority.nodes = std::move(*claims);
    std::sort(authority.nodes.begin(), authority.nodes.end());
    return authority;
}

Result<std::vector<std::string>> Ledger::verify() {
    return run([&]() -> Result<std::vector<std::string>> {
        return in_snapshot(*store_, [&] { return store_->verify(); });
    });
}

// What the config alone decides: the server exists, the request can ever fit there, exact
// indices are one distinct index of the server per GPU.
Result<const Server*> Ledger::check(std::string_view server_name, const Request& request) const {
    const Server* server = config_.fleet.server(server_name);
    if (server == nullptr) {
        return make_error(Errc::bad_input, "server '{}' is not in the config {}", server_name,
                          config_.source);
    }
    if (request.gpus < 0 || request.cpus < 0 || request.gpus > server->gpus ||
        request.cpus > server->cpus) {
        return make_error(Errc::bad_input,
                          "{} GPUs and {} CPUs can never fit on {} ({} GPUs, {} CPUs)",
                          request.gpus, request.cpus, server->name, server->gpus, server->cpus);
    }
    if (request.exact_gpus.empty()) return server;
    if (static_cast<int>(request.exact_gpus.size()) != request.gpus) {
        return make_error(Errc::bad_input,
                          "exact GPU indices [{}] name {} GPU(s) for a request of {}; give one "
                          "index per GPU",
                          join(request.exact_gpus), request.exact_gpus.size(), request.gpus);
    }
    std::vector<bool> seen(static_cast<std::size_t>(server->gpus), false);
    for (int g : request.exact_gpus) {
        if (g < 0 || g >= server->gpus) {
            return make_error(Errc::bad_input,
                              "GPU index {} is not on {}, whose GPUs are 0..{} (exact GPUs [{}])",
                              g, server->name, server->gpus - 1, join(request.exact_gpus));
        }
        if (seen[static_cast<std::size_t>(g)]) {
            return make_error(Errc::bad_input,
                              "GPU index {} is given twice in the exact GPUs [{}]; give each "
                              "index once",
                              g, join(request.exact_gpus));
        }
        seen[static_cast<std::size_t>(g)] = true;
    }
    return server;
}

// For a manual task: its existing reservation anywhere is a conflict. Read without locking
// every server: on a store with row locks, a concurrent insert of the same id is refused by
// the store's unique key instead (Store::insert).
std::optional<Error> Ledger::held_elsewhere(const Request& request) {
    if (request.origin != Origin::manual) return std::nullopt;
    auto existing = store_->find(Origin::manual, request.task_id, std::nullopt);
    if (existing.empty()) return std::nullopt;
    const auto& r = existing.front();
    return make_error(Errc::conflict,
                      "task '{}' already holds GPUs [{}] and {} CPUs on {}; release it "
                      "first or use another task id",
                      r.task_id, join(r.gpus), r.cpus, r.server);
}

// Inside a write transaction, with `server` locked: decides on its current `holdings`.
Result<Reservation> Ledger::place(const Server& server, const Request& request,
                                  const ServerHoldings& holdings) {
    std::vector<int> exact = request.exact_gpus;
    std::sort(exact.begin(), exact.end());

    if (request.origin == Origin::slurm) {
        for (const auto& r : holdings.reservations) {
            if (r.origin != Origin::slurm || r.task_id != request.task_id) continue;
            if (r.gpu_count != request.gpus || r.cpus != request.cpus) {
                return make_error(Errc::conflict,
                                  "job {} already holds {} GPUs and {} CPUs on {}, not the {} "
                                  "GPUs and {} CPUs asked for",
                                  r.task_id, r.gpu_count, r.cpus, r.server, request.gpus,
                                  request.cpus);
            }
            if (!exact.empty() && r.gpus != exact) {
                return make_error(Errc::conflict,
                                  "job {} already holds GPUs [{}] on {}, not the GPUs [{}] asked "
                                  "for",
                                  r.task_id, join(r.gpus), r.server, join(exact));
            }
            return r;  // a rerun prolog
        }
    }

    int cpus_used = 0;
    for (const auto& r : holdings.reservations)
        cpus_used += r.cpus;
    std::vector<int> gpus;
    if (exact.empty()) {
        gpus = lowest_free_gpus(server.gpus, holdings.held_gpus, request.gpus);
    } else {
        for (int g : exact) {
            if (std::find(holdings.held_gpus.begin(), holdings.held_gpus.end(), g) ==
                holdings.held_gpus.end()) {
                continue;
            }
            std::string holder =
                "a reservation missing from the ledger (see 'gpuslots "
                "check-config')";
            for (const auto& r : holdings.reservations) {
                if (std::find(r.gpus.begin(), r.gpus.end(), g) != r.gpus.end()) {
                    holder = holder_text(r);
                }
            }
            return make_error(Errc::no_fit,
                              "GPU {} of {} is held by {}; GPUs [{}] cannot be reserved there "
                              "now",
                              g, server.name, holder, join(exact));
        }
        gpus = exact;
    }
    if (static_cast<int>(gpus.size()) < request.gpus || cpus_used + request.cpus > server.cpus) {
        const int gpus_free =
            static_cast<int>(lowest_free_gpus(server.gpus, holdings.held_gpus, server.gpus).size());
        HolderContext context{static_cast<std::int64_t>(std::time(nullptr)), std::nullopt};
        if (request.on_server) context.server_boot_id = current_boot_id();
        const std::string held = holders_text(server.name, holdings.reservations, context);
        return make_error(
            Errc::no_fit, "{} do not fit on {} now: {} of {} GPUs and {} of {} CPUs are free{}{}",
            slots_text(request.gpus, request.cpus), server.name, gpus_free, server.gpus,
            std::max(0, server.cpus - cpus_used), server.cpus, held.empty() ? "" : ": ", held);
    }

    Reservation r;
    r.origin = request.origin;
    r.task_id = request.task_id;
    r.server = server.name;
    r.gpus = std::move(gpus);
    r.gpu_count = request.gpus;
    r.cpus = request.cpus;
    r.owner_uid = request.owner_uid;
    r.created_unix = static_cast<std::int64_t>(std::time(nullptr));
    r.boot_id = current_boot_id();
    r.expires_unix = request.expires_unix;
    store_->insert(r);
    return r;
}

}  // namespace gpuslots
