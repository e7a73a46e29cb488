#include "status_view.hpp"

#include <algorithm>
#include <ctime>
#include <iterator>

#include "cli.hpp"
#include "json_writer.hpp"
#include "locale.hpp"
#include "text.hpp"

namespace gpuslots::cli {
namespace {

int percent_used(long long free, long long total) {
    if (total <= 0) return 0;
    return static_cast<int>(((total - free) * 100 + total / 2) / total);
}

const SlurmMark* mark_of(const SlurmMarks* marks, const Reservation& r) {
    if (marks == nullptr || !marks->checked || r.origin != Origin::slurm) return nullptr;
    auto it = marks->by_reservation.find(mark_key(r));
    return it == marks->by_reservation.end() ? nullptr : &it->second;
}

// A manual booking past its expiry (allocate --for): the next reconcile releases it.
bool expired(const Reservation& r) {
    return r.expires_unix && *r.expires_unix <= static_cast<std::int64_t>(std::time(nullptr));
}

std::string task_list(const std::vector<Reservation>& tasks, const SlurmMarks* marks) {
    if (tasks.empty()) return "-";
    // Long lists are cut so the table stays readable; --json has them all.
    constexpr std::size_t kMaxWidth = 48;
    std::string out;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        const SlurmMark* mark = mark_of(marks, tasks[i]);
        std::string next = (i > 0 ? " " : "") + task_label(tasks[i]) +
                           (mark && mark->gone ? "(gone)" : "") +
                           (expired(tasks[i]) ? "(expired)" : "");
        if (out.size() + next.size() > kMaxWidth) {
            out += ' ' + tr("(+{} more)", tasks.size() - i);
            break;
        }
        out += next;
    }
    return out;
}

void write_task(JsonWriter& w, const Reservation& r, const SlurmMarks* marks) {
    w.begin_object()
        .field("id", r.task_id)
        .array("gpus", r.gpus)
        .field("cpus", r.cpus)
        .field("origin", origin_name(r.origin))
        .field("owner", user_name(r.owner_uid))
        .field("owner_uid", r.owner_uid);
    std::string time;
    append_utc_iso8601(time, r.created_unix);
    w.field("since", time).key("boot_id");
    // null: not known (made before the ledger recorded boot ids); expires_at null: never.
    r.boot_id.empty() ? w.value(nullptr) : w.value(r.boot_id);
    w.key("expires_at");
    if (r.expires_unix) {
        time.clear();
        append_utc_iso8601(time, *r.expires_unix);
        w.value(time).field("expired", expired(r));
    } else {
        w.value(nullptr);
    }
    if (const SlurmMark* mark = mark_of(marks, r)) {
        w.field("job_state", mark->state).field("gone", mark->gone);
    }
    w.end_object();
}

// A server whose books the ledger does not keep: "known_here": false and its free counts
// null (not known here); "known_here" is left out where it is true, as before it existed.
void write_server(JsonWriter& w, const ServerStatus& s, const SlurmMarks* marks) {
    w.begin_object().field("name", s.name);
    if (!s.known) w.field("known_here", false);
    w.field("gpus_total", s.gpus_total).key("gpus_free");
    s.known ? w.value(s.gpus_free) : w.value(nullptr);
    w.field("cpus_total", s.cpus_total).key("cpus_free");
    s.known ? w.value(s.cpus_free) : w.value(nullptr);
    w.key("tasks").begin_array();
    for (const auto& r : s.tasks)
        write_task(w, r, marks);
    w.end_array().end_object();
}

}  // namespace

std::string mark_key(const Reservation& r) {
    return r.server + '\n' + r.task_id;
}

std::string task_label(const Reservation& r) {
    return r.origin == Origin::slurm ? "job:" + r.task_id : r.task_id;
}

void print_status_table(const FleetStatus& st, const SlurmMarks* marks) {
    // Columns are measured in terminal columns, not bytes: a translated heading may hold
    // double-width characters (tools/locale.hpp). A column is as wide as its heading or the
    // width the original tool gave it, whichever is more.
    const std::string server = tr("SERVER");
    const std::string total = tr("TOTAL");
    const std::string headings[] = {tr("GPUS FREE"), tr("GPU USE"), tr("CPUS FREE"), tr("CPU USE")};
    std::size_t widths[] = {11, 7, 13, 7};
    for (std::size_t i = 0; i < std::size(widths); ++i)
        widths[i] = std::max(widths[i], display_width(headings[i]));
    std::size_t name_width = std::max(display_width(server), display_width(total));
    for (const auto& s : st.servers)
        name_width = std::max(name_width, display_width(s.name));
    const auto line = [&](std::string_view name, std::string_view gpus, std::string_view gpu_use,
                          std::string_view cpus, std::string_view cpu_use, std::string_view tasks) {
        fmt::print("{}  {}  {}  {}  {}  {}\n", pad_right(name, name_width),
                   pad_left(gpus, widths[0]), pad_left(gpu_use, widths[1]),
                   pad_left(cpus, widths[2]), pad_left(cpu_use, widths[3]), tasks);
    };
    const auto row = [&](std::string_view name, long long gpus_free, long long gpus_total,
                         long long cpus_free, long long cpus_total, const std::string& tasks) {
        line(name, fmt::format("{}/{}", gpus_free, gpus_total),
             fmt::format("{}%", percent_used(gpus_free, gpus_total)),
             fmt::format("{}/{}", cpus_free, cpus_total),
             fmt::format("{}%", percent_used(cpus_free, cpus_total)), tasks);
    };
    line(server, headings[0], headings[1], headings[2], headings[3], tr("TASKS"));
    for (const auto& s : st.servers) {
        if (!s.known) {  // its free slots are in another node's ledger
            line(s.name, fmt::format("?/{}", s.gpus_total), "?",
                 fmt::format("?/{}", s.cpus_total), "?",
                 s.tasks.empty()
                     ? tr("unknown here")
                     : tr("unknown here; {} {}", s.tasks.size(), task_list(s.tasks, marks)));
            continue;
        }
        row(s.name, s.gpus_free, s.gpus_total, s.cpus_free, s.cpus_total,
            fmt::format("{} {}", s.tasks.size(), task_list(s.tasks, marks)));
    }
    const Totals& t = st.totals;
    row(total, t.gpus_free, t.gpus_total, t.cpus_free, t.cpus_total, fmt::format("{}", t.tasks));
}

std::string status_json(const FleetStatus& st, std::string_view config, std::string_view ledger,
                        const SlurmMarks* marks) {
    std::string out;
    out.reserve(256 + st.servers.size() * 160 + static_cast<std::size_t>(st.totals.tasks) * 140);
    JsonWriter w(out);
    w.begin_object().key("servers").begin_array();
    for (const auto& s : st.servers)
        write_server(w, s, marks);
    w.end_array();
    const Totals& t = st.totals;
    w.key("totals")
        .begin_object()
        .field("gpus_total", t.gpus_total)
        .field("gpus_free", t.gpus_free)
        .field("cpus_total", t.cpus_total)
        .field("cpus_free", t.cpus_free)
        .field("tasks", t.tasks);
    // Totals are over the servers known here; how many are not (only when there are any).
    if (t.unknown_servers > 0) w.field("unknown_here", t.unknown_servers);
    w.end_object();
    w.key("removed_servers").begin_array();
    for (const auto& s : st.removed)
        write_server(w, s, marks);
    w.end_array().key("problems").begin_array();
    for (const auto& p : st.problems)
        w.value(p);
    w.end_array();
    // Present only when the ledger holds Slurm jobs' reservations (README: status --json).
    if (marks != nullptr) w.field("slurm_checked", marks->checked);
    // Whose books the ledger keeps, where that leaves servers out (Authority).
    if (t.unknown_servers > 0) {
        w.key("authority").begin_object().field("scope", scope_name(st.authority.scope));
        if (st.authority.scope == Authority::Scope::node) {
            w.key("nodes").begin_array();
            for (const auto& n : st.authority.nodes)
                w.value(n);
            w.end_array();
        }
        w.end_object();
    }
    w.field("config", config).field("ledger", ledger).end_object();
    return out;
}

}  // namespace gpuslots::cli
