#include <onboard/cli/summary.hpp>

#include <onboard/cli/json_text.hpp>
#include <onboard/core/version.hpp>

#include <boost/json.hpp>

#include <cstdio>
#include <ostream>

namespace onboard {

void fill_outcomes(summary& s, const run_stats& st, std::chrono::steady_clock::duration elapsed) {
  s.invited = load(st.invited);
  s.created = load(st.created);
  s.exists = load(st.exists);
  s.failed = load(st.failed);
  s.not_sent = load(st.not_sent);
  s.verified = load(st.verified);
  s.failed_by_code = st.failures_by_code();
  s.requests = load(st.requests);
  s.throttled = load(st.throttled);
  s.unavailable = load(st.unavailable);
  s.retries = load(st.retries);
  s.in_doubt = load(st.in_doubt);
  s.bisections = load(st.bisections);
  const std::uint64_t done = load(st.done);
  const std::uint64_t todo = s.accepted > s.already_done ? s.accepted - s.already_done : 0;
  s.not_done = todo > done ? todo - done : 0;
  s.elapsed_seconds = std::chrono::duration<double>(elapsed).count();
  s.emails_per_second = s.elapsed_seconds > 0 ? static_cast<double>(done) / s.elapsed_seconds : 0;
}

namespace {

boost::json::object to_json(const std::map<std::string, std::uint64_t>& m) {
  boost::json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

void row(std::ostream& out, const char* label, std::uint64_t v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "  %-26s %12llu\n", label, static_cast<unsigned long long>(v));
  out << buf;
}

}  // namespace

void print_summary(const summary& s, bool json, std::ostream& out) {
  if (json) {
    boost::json::object o;
    o["schema"] = summary_schema;
    o["version"] = version;
    o["exit_code"] = s.exit_code;
    o["status"] = s.status;
    o["error"] = s.error ? boost::json::value(*s.error) : boost::json::value(nullptr);
    o["endpoint"] = s.endpoint;
    o["lines"] = s.lines;
    o["accepted"] = s.accepted;
    o["rejected"] = to_json(s.rejected);
    o["rejected_total"] = s.rejected_total;
    o["duplicates"] = s.duplicates;
    o["already_done"] = s.already_done;
    o["outside_where"] = s.outside_where;
    o["batches"] = s.batches;
    o["invited"] = s.invited;
    o["created"] = s.created;
    o["exists"] = s.exists;
    o["failed"] = s.failed;
    o["failed_by_code"] = to_json(s.failed_by_code);
    o["not_sent"] = s.not_sent;
    o["verified_in_doubt"] = s.verified;
    o["not_done"] = s.not_done;
    if (s.limit) {
      o["limit"] = s.limit;
      o["remaining"] = s.remaining ? boost::json::value(*s.remaining) : boost::json::value(nullptr);
    }
    o["requests"] = s.requests;
    o["throttled"] = s.throttled;
    o["unavailable"] = s.unavailable;
    o["retries"] = s.retries;
    o["in_doubt"] = s.in_doubt;
    o["bisections"] = s.bisections;
    o["reconnects"] = s.reconnects;
    o["elapsed_seconds"] = s.elapsed_seconds;
    o["emails_per_second"] = s.emails_per_second;
    boost::json::array accounts;
    for (const auto& a : s.accounts)
      accounts.push_back(boost::json::object{{"account_id", a.account_id},
                                             {"about", a.about},
                                             {"problem", a.problem},
                                             {"planned", a.planned},
                                             {"invited", a.invited},
                                             {"created", a.created},
                                             {"exists", a.exists},
                                             {"failed", a.failed},
                                             {"not_sent", a.not_sent},
                                             {"held_back", a.held_back},
                                             {"elapsed_seconds", a.elapsed_seconds}});
    o["accounts"] = std::move(accounts);
    boost::json::array files;
    for (const auto& f : s.files)
      files.push_back(boost::json::object{{"kind", f.kind}, {"path", f.path}});
    o["files"] = std::move(files);
    out << json_text(o) << "\n";
    return;
  }
  out << "\nsummary\n";
  row(out, "lines read", s.lines);
  row(out, "rejected", s.rejected_total);
  for (const auto& [reason, n] : s.rejected) {
    std::string label = "  " + reason;
    row(out, label.c_str(), n);
  }
  row(out, "duplicates", s.duplicates);
  row(out, "already done (journal)", s.already_done);
  if (s.outside_where) row(out, "outside --where (later)", s.outside_where);
  row(out, "invited", s.invited);
  row(out, "created", s.created);
  row(out, "already exists", s.exists);
  row(out, "failed", s.failed);
  for (const auto& [code, n] : s.failed_by_code) {
    std::string label = "  " + code;
    row(out, label.c_str(), n);
  }
  if (s.not_sent) row(out, "pending, email not sent", s.not_sent);
  if (s.verified) row(out, "in doubt, found by ListUsers", s.verified);
  if (s.not_done) row(out, "not done yet (resume)", s.not_done);
  if (s.limit && s.remaining) row(out, "left for the full run", *s.remaining);
  row(out, "requests", s.requests);
  row(out, "throttled (429)", s.throttled);
  row(out, "service errors (5xx)", s.unavailable);
  row(out, "retries", s.retries);
  row(out, "reconnects", s.reconnects);
  char buf[128];
  std::snprintf(buf, sizeof buf, "  %-26s %11.1fs\n  %-26s %12.1f\n", "elapsed", s.elapsed_seconds,
                "emails/s", s.emails_per_second);
  out << buf;
  // A line per account once there are several, or one needs attention.
  if (s.accounts.size() > 1 || (s.accounts.size() == 1 && !s.accounts[0].problem.empty())) {
    out << "accounts\n";
    for (const auto& a : s.accounts) {
      out << "  " << a.account_id << ": ";
      if (!a.problem.empty() && a.invited + a.created + a.exists + a.failed == 0) {
        out << "NEEDS ATTENTION: " << a.problem;
        if (a.held_back) out << " (" << a.held_back << " held back)";
        out << "\n";
        continue;
      }
      out << a.invited << " invited, " << a.created << " created, " << a.exists << " exists, "
          << a.failed << " failed";
      std::snprintf(buf, sizeof buf, " in %.1fs", a.elapsed_seconds);
      out << buf;
      if (!a.problem.empty()) out << "; NEEDS ATTENTION: " << a.problem;
      out << "\n";
    }
  }
  if (!s.files.empty()) {
    out << "files\n";
    for (const auto& f : s.files) {
      std::snprintf(buf, sizeof buf, "  %-11s ", f.kind.c_str());
      out << buf << f.path << "\n";
    }
  }
}

}  // namespace onboard
