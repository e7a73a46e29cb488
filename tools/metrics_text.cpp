#include "metrics_text.hpp"

#include <array>

#include "cli.hpp"

namespace gpuslots::cli {
namespace {

// One metric family: HELP and TYPE once, then its samples. Samples are appended by hand into
// one buffer (10,000 servers make 50,000 lines).
class Family {
  public:
    Family(std::string& out, std::string_view name, std::string_view help)
        : out_(out), name_(name) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += " gauge\n";
    }

    // labels: name/value pairs, in order.
    template <std::size_t N>
    void sample(const std::array<std::pair<std::string_view, std::string_view>, N>& labels,
                std::int64_t value) {
        out_ += name_;
        if (N > 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                append_label_value(out_, v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        append_decimal(out_, value);
        out_ += '\n';
    }
    void sample(std::int64_t value) {
        sample(std::array<std::pair<std::string_view, std::string_view>, 0>{}, value);
    }

  private:
    std::string& out_;
    std::string_view name_;
};

using Label = std::pair<std::string_view, std::string_view>;

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

std::string prometheus_text(const MetricsInput& in) {
    std::string out;
    const FleetStatus* st = in.status;
    if (st != nullptr) {
        out.reserve(512 + st->servers.size() * 400 +
                    std::min<std::size_t>(in.info_limit, st->totals.tasks * 2) * 120);
    }
    Family(out, "gpuslots_ledger_up",
           "Whether the ledger could be read (1) or not (0); the other series are absent when 0.")
        .sample(st != nullptr ? 1 : 0);
    if (st == nullptr) return out;

    // A server whose books this ledger does not keep (Authority) has none of the per-server
    // series: a capacity without what is reserved there would read as free in any sum.
    const auto per_server = [&](std::string_view name, std::string_view help, auto value) {
        Family f(out, name, help);
        for (const auto& s : st->servers) {
            if (s.known) f.sample(std::array<Label, 1>{Label{"server", s.name}}, value(s));
        }
    };
    per_server("gpuslots_server_gpus", "GPUs of the server in the config.",
               [](const ServerStatus& s) { return s.gpus_total; });
    per_server("gpuslots_server_gpus_reserved", "GPUs of the server held by reservations.",
               [](const ServerStatus& s) { return s.gpus_total - s.gpus_free; });
    per_server("gpuslots_server_cpus", "CPUs of the server in the config.",
               [](const ServerStatus& s) { return s.cpus_total; });
    per_server("gpuslots_server_cpus_reserved", "CPUs of the server held by reservations.",
               [](const ServerStatus& s) { return s.cpus_total - s.cpus_free; });
    {
        Family f(out, "gpuslots_server_reservations",
                 "Reservations held on the server, by origin (slurm: a Slurm job; manual: "
                 "gpuslots allocate).");
        for (const auto& s : st->servers) {
            if (!s.known) continue;
            std::int64_t slurm = 0;
            for (const auto& r : s.tasks)
                slurm += r.origin == Origin::slurm;
            const auto manual = static_cast<std::int64_t>(s.tasks.size()) - slurm;
            f.sample(std::array<Label, 2>{Label{"server", s.name}, Label{"origin", "manual"}},
                     manual);
            f.sample(std::array<Label, 2>{Label{"server", s.name}, Label{"origin", "slurm"}},
                     slurm);
        }
    }
    if (st->totals.unknown_servers > 0) {  // only then, so that other ledgers' output stays
        Family f(out, "gpuslots_server_unknown_here",
                 "1 for each server in the config whose books this ledger does not keep (another "
                 "node's ledger has them): it has no other per-server series here.");
        for (const auto& s : st->servers) {
            if (!s.known) f.sample(std::array<Label, 1>{Label{"server", s.name}}, 1);
        }
    }
    std::size_t dropped = 0;
    {
        Family f(out, "gpuslots_gpu_reservation_info",
                 "One series per reserved GPU: the reservation holding it (value always 1).");
        std::size_t written = 0;
        for (const auto* list : {&st->servers, &st->removed}) {
            for (const auto& s : *list) {
                for (const auto& r : s.tasks) {
                    for (const int gpu : r.gpus) {
                        if (written == in.info_limit) {
                            ++dropped;
                            continue;
                        }
                        ++written;
                        const std::string index = std::to_string(gpu);
                        f.sample(std::array<Label, 5>{Label{"server", s.name}, Label{"gpu", index},
                                                      Label{"id", r.task_id},
                                                      Label{"origin", origin_name(r.origin)},
                                                      Label{"owner", user_name(r.owner_uid)}},
                                 1);
                    }
                }
            }
        }
    }
    Family(out, "gpuslots_gpu_reservation_info_dropped",
           "Reserved GPUs left out of gpuslots_gpu_reservation_info by its series limit "
           "(gpuslots metrics --info-limit).")
        .sample(static_cast<std::int64_t>(dropped));
    Family(out, "gpuslots_ledger_problems",
           "Problems found in the ledger (broken invariants); 0 on a healthy ledger.")
        .sample(static_cast<std::int64_t>(st->problems.size() + in.verify_problems));
    Family(out, "gpuslots_removed_servers_holding",
           "Servers no longer in the config that still hold reservations.")
        .sample(static_cast<std::int64_t>(st->removed.size()));
    {
        Family f(out, "gpuslots_removed_server_reservations",
                 "Reservations still held on a server that is no longer in the config.");
        for (const auto& s : st->removed)
            f.sample(std::array<Label, 1>{Label{"server", s.name}},
                     static_cast<std::int64_t>(s.tasks.size()));
    }
    return out;
}

}  // namespace gpuslots::cli
