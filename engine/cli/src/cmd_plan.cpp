// `chime-onboard plan`: read the inputs exactly as a run would and say what it would send, without
// credentials or network.
#include "ingest_flags.hpp"

#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/ingest/ingest.hpp>
#include <onboard/cli/json_text.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace onboard {

namespace {

std::string human_duration(double s) {
  if (!std::isfinite(s)) return "-";
  auto total = static_cast<std::uint64_t>(std::ceil(s));
  std::uint64_t h = total / 3600, m = total / 60 % 60, sec = total % 60;
  char buf[64];
  if (h)
    std::snprintf(buf, sizeof buf, "%lluh %02llum %02llus", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(sec));
  else if (m)
    std::snprintf(buf, sizeof buf, "%llum %02llus", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(sec));
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

void row(std::ostream& out, const std::string& label, std::uint64_t v) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "  %-24s %12llu\n", label.c_str(),
                static_cast<unsigned long long>(v));
  out << buf;
}

}  // namespace

int cmd_plan(const args_t& args) {
  cli::parser p{"plan",
                "Read the inputs and show what a run would do: counts, rejects, batches and "
                "an estimated duration. Nothing is sent; no credentials are needed.",
                "chime-onboard plan --input users.csv --rejects rejects.csv --rate 20"};
  auto* flags = add_ingest_options(p, operation::invite);
  p.group("plan");
  auto& rate_opt =
      p.add_value("rate", "R", "requests per second, for the estimated duration", "10");
  auto& op_opt = p.add_value("operation", "OP",
                             "invite (InviteUsers, batches of 50) or create "
                             "(CreateUser, one address a request)",
                             "invite");
  auto& output = p.add_value("output", "FORMAT", "text or json (one object on stdout)", "text");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;

  auto rate = p.number(rate_opt, 1e-6, 1e9);
  if (!rate) return exit_usage;
  const std::string& op_name = op_opt.value();
  if (op_name == "invite")
    flags->op = operation::invite;
  else if (op_name == "create")
    flags->op = operation::create;
  else
    return p.usage_error("option '--operation': '" + op_name + "' is not invite or create");
  const std::string& fmt = output.value();
  if (fmt != "text" && fmt != "json")
    return p.usage_error("option '--output': '" + fmt + "' is not text or json");
  auto opts = ingest_options_from_flags(p, *flags);
  if (!opts) return exit_usage;
  auto inputs = opts->inputs;
  const auto where = opts->where;

  const auto started = std::chrono::steady_clock::now();
  ingest_stats st;
  try {
    ingest in(std::move(*opts));
    batch b;
    while (in.next_batch(b)) {
    }
    st = in.stats();
  } catch (const ingest_error& e) {
    std::cerr << "chime-onboard plan: " << e.what() << "\n";
    return exit_usage;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double estimated = static_cast<double>(st.requests) / *rate;

  if (fmt == "json") {
    boost::json::object o;
    o["operation"] = std::string(to_string(flags->op));
    o["inputs"] = static_cast<std::uint64_t>(inputs.size());
    o["lines"] = st.lines;
    o["skipped"] = st.skipped;
    o["outside_where"] = st.outside_where;
    o["accepted"] = st.accepted;
    o["duplicates"] = st.duplicates;
    o["already_done"] = st.already_done;
    boost::json::object rej;
    for (const auto& [k, v] : st.rejected_by_reason) rej[k] = v;
    o["rejected"] = std::move(rej);
    o["rejected_total"] = st.rejected;
    boost::json::object accounts;  // accepted addresses per account (a CSV account_id column)
    for (const auto& [k, v] : st.accepted_by_account) accounts[k] = v;
    o["accounts"] = std::move(accounts);
    o["batches"] = st.batches;
    o["requests"] = st.requests;
    o["rate"] = *rate;
    o["estimated_seconds"] = estimated;
    o["read_seconds"] = elapsed;
    std::cout << onboard::json_text(o) << "\n";
  } else {
    std::ostringstream out;
    out << "plan (" << to_string(flags->op) << ", " << inputs.size()
        << (inputs.size() == 1 ? " input" : " inputs") << ", read in " << human_duration(elapsed)
        << ")\n";
    row(out, "lines read", st.lines);
    if (!where.empty()) row(out, "outside --where (later)", st.outside_where);
    row(out, "accepted (to send)", st.accepted);
    if (st.accepted_by_account.size() > 1)
      for (const auto& [k, v] : st.accepted_by_account) row(out, "  account " + k, v);
    row(out, "duplicates", st.duplicates);
    if (st.already_done) row(out, "already done", st.already_done);
    row(out, "rejected", st.rejected);
    for (const auto& [k, v] : st.rejected_by_reason) row(out, "  " + k, v);
    row(out, "batches", st.batches);
    row(out, "requests", st.requests);
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-24s %12s  (at %g requests/s)\n", "estimated duration",
                  human_duration(estimated).c_str(), *rate);
    out << buf;
    std::cout << out.str();
  }
  return st.rejected ? exit_rejected_inputs : exit_ok;
}

}  // namespace onboard
