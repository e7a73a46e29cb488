// The Ledger's recovery rules: what a node may release by itself, without asking anyone, and
// the conditional release that `gpuslots reconcile` acts with after asking slurmctld.
#include <algorithm>

#include "gpuslots/ledger.hpp"
#include "ledger_txn.hpp"

namespace gpuslots {

Result<std::vector<Reservation>> Ledger::release_before_boot(std::string_view server,
                                                             std::string_view boot_id) {
    const auto dead = [&](const Reservation& r) {
        return !boot_id.empty() && r.origin == Origin::slurm && !r.boot_id.empty() &&
               r.boot_id != boot_id;
    };
    // A read first: on the common path (nothing dead, the ledger already claimed as this
    // server's) no write lock is taken, so that a prolog refused for lack of room does not
    // queue behind every other writer once more.
    struct Seen {
        ServerHoldings holdings;
        bool claimed = false;
    };
    auto seen = run([&]() -> Result<Seen> {
        return detail::in_snapshot(*store_, [&] {
            Seen out{store_->holdings(server), true};
            if (auto claims = store_->claims()) {
                out.claimed = std::find(claims->begin(), claims->end(), server) != claims->end();
            }
            return out;
        });
    });
    if (!seen) return seen.error();
    const auto& seen_held = seen->holdings.reservations;
    if (seen->claimed && std::none_of(seen_held.begin(), seen_held.end(), dead)) {
        return std::vector<Reservation>();
    }
    return run([&]() -> Result<std::vector<Reservation>> {
        detail::Transaction txn(*store_, Store::Transaction::write);
        store_->claim(server);
        store_->lock_servers({std::string(server)});
        std::vector<Reservation> released;
        for (const auto& held : store_->holdings(server).reservations) {
            if (!dead(held)) continue;
            // erase() wants the reservation as find() returned it in this transaction.
            for (const auto& r : store_->find(Origin::slurm, held.task_id, server)) {
                store_->erase(r);
                released.push_back(r);
            }
            store_->erase_refusals(held.task_id, server);
        }
        txn.commit();
        return released;
    });
}

Result<std::optional<Reservation>> Ledger::release_if_unchanged(const Reservation& judged) {
    return run([&]() -> Result<std::optional<Reservation>> {
        detail::Transaction txn(*store_, Store::Transaction::write);
        store_->lock_servers({judged.server});
        const std::vector<Reservation> found =
            store_->find(judged.origin, judged.task_id, judged.server);
        if (found.empty()) return std::optional<Reservation>();
        const Reservation& now = found.front();
        if (now.created_unix != judged.created_unix || now.gpus != judged.gpus ||
            now.gpu_count != judged.gpu_count || now.cpus != judged.cpus) {
            return std::optional<Reservation>();
        }
        store_->erase(now);
        if (now.origin == Origin::slurm) store_->erase_refusals(now.task_id, now.server);
        txn.commit();
        return std::optional<Reservation>(now);
    });
}

}  // namespace gpuslots
