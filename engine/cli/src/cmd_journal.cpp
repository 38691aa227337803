// cmd_journal.cpp: `chime-onboard status` and `chime-onboard report`, read-only views of a journal,
// and `chime-onboard journal repair`, which makes a damaged one usable again.
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/confirm.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/cli/json_text.hpp>
#include <onboard/cli/journal_views.hpp>
#include <onboard/cli/run_picture.hpp>
#include <onboard/cli/report_writer.hpp>
#include <onboard/core/text.hpp>
#include <onboard/io/durable_file.hpp>
#include <onboard/signing/credentials.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <chrono>
#include <iostream>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace onboard {

namespace {

// iso_time: a journal's time (Unix ms, 0 when it never happened) as the journal views show it.
std::string iso_time(std::int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  return signing::format_iso8601(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

std::string size_text(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// load: replays `path` for a read-only command; prints the error (naming the file) on failure and
// the tail note (torn or damaged) on success.
std::optional<replay_state> load(std::string_view command, const std::string& path) {
  try {
    auto s = replay_journal(path);
    if (s.tail() == tail_state::torn) std::cerr << "note: " << s.tail_note() << "\n";
    if (s.tail() == tail_state::damaged)
      std::cerr << "warning: " << s.tail_note() << "\nrepair it with: chime-onboard journal repair "
                << "--journal " << path << "\n";
    return s;
  } catch (const journal_error& e) {
    std::cerr << "chime-onboard " << command << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

std::uint64_t settled(const replay_state::totals& t) {
  return t.invited + t.created + t.exists + t.failed + t.not_sent;
}

std::string percent(std::uint64_t done, std::uint64_t total) {
  char buf[32];
  std::snprintf(
      buf, sizeof buf, "%.1f%%",
      total ? 100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total)
            : 100.0);
  return buf;
}

// recent_window_ms: how far back the ETA's rate looks: long enough to smooth the limiter's
// steps, short enough to follow a throttled stretch.
constexpr std::int64_t recent_window_ms = 60'000;

}  // namespace

journal_holder journal_lock_holder(const std::filesystem::path& journal) {
  journal_holder h;
  struct stat st {};
  if (::stat(journal.c_str(), &st) != 0) return h;
  std::ifstream in("/proc/locks");
  if (!in) return h;
  h.known = true;
  // "1: FLOCK  ADVISORY  WRITE 26416 fe:00:10952709 0 EOF"; a waiter's line has "->" after the
  // number. The device is major:minor in hex, the inode decimal.
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string id, kind, mode, access, dev_ino;
    std::int64_t pid = 0;
    l >> id >> kind;
    if (kind == "->") continue;
    if (!(l >> mode >> access >> pid >> dev_ino) || kind != "FLOCK" || access != "WRITE") continue;
    unsigned major = 0, minor = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev_ino.c_str(), "%x:%x:%llu", &major, &minor, &ino) != 3) continue;
    if (ino == st.st_ino && major == ::major(st.st_dev) && minor == ::minor(st.st_dev)) {
      h.pid = pid;
      return h;
    }
  }
  return h;
}

run_progress progress_of(const replay_state& s, const timeline& t, const journal_holder& h) {
  run_progress p;
  p.done = settled(s.counts());
  if (h.known) p.active = h.pid.has_value();
  // The latest run: its start's plan for this journal's account, and its end when it had one.
  const timeline_event* start = nullptr;
  const timeline_event* end = nullptr;
  for (const auto& e : t.events) {
    if (e.start) {
      start = &e;
      end = nullptr;
    } else if (start && e.run == start->run) {
      end = &e;
    }
  }
  if (start) {
    p.started_unix_ms = start->unix_ms;
    for (const auto& plan : start->plan)
      if (plan.account == s.header().account_id && plan.to_send)
        p.total = std::max(p.done, plan.settled_before + *plan.to_send);
    if (end) {
      p.last_status = end->status;
      p.last_exit_code = end->exit_code;
      p.last_end_unix_ms = end->unix_ms;
    }
  }
  if (p.active.value_or(false)) {
    // A pid from another pid namespace shows as 0 there; the journal's last session has it.
    p.pid = *h.pid > 0 ? *h.pid : (s.sessions().empty() ? 0 : s.sessions().back().pid);
    if (start && !end) {
      const timeline_sample* last = nullptr;
      const timeline_sample* first = nullptr;
      for (auto it = t.samples.rbegin(); it != t.samples.rend() && it->run == start->run; ++it) {
        if (!last) last = &*it;
        if (last->unix_ms - it->unix_ms > recent_window_ms) break;
        first = &*it;
      }
      if (last && first && last->unix_ms > first->unix_ms) {
        p.recent_rate = static_cast<double>(last->done - std::min(last->done, first->done)) *
                        1000.0 / static_cast<double>(last->unix_ms - first->unix_ms);
        if (p.total && *p.recent_rate > 0)
          p.eta_seconds =
              static_cast<double>(*p.total - std::min(*p.total, p.done)) / *p.recent_rate;
      }
    }
  }
  return p;
}

std::string status_text(const replay_state& s, std::int64_t now_unix_ms, const run_progress* p) {
  const auto& h = s.header();
  const auto& t = s.counts();
  std::string o;
  auto line = [&o](std::string_view label, const std::string& value) {
    o.append(label);
    if (label.size() < 16) o.append(16 - label.size(), ' ');
    o.append(value);
    o.push_back('\n');
  };
  line("journal", s.path().string() + " (" + size_text(s.valid_bytes()) + ", " +
                      std::to_string(s.sessions().size()) + " session" +
                      (s.sessions().size() == 1 ? "" : "s") + ")");
  line("created", iso_time(h.created_unix_ms) + " by chime-onboard " + h.tool_version);
  std::string type = std::string(to_string(h.type));
  line("run", std::string(to_string(h.op)) + " into account " + h.account_id +
                  (type.empty() ? "" : ", user type " + type) + ", local parts case-" +
                  (h.case_sensitive_local ? "sensitive" : "insensitive"));
  if (p) {
    if (!p->active)
      line("state", "unknown (/proc/locks cannot be read)");
    else if (*p->active)
      line("state",
           "running (pid " + std::to_string(p->pid) +
               (p->started_unix_ms ? ", since " + iso_time(p->started_unix_ms) : std::string()) +
               ")");
    else if (!p->last_status.empty())
      line("state", "stopped: the last run ended " + p->last_status + " (exit " +
                        std::to_string(p->last_exit_code) + ") at " +
                        iso_time(p->last_end_unix_ms));
    else
      line("state", "stopped");
    line("progress", p->total ? group_thousands(std::min(p->done, *p->total)) + " of " +
                                    group_thousands(*p->total) + " addresses settled (" +
                                    percent(p->done, *p->total) + ")"
                              : group_thousands(p->done) +
                                    " addresses settled (the run's total is not known: it "
                                    "was not counted, or this journal has no timeline)");
    if (p->recent_rate) {
      char r[64];
      std::snprintf(r, sizeof r, "%.1f addresses/s over the last minute", *p->recent_rate);
      line("eta",
           (p->eta_seconds ? format_duration(*p->eta_seconds) + " at " : "") + std::string(r));
    }
  }
  line("addresses", std::to_string(t.addresses));
  line("  invited", std::to_string(t.invited));
  line("  created", std::to_string(t.created));
  line("  exists", std::to_string(t.exists));
  line("  failed", std::to_string(t.failed) +
                       (t.failed ? " (re-run with --retry-failed to try them again)" : ""));
  line("  not sent", std::to_string(t.not_sent) +
                         (t.not_sent ? " (pending, but the service sent no email; re-run with "
                                       "--retry-failed to invite them again)"
                                     : ""));
  std::string doubt = std::to_string(t.in_doubt);
  if (t.in_doubt)
    doubt += " in " + std::to_string(s.in_doubt().size()) + " batch" +
             (s.in_doubt().size() == 1 ? "" : "es") +
             " (sent or about to be when the run stopped; checked with ListUsers on resume)";
  line("  in doubt", doubt);
  std::size_t shown = 0;
  for (const auto& b : s.in_doubt()) {
    if (++shown > 10) {
      o += "    ... " + std::to_string(s.in_doubt().size() - 10) + " more batches\n";
      break;
    }
    o += (is_repair_batch(b.batch_id)
              ? "    named in bytes `journal repair` could not read: "
              : "    batch " + std::to_string(b.batch_id) + " (attempt " +
                    std::to_string(b.attempt) + ", " + iso_time(b.intent_unix_ms) + "): ") +
         std::to_string(b.emails.size()) + " address" + (b.emails.size() == 1 ? "" : "es") + ":";
    for (std::size_t i = 0; i < b.emails.size() && i < 3; ++i) o += " " + b.emails[i];
    if (b.emails.size() > 3) o += " ...";
    o += "\n";
  }
  char rate[96];
  std::snprintf(rate, sizeof rate, "%.1f addresses/s over %s of activity", s.rate_per_second(),
                format_duration(s.active_seconds()).c_str());
  line("rate", s.active_seconds() > 0 ? rate : "unknown (no activity yet)");
  std::string last = iso_time(s.last_activity_unix_ms());
  if (s.last_activity_unix_ms() > 0 && now_unix_ms >= s.last_activity_unix_ms())
    last += " (" +
            format_duration(static_cast<double>(now_unix_ms - s.last_activity_unix_ms()) / 1000.0) +
            " ago)";
  line("last activity", last);
  if (s.tail() != tail_state::clean) line("tail", s.tail_note());
  return o;
}

std::string status_json(const replay_state& s, const run_progress* p) {
  namespace json = boost::json;
  const auto& h = s.header();
  const auto& t = s.counts();
  json::object o;
  if (p) {
    auto opt = [](const auto& v) { return v ? json::value(*v) : json::value(nullptr); };
    o["active"] = opt(p->active);
    o["pid"] = p->active.value_or(false) ? json::value(p->pid) : json::value(nullptr);
    o["done"] = p->done;
    o["total"] = opt(p->total);
    o["percent"] =
        p->total
            ? json::value(*p->total ? 100.0 * static_cast<double>(std::min(p->done, *p->total)) /
                                          static_cast<double>(*p->total)
                                    : 100.0)
            : json::value(nullptr);
    o["recent_rate"] = opt(p->recent_rate);
    o["eta_seconds"] = opt(p->eta_seconds);
    o["last_run"] = p->last_status.empty()
                        ? json::value(nullptr)
                        : json::value(json::object{{"status", p->last_status},
                                                   {"exit_code", p->last_exit_code},
                                                   {"ended", iso_time(p->last_end_unix_ms)}});
  }
  o["journal"] = s.path().string();
  o["operation"] = to_string(h.op);
  o["account_id"] = h.account_id;
  o["user_type"] = to_string(h.type);
  o["case_sensitive_local"] = h.case_sensitive_local;
  o["tool_version"] = h.tool_version;
  o["created"] = iso_time(h.created_unix_ms);
  o["sessions"] = s.sessions().size();
  o["totals"] =
      json::object{{"addresses", t.addresses}, {"invited", t.invited}, {"created", t.created},
                   {"exists", t.exists},       {"failed", t.failed},   {"not_sent", t.not_sent},
                   {"in_doubt", t.in_doubt}};
  json::array batches;
  for (const auto& b : s.in_doubt()) {
    json::array emails;
    for (const auto& e : b.emails) emails.emplace_back(e);
    batches.push_back(json::object{{"batch_id", b.batch_id},
                                   {"attempt", b.attempt},
                                   {"intent_time", iso_time(b.intent_unix_ms)},
                                   {"addresses", std::move(emails)}});
  }
  o["in_doubt_batches"] = std::move(batches);
  o["rate_per_second"] = s.rate_per_second();
  o["active_seconds"] = s.active_seconds();
  o["last_activity"] = iso_time(s.last_activity_unix_ms());
  o["tail"] = s.tail() == tail_state::clean  ? "clean"
              : s.tail() == tail_state::torn ? "torn"
                                             : "damaged";
  o["ignored_bytes"] = s.bad_bytes();
  return json_text(o) + "\n";
}

std::uint64_t write_report(const replay_state& s, report_writer& w, bool failed_only,
                           const source_lookup& source_of) {
  std::uint64_t rows = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto a = s.at(i);
    if (failed_only && !(a.kind && retried_by_retry_failed(*a.kind))) continue;
    if (!a.kind && !a.in_doubt) continue;  // its only intent was withdrawn: never sent
    std::optional<address_outcome> o;
    if (a.kind) o = s.outcome_at(i);
    report_row row = o ? report_row::from(*o) : report_row::in_doubt(a.email);
    row.account_id = s.header().account_id;  // a journal is one account's
    if (source_of)
      if (auto src = source_of(a.email)) row.with_source(src->input, src->line);
    w.write(row);
    ++rows;
  }
  w.finish();
  return rows;
}

int cmd_status(const args_t& args) {
  cli::parser p{"status",
                "Summarise a run from its journal: whether a run is going on it now (and its "
                "pid), done/total with a percentage and, while it runs, an ETA from the last "
                "minute's rate; totals by outcome, in-doubt batches, rate and last activity. "
                "Read-only: safe while the run is going.",
                "chime-onboard status --journal acme-invite.journal --output json"};
  auto& journal_opt = p.add_list(
      "journal", "FILE",
      "the run's journal (required; repeatable: a run over several accounts has one each)");
  auto& output = p.add_value("output", "FORMAT", "text or json (one object a journal)", "text");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (!journal_opt) return p.usage_error("--journal FILE is required");
  if (output.value() != "text" && output.value() != "json")
    return p.usage_error("--output must be text or json, not '" + output.value() + "'");
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (std::size_t i = 0; i < journal_opt.values.size(); ++i) {
    auto s = load("status", journal_opt.values[i]);
    if (!s) return exit_usage;
    const auto progress =
        progress_of(*s, read_timeline(timeline_path(s->path())), journal_lock_holder(s->path()));
    if (i && output.value() != "json") std::cout << "\n";
    std::cout << (output.value() == "json" ? status_json(*s, &progress)
                                           : status_text(*s, now, &progress));
  }
  std::cout.flush();
  return std::cout ? exit_ok : exit_internal;
}

int cmd_report(const args_t& args) {
  cli::parser p{"report",
                "Write per-address results from one or more journals: address, account_id, "
                "outcome, id, status, email_status, error_code, message, attempts, request_id, "
                "source, line (the columns of invite --report; source and line are only known to "
                "the run that read the address, so they are empty and 0 here). Addresses whose "
                "request was in flight when the run stopped are listed as in_doubt. A run over "
                "several accounts keeps a journal per account: give each with --journal, and a "
                "--failed-only report fed back as --input sends each address to its own account.",
                "chime-onboard report --journal acme-invite.journal --format csv --failed-only "
                "--output-file retry.csv"};
  auto& journal_opt =
      p.add_list("journal", "FILE", "a run's journal (required; repeatable, one per account)");
  auto& format = p.add_value("format", "FORMAT", "csv or jsonl", "csv");
  auto& failed_only = p.add_flag(
      "failed-only",
      "only addresses that failed or were not sent (a CSV with an email column: usable as "
      "--input)");
  auto& output_file =
      p.add_value("output-file", "FILE", "write here (created 0600, replaced atomically)", "-");
  auto& html = p.add_value("html", "FILE",
                           "instead, the run as a picture: a self-contained HTML page (summary, "
                           "charts over time from the journal's timeline, outcomes by reason, the "
                           "failed addresses; 0600)");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (!journal_opt) return p.usage_error("--journal FILE is required");
  if (html) {
    auto s = load("report", journal_opt.value());
    if (!s) return exit_usage;
    try {
      write_html_report(*s, html.value());
    } catch (const std::exception& e) {
      std::cerr << "chime-onboard report: --html " << html.value() << ": " << e.what() << "\n";
      return exit_usage;
    }
    std::cerr << "wrote " << html.value() << "\n";
    return exit_ok;
  }
  auto fmt = parse_report_format(format.value());
  if (!fmt) return p.usage_error("--format must be csv or jsonl, not '" + format.value() + "'");
  std::vector<replay_state> states;
  for (const auto& path : journal_opt.values) {
    auto s = load("report", path);
    if (!s) return exit_usage;
    states.push_back(std::move(*s));
  }

  std::uint64_t rows = 0;
  auto write_all = [&](report_writer& w) {
    for (const auto& s : states) rows += write_report(s, w, failed_only.given());
  };
  const std::string& out = output_file.value();
  try {
    if (out.empty() || out == "-") {
      report_writer w(
          [](std::string_view b) {
            std::cout.write(b.data(), static_cast<std::streamsize>(b.size()));
          },
          *fmt, /*with_source=*/true);
      write_all(w);
      std::cout.flush();
      if (!std::cout) {
        std::cerr << "chime-onboard report: writing to stdout failed\n";
        return exit_internal;
      }
    } else {
      io::atomic_file f(out);
      report_writer w([&f](std::string_view b) { f.append(b); }, *fmt, /*with_source=*/true);
      write_all(w);
      f.commit();
      std::cerr << "wrote " << rows << " rows to " << out << "\n";
    }
  } catch (const std::system_error& e) {
    std::cerr << "chime-onboard report: " << e.what() << "\n";
    return exit_internal;
  }
  std::uint64_t in_doubt = 0;
  for (const auto& s : states) in_doubt += s.counts().in_doubt;
  if (failed_only.given() && in_doubt)
    std::cerr << "note: " << in_doubt
              << " addresses are in doubt (not in this report); re-run the original command to "
                 "resolve them\n";
  return exit_ok;
}

namespace {

int cmd_journal_repair(const args_t& args) {
  cli::parser p{"journal repair",
                "Repair a damaged journal: keep every record that checks out, mark the addresses "
                "named in the unreadable bytes as in doubt (the next run checks them with "
                "ListUsers before sending anything again), keep the damaged file beside it, and "
                "write the repaired journal in its place (0600, durably). Run it when a run "
                "refuses a journal as damaged; then run the same command again.",
                "chime-onboard journal repair --journal "
                "~/.local/state/chime-onboard/invite-12a3456b-7c89-012d-3456-78901e23fg45.journal"};
  auto& journal_opt = p.add_value("journal", "FILE", "the damaged journal (required)");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (!journal_opt) return p.usage_error("--journal FILE is required");
  const std::string& path = journal_opt.value();
  journal_repair r;
  try {
    r = repair_journal(path);
  } catch (const journal_error& e) {
    std::cerr << "chime-onboard journal repair: " << e.what() << "\n";
    return exit_usage;
  }
  if (!r.repaired) {
    std::cout << "journal " << path << ": nothing to repair, every record checks out\n";
    return exit_ok;
  }
  std::uint64_t lost_bytes = 0;
  for (const auto& l : r.lost) lost_bytes += l.bytes;
  const auto& t = r.totals;
  std::ostringstream o;
  o << "repaired journal " << path << "\n"
    << "  kept      " << r.records_kept << " records that check out, unchanged\n";
  if (r.records_corrected)
    o << "  put back  " << r.records_corrected << " record" << (r.records_corrected == 1 ? "" : "s")
      << " with one flipped bit, as written (the checksum says which bit)\n";
  o << "  lost      " << lost_bytes << " unreadable bytes in " << r.lost.size() << " place"
    << (r.lost.size() == 1 ? "" : "s") << ":\n";
  std::size_t shown = 0;
  for (const auto& l : r.lost) {
    if (++shown > 10) {
      o << "              ... " << r.lost.size() - 10 << " more\n";
      break;
    }
    o << "              at byte " << l.offset << ": " << l.bytes << " bytes naming " << l.addresses
      << " address" << (l.addresses == 1 ? "" : "es") << "\n";
  }
  o << "  in doubt  " << r.recovered_in_doubt << " of the " << r.recovered.size()
    << " addresses named there (later records settle the others): the next run checks them "
       "with ListUsers before sending anything again\n"
    << "  original  " << r.original.string() << " (the damaged file, unchanged)\n"
    << "  now       " << t.addresses << " addresses: " << t.invited << " invited, " << t.created
    << " created, " << t.exists << " exists, " << t.failed << " failed, " << t.not_sent
    << " not sent, " << t.in_doubt << " in doubt\n"
    << "next: run the same command again to resume\n";
  std::cout << o.str();
  for (const auto& l : r.lost)
    if (l.addresses == 0 && l.bytes > 64)
      std::cerr << "warning: the " << l.bytes << " bytes at byte " << l.offset
                << " name no legible address: if they held the only record of a request, the "
                   "journal no longer knows its addresses and a run sends them as new\n";
  std::cout.flush();
  return std::cout ? exit_ok : exit_internal;
}

}  // namespace

int cmd_journal(const args_t& args) {
  static constexpr std::string_view usage =
      "usage: chime-onboard journal repair --journal FILE\n\n"
      "  repair    make a damaged journal usable again, keeping the damaged file beside it\n"
      "            (chime-onboard journal repair --help)\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << usage;
    return args.empty() ? exit_usage : exit_ok;
  }
  if (args[0] == "repair") return cmd_journal_repair(args_t(args.begin() + 1, args.end()));
  std::cerr << "chime-onboard journal: unknown subcommand '" << args[0] << "'\n" << usage;
  return exit_usage;
}

}  // namespace onboard
