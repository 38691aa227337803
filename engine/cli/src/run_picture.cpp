// run_picture.cpp: the timeline beside a journal, and the HTML page made of both.
#include <onboard/cli/run_picture.hpp>

#include <onboard/core/text.hpp>
#include <onboard/io/durable_file.hpp>
#include <onboard/signing/credentials.hpp>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <malloc.h>
#include <map>
#include <sstream>
#include <unistd.h>

namespace onboard {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string utc_time(std::int64_t unix_ms) {
  return signing::format_iso8601(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)));
}

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// series: one line of a chart, as runs of points (a run per process: no line across the gap
// between an interrupted run and its resume).
struct series {
  std::string name, colour;
  std::vector<std::vector<std::pair<std::int64_t, double>>> segments;
  std::size_t points() const {
    std::size_t n = 0;
    for (const auto& s : segments) n += s.size();
    return n;
  }
};

struct marker {
  std::int64_t unix_ms;
  std::string label;
  bool start;
};

// chart: an inline SVG line chart over [t0, t1]: every series' points, the markers as vertical
// lines, the y range from 0 to the largest value.
std::string chart(const std::string& title, const std::string& unit,
                  const std::vector<series>& lines, const std::vector<marker>& markers,
                  std::int64_t t0, std::int64_t t1) {
  constexpr double w = 960, h = 220, left = 56, right = 16, top = 28, bottom = 34;
  double ymax = 0;
  for (const auto& s : lines)
    for (const auto& seg : s.segments)
      for (const auto& p : seg) ymax = std::max(ymax, p.second);
  ymax = ymax <= 0 ? 1 : ymax * 1.1;
  const double span = static_cast<double>(std::max<std::int64_t>(t1 - t0, 1000));
  auto x = [&](std::int64_t t) {
    return left + (w - left - right) * static_cast<double>(t - t0) / span;
  };
  auto y = [&](double v) { return top + (h - top - bottom) * (1 - v / ymax); };
  std::ostringstream o;
  o << "<figure><svg class=\"chart\" viewBox=\"0 0 " << w << " " << h << "\" width=\"" << w
    << "\" height=\"" << h << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">\n"
    << "<text x=\"" << left << "\" y=\"18\" class=\"title\">" << html_escape(title) << "</text>\n";
  for (int i = 0; i <= 4; ++i) {
    double v = ymax * i / 4;
    o << "<line class=\"grid\" x1=\"" << left << "\" x2=\"" << w - right << "\" y1=\""
      << fixed(y(v)) << "\" y2=\"" << fixed(y(v)) << "\"/><text class=\"axis\" x=\"" << left - 6
      << "\" y=\"" << fixed(y(v) + 4) << "\" text-anchor=\"end\">" << fixed(v, v < 10 ? 1 : 0)
      << "</text>\n";
  }
  o << "<text class=\"axis\" x=\"" << left << "\" y=\"" << h - 10 << "\">" << utc_time(t0)
    << "</text><text class=\"axis\" x=\"" << w - right << "\" y=\"" << h - 10
    << "\" text-anchor=\"end\">" << utc_time(t1) << "</text>\n"
    << "<text class=\"axis\" x=\"" << (w + left) / 2 << "\" y=\"" << h - 10
    << "\" text-anchor=\"middle\">" << html_escape(unit) << "</text>\n";
  for (const auto& m : markers) {
    o << "<line class=\"marker " << (m.start ? "start" : "end") << "\" x1=\"" << fixed(x(m.unix_ms))
      << "\" x2=\"" << fixed(x(m.unix_ms)) << "\" y1=\"" << top << "\" y2=\"" << h - bottom
      << "\"><title>" << html_escape(m.label) << "</title></line>\n";
  }
  double legend_x = left + 260;
  for (const auto& s : lines) {
    for (const auto& seg : s.segments) {
      o << "<polyline class=\"series\" data-series=\"" << html_escape(s.name) << "\" data-points=\""
        << seg.size() << "\" stroke=\"" << s.colour << "\" points=\"";
      for (std::size_t i = 0; i < seg.size(); ++i)
        o << (i ? " " : "") << fixed(x(seg[i].first)) << "," << fixed(y(seg[i].second));
      o << "\"/>\n";
    }
    o << "<rect x=\"" << legend_x << "\" y=\"10\" width=\"12\" height=\"10\" fill=\"" << s.colour
      << "\"/><text class=\"legend\" x=\"" << legend_x + 16 << "\" y=\"19\">" << html_escape(s.name)
      << " (" << s.points() << " points)</text>\n";
    legend_x += 210;
  }
  o << "</svg></figure>\n";
  return o.str();
}

// per_second: the series' value at each sample as a rate against the sample before it in the same
// run (or the run's start, where every counter was 0).
series per_second(const timeline& t, std::string name, std::string colour,
                  std::uint64_t timeline_sample::*field) {
  series s{std::move(name), std::move(colour), {}};
  std::map<std::uint32_t, std::int64_t> start_of;
  for (const auto& e : t.events)
    if (e.start) start_of[e.run] = e.unix_ms;
  const timeline_sample* prev = nullptr;
  for (const auto& cur : t.samples) {
    std::int64_t t_prev = 0;
    std::uint64_t v_prev = 0;
    if (prev && prev->run == cur.run) {
      t_prev = prev->unix_ms;
      v_prev = prev->*field;
    } else {
      s.segments.emplace_back();
      auto st = start_of.find(cur.run);
      t_prev = st != start_of.end() ? st->second : cur.unix_ms - 1000;
    }
    double dt = std::max<double>(static_cast<double>(cur.unix_ms - t_prev) / 1000.0, 0.001);
    double dv = cur.*field >= v_prev ? static_cast<double>(cur.*field - v_prev) : 0;
    s.segments.back().emplace_back(cur.unix_ms, dv / dt);
    prev = &cur;
  }
  return s;
}

series level(const timeline& t, std::string name, std::string colour) {
  series s{std::move(name), std::move(colour), {}};
  const timeline_sample* prev = nullptr;
  for (const auto& cur : t.samples) {
    if (!prev || prev->run != cur.run) s.segments.emplace_back();
    s.segments.back().emplace_back(cur.unix_ms, cur.rate);
    prev = &cur;
  }
  return s;
}

std::string row(std::string_view label, const std::string& value) {
  return "<tr><th>" + html_escape(label) + "</th><td>" + value + "</td></tr>\n";
}

}  // namespace

std::filesystem::path timeline_path(const std::filesystem::path& journal) {
  return journal.string() + ".timeline";
}

std::filesystem::path picture_path(const std::filesystem::path& journal) {
  auto p = journal;
  return p.replace_extension(".html");
}

timeline_recorder::timeline_recorder(const std::filesystem::path& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0)
    spdlog::warn("cannot write the run's timeline {}: {} (the HTML report will have no charts)",
                 path.string(), std::strerror(errno));
}

timeline_recorder::~timeline_recorder() {
  if (fd_ >= 0) ::close(fd_);
}

void timeline_recorder::append(const std::string& line) {
  if (fd_ < 0) return;
  std::string l = line + "\n";
  // One write per line with O_APPEND: a line is whole or (after a crash) torn at the end only.
  if (::write(fd_, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
    spdlog::warn("writing the run's timeline failed: {}; charts stop here", std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
  }
}

void timeline_recorder::started(std::string_view command, const std::vector<run_plan>& plan) {
  boost::json::object o{{"event", "start"},
                        {"t", now_ms()},
                        {"command", command},
                        {"pid", static_cast<std::int64_t>(::getpid())}};
  if (!plan.empty()) {
    boost::json::array a;
    for (const auto& p : plan) {
      boost::json::object e{{"account", p.account}, {"settled_before", p.settled_before}};
      if (p.to_send) e["to_send"] = *p.to_send;
      a.push_back(std::move(e));
    }
    o["plan"] = std::move(a);
  }
  append(boost::json::serialize(o));
}

void timeline_recorder::sample(const run_stats& s, double limiter_rate) {
  boost::json::object o{{"t", now_ms()},
                        {"done", load(s.done)},
                        {"requests", load(s.requests)},
                        {"throttled", load(s.throttled)},
                        {"unavailable", load(s.unavailable)},
                        {"rate", std::round(limiter_rate * 100) / 100}};
  append(boost::json::serialize(o));
}

void timeline_recorder::ended(int exit_code, std::string_view status) {
  boost::json::object o{
      {"event", "end"}, {"t", now_ms()}, {"exit_code", exit_code}, {"status", status}};
  append(boost::json::serialize(o));
  if (fd_ >= 0) ::fdatasync(fd_);
}

std::string_view run_status(int exit_code) {
  if (exit_code == 0 || exit_code == 3 || exit_code == 4) return "complete";
  if (exit_code == 5) return "interrupted";
  return "failed";
}

namespace {

// count_in: a non-negative integer member of a timeline line, nullopt when absent or not one.
std::optional<std::uint64_t> count_in(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_uint64()) return v->as_uint64();
  if (v && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return std::nullopt;
}

}  // namespace

timeline read_timeline(const std::filesystem::path& path) {
  timeline t;
  std::ifstream in(path);
  std::string line;
  std::uint32_t run = 0;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object() || !v.as_object().contains("t")) {
      ++t.unreadable_lines;
      continue;
    }
    const auto& o = v.as_object();
    auto num = [&](const char* k) -> std::uint64_t {
      auto* p = o.if_contains(k);
      return p && p->is_number() ? p->to_number<std::uint64_t>() : 0;
    };
    const std::int64_t at = o.at("t").to_number<std::int64_t>();
    if (auto* e = o.if_contains("event"); e && e->is_string()) {
      timeline_event ev;
      ev.unix_ms = at;
      ev.start = e->as_string() == "start";
      if (ev.start) ++run;
      ev.run = run;
      if (!ev.start) {
        ev.exit_code = static_cast<int>(num("exit_code"));
        if (auto* s = o.if_contains("status"); s && s->is_string()) ev.status = s->as_string();
      } else {
        ev.pid = static_cast<std::int64_t>(num("pid"));
        if (auto* plan = o.if_contains("plan"); plan && plan->is_array())
          for (const auto& entry : plan->as_array()) {
            const auto* po = entry.if_object();
            const auto* account = po ? po->if_contains("account") : nullptr;
            if (!account || !account->is_string()) continue;
            run_plan rp;
            rp.account = account->as_string();
            rp.settled_before = count_in(*po, "settled_before").value_or(0);
            rp.to_send = count_in(*po, "to_send");
            ev.plan.push_back(std::move(rp));
          }
      }
      t.events.push_back(std::move(ev));
      continue;
    }
    timeline_sample s;
    s.unix_ms = at;
    s.done = num("done");
    s.requests = num("requests");
    s.throttled = num("throttled");
    s.unavailable = num("unavailable");
    if (auto* r = o.if_contains("rate"); r && r->is_number()) s.rate = r->to_number<double>();
    s.run = run;
    t.samples.push_back(s);
  }
  return t;
}

std::string render_html_report(const replay_state& s, const timeline& t) {
  const auto& c = s.counts();
  const auto& h = s.header();
  std::ostringstream o;
  const std::string title =
      "chime-onboard " + std::string(to_string(h.op)) + ": account " + h.account_id;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
    << html_escape(title) << "</title>\n<style>\n"
    << "body{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}"
       "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
       "table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;"
       "text-align:left;font-size:13px}th{background:#f3f3f3}td.n{text-align:right}"
       "svg.chart{background:#fcfcfc;border:1px solid #ddd}"
       ".title{font-size:14px;font-weight:bold}.axis,.legend{font-size:11px;fill:#555}"
       ".grid{stroke:#e4e4e4}polyline.series{fill:none;stroke-width:1.6}"
       ".marker{stroke-width:1.5;stroke-dasharray:4 "
       "3}.marker.start{stroke:#2a7}.marker.end{stroke:#c33}"
       "figure{margin:10px 0}\n</style></head><body>\n"
    << "<h1>" << html_escape(title) << "</h1>\n<p>From the journal <code>"
    << html_escape(s.path().string()) << "</code>";
  if (!t.samples.empty() || !t.events.empty())
    o << " and its timeline (" << t.samples.size() << " samples)";
  o << ".</p>\n<h2>Summary</h2>\n<table>\n"
    << row("addresses", std::to_string(c.addresses)) << row("invited", std::to_string(c.invited))
    << row("created", std::to_string(c.created))
    << row("already in the account", std::to_string(c.exists))
    << row("failed", std::to_string(c.failed)) << row("in doubt", std::to_string(c.in_doubt))
    << row("runs", std::to_string(s.sessions().size()));
  if (s.first_activity_unix_ms())
    o << row("first activity", utc_time(s.first_activity_unix_ms()))
      << row("last activity", utc_time(s.last_activity_unix_ms()))
      << row("time sending", fixed(s.active_seconds(), 0) + " s")
      << row("addresses per second sending", fixed(s.rate_per_second()));
  o << "</table>\n";

  // Runs: each start, and how it ended (a run killed outright has no end line).
  std::vector<marker> markers;
  o << "<h2>Runs</h2>\n<table><tr><th>run</th><th>started</th><th>ended</th><th>how</th></tr>\n";
  for (std::size_t i = 0; i < t.events.size(); ++i) {
    const auto& e = t.events[i];
    if (!e.start) continue;
    const timeline_event* end = nullptr;
    for (std::size_t j = i + 1; j < t.events.size() && t.events[j].run == e.run; ++j)
      if (!t.events[j].start) end = &t.events[j];
    markers.push_back({e.unix_ms,
                       "run " + std::to_string(e.run) + (e.run > 1 ? " (resume)" : "") + " started",
                       true});
    std::string how = end ? end->status + " (exit " + std::to_string(end->exit_code) + ")"
                          : "stopped without an end record (killed or crashed)";
    if (end && end->status != "complete")
      markers.push_back({end->unix_ms, "run " + std::to_string(e.run) + " " + how, false});
    o << "<tr><td class=\"n\">" << e.run << "</td><td>" << utc_time(e.unix_ms) << "</td><td>"
      << (end ? utc_time(end->unix_ms) : "-") << "</td><td>" << html_escape(how) << "</td></tr>\n";
  }
  o << "</table>\n";

  if (!t.samples.empty()) {
    std::int64_t t0 = t.samples.front().unix_ms, t1 = t.samples.back().unix_ms;
    for (const auto& e : t.events) {
      t0 = std::min(t0, e.unix_ms);
      t1 = std::max(t1, e.unix_ms);
    }
    o << "<h2>Over time</h2>\n"
      << chart("Addresses settled per second", "addresses/s",
               {per_second(t, "settled", "#2367c6", &timeline_sample::done)}, markers, t0, t1)
      << chart("Requests per second", "requests/s",
               {per_second(t, "requests", "#2367c6", &timeline_sample::requests),
                per_second(t, "throttled (429)", "#e08a00", &timeline_sample::throttled),
                per_second(t, "5xx", "#c33", &timeline_sample::unavailable)},
               markers, t0, t1)
      << chart("The limiter's rate", "requests/s", {level(t, "rate", "#6a3fb5")}, markers, t0, t1)
      << "<p>Dashed lines: green, a run started; red, a run ended other than complete.</p>\n";
  } else {
    o << "<p>No timeline beside this journal: no charts (runs before this version kept "
         "none).</p>\n";
  }

  // Outcomes by reason, and the failed addresses with what the service said.
  std::map<std::string, std::uint64_t> reasons;
  std::vector<address_outcome> failed;
  constexpr std::size_t failed_shown = 1000;
  std::uint64_t failed_total = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto a = s.at(i);
    if (!a.kind) {
      ++reasons[a.in_doubt ? "in doubt" : "no outcome"];
      continue;
    }
    if (*a.kind != outcome_kind::failed) {
      ++reasons[std::string(to_string(*a.kind))];
      continue;
    }
    auto out = s.outcome_at(i);
    ++reasons["failed: " + (out && !out->error_code.empty() ? out->error_code : "unknown")];
    ++failed_total;
    if (out && failed.size() < failed_shown) failed.push_back(std::move(*out));
  }
  o << "<h2>Outcomes by reason</h2>\n<table><tr><th>outcome</th><th>addresses</th></tr>\n";
  for (const auto& [reason, n] : reasons)
    o << "<tr><td>" << html_escape(reason) << "</td><td class=\"n\">" << n << "</td></tr>\n";
  o << "</table>\n<h2>Failed addresses</h2>\n";
  if (failed.empty()) {
    o << "<p>None.</p>\n";
  } else {
    if (failed_total > failed.size())
      o << "<p>The first " << failed.size() << " of " << failed_total
        << "; <code>chime-onboard report --failed-only</code> lists them all.</p>\n";
    o << "<table><tr><th>address</th><th>code</th><th>the service said</th><th>request "
         "id</th></tr>\n";
    for (const auto& f : failed)
      o << "<tr><td>" << html_escape(f.email) << "</td><td>" << html_escape(f.error_code)
        << "</td><td>" << html_escape(f.message) << "</td><td>" << html_escape(f.request_id)
        << "</td></tr>\n";
    o << "</table>\n";
  }
  o << "</body></html>\n";
  return o.str();
}

void write_html_report(const replay_state& s, const std::filesystem::path& page) {
  io::write_file_atomically(page, render_html_report(s, read_timeline(timeline_path(s.path()))));
}

void write_html_report(const std::filesystem::path& journal, const std::filesystem::path& page) {
  // What the run's threads freed stays with their malloc arenas unless handed back: the table
  // below would come on top of it.
  ::malloc_trim(0);
  // 8 MiB windows: a 44 MB journal of 1M addresses no longer sits in memory beside its table.
  write_html_report(replay_journal(journal, {.drop_behind = 8u << 20}), page);
}

bool picture_is_current(const std::filesystem::path& page, std::uint64_t addresses_handled) {
  std::error_code ec;
  return addresses_handled == 0 && std::filesystem::exists(page, ec);
}

}  // namespace onboard
