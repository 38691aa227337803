// `chime-onboard suspend`: leavers out of an account. Their addresses become UserIds through one
// listing of the account (ListUsers pages of 200: cheaper than a query per address once there are
// more than ceil(U/200) leavers), then BatchSuspendUser in batches of 50, each user reported.
//
// Not journalled: suspension is idempotent (suspending a suspended user is no error) and users
// already suspended are seen in the listing and not sent again, so running the same command again
// is the resume.
#include "account_client.hpp"

#include <onboard/chime/suspend.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/service_get.hpp>
#include <onboard/core/text.hpp>
#include <onboard/ingest/normalize.hpp>
#include <onboard/io/corpus_reader.hpp>
#include <onboard/io/durable_file.hpp>

#include <iostream>
#include <map>
#include <unordered_map>

namespace onboard {

namespace {

constexpr int attempts = 5;

// leaver: one address of the input and what became of it.
struct leaver {
  std::string email;
  std::size_t line = 0;
  std::string user_id;
  std::string outcome = "not_done";  // suspended | already_suspended | not_found | failed
  std::string error_code, message;
};

// read_leavers: one address a line, or a CSV whose header names an `email` column, read as the
// invite's input is (io::corpus_reader: gzip and the other compressions, RFC 4180 quoting, a BOM).
// Every record must hold a valid address: a bad one is reported by file, line and field, and
// nothing is sent.
bool read_leavers(const std::string& path, std::vector<leaver>& out, std::string& error) {
  std::unordered_map<std::string, bool> seen;
  try {
    io::corpus_reader in({path}, {});
    io::corpus_record rec;
    while (in.next(rec)) {
      if (rec.problem != io::line_problem::none) {
        error = std::string(rec.detail);
        return false;
      }
      std::string email;
      if (auto why = normalize_email(rec.email, email); why != reason::none) {
        error = in.input_name(rec.source) + ":" + std::to_string(rec.line) + ": email '" +
                std::string(rec.email) + "' is not an address (" + std::string(to_string(why)) +
                ")";
        return false;
      }
      if (!seen.emplace(address_key(email, false), true).second) continue;
      out.push_back({.email = email,
                     .line = static_cast<std::size_t>(rec.line),
                     .user_id = {},
                     .outcome = "not_done",
                     .error_code = {},
                     .message = {}});
    }
  } catch (const io::corpus_error& e) {
    error = "--input " + std::string(e.what());
    return false;
  }
  return true;
}

boost::asio::awaitable<call_result> async_suspend(account_client& c, const std::string& account,
                                                  std::vector<leaver*> todo, std::uint64_t& sent) {
  for (std::size_t from = 0; from < todo.size(); from += chime::suspend_batch_max) {
    const std::size_t to = std::min(todo.size(), from + chime::suspend_batch_max);
    std::vector<std::string> ids;
    for (std::size_t i = from; i < to; ++i) ids.push_back(todo[i]->user_id);
    auto r = co_await async_service_call(c.transport(), c.signer(), "POST",
                                         chime::suspend_target(account), chime::suspend_body(ids),
                                         attempts);
    ++sent;
    if (auto p = answer_problem(r, 200, "BatchSuspendUser in account " + account,
                                "chime:BatchSuspendUser");
        p.exit != exit_ok)
      co_return p;
    auto errors = chime::decode_user_errors(r.response.body);
    if (!errors)
      co_return call_result{.users = 0,
                            .pages = 0,
                            .exit = exit_service,
                            .problem = "BatchSuspendUser: " + errors.error};
    std::map<std::string, const chime::user_error*> refused;
    for (const auto& e : *errors.value) refused[e.user_id] = &e;
    for (std::size_t i = from; i < to; ++i) {
      auto it = refused.find(todo[i]->user_id);
      if (it == refused.end()) {
        todo[i]->outcome = "suspended";
      } else {
        todo[i]->outcome = "failed";
        todo[i]->error_code = it->second->code;
        todo[i]->message = it->second->message;
      }
    }
  }
  co_return call_result{};
}

}  // namespace

int cmd_suspend(const args_t& args) {
  cli::parser p{"suspend",
                "Suspend the users of an account named by their addresses (leavers): one "
                "listing of the account (ListUsers) finds their UserIds, then BatchSuspendUser "
                "50 at a time; every address is reported (suspended, already_suspended, "
                "not_found, failed). Running it again resumes: suspended users are skipped.",
                "chime-onboard suspend --account-id 12a3456b-7c89-012d-3456-78901e23fg45 "
                "--input leavers.csv --report suspended.csv --yes"};
  auto& account = p.add_value("account-id", "ID", "the Chime account (required)");
  auto& input = p.add_value("input", "FILE",
                            "the leavers: one address a line, or a CSV with an email column");
  auto& report =
      p.add_value("report", "FILE", "per-address results as CSV (created 0600); - is stdout", "-");
  auto& yes = p.add_flag("yes", "suspend without asking (this command never asks: required)");
  const connection_flags conn = add_connection_flags(p);
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (account.value().empty()) return p.usage_error("--account-id is required");
  if (input.value().empty()) return p.usage_error("--input FILE is required");
  if (!yes.given())
    return p.usage_error("suspend changes the account: give --yes to suspend the users");
  auto fail = [](int code, const std::string& why) {
    std::cerr << "chime-onboard suspend: " << why << "\n";
    return code;
  };
  std::vector<leaver> leavers;
  std::string why;
  if (!read_leavers(input.value(), leavers, why)) return fail(exit_usage, why);

  account_client client;
  if (int rc = client.open(conn, "suspend"); rc != exit_ok) return rc;
  std::unordered_map<std::string, std::pair<std::string, bool>> by_address;  // id, suspended
  std::uint64_t unnamed = 0;
  auto on_page = [&](const chime::user_page& page) {
    for (const auto& u : page.users) {
      if (u.primary_email.empty()) {
        ++unnamed;
        continue;
      }
      by_address[address_key(u.primary_email, false)] = {u.user_id,
                                                         u.registration_status == "Suspended"};
    }
  };
  std::vector<leaver*> todo;
  std::uint64_t sent = 0;
  call_result res;
  try {
    res =
        client.run(async_list_users(client.transport(), client.signer(), account.value(), on_page));
    if (res.exit != exit_ok) return fail(res.exit, res.problem + "; nobody was suspended");
    for (auto& l : leavers) {
      auto it = by_address.find(address_key(l.email, false));
      if (it == by_address.end()) {
        l.outcome = "not_found";
        l.message = "no user of the account has this PrimaryEmail";
      } else if (it->second.second) {
        l.user_id = it->second.first;
        l.outcome = "already_suspended";
      } else {
        l.user_id = it->second.first;
        todo.push_back(&l);
      }
    }
    res = client.run(async_suspend(client, account.value(), todo, sent));
  } catch (const std::exception& e) {
    return fail(exit_internal, e.what());
  }

  std::string rows = "email,user_id,outcome,error_code,message\n";
  std::map<std::string, std::uint64_t> counts;
  for (const auto& l : leavers) {
    ++counts[l.outcome];
    for (std::string_view cell : {std::string_view(l.email), std::string_view(l.user_id),
                                  std::string_view(l.outcome), std::string_view(l.error_code)}) {
      csv_cell(rows, cell);
      rows.push_back(',');
    }
    csv_cell(rows, l.message);
    rows.push_back('\n');
  }
  try {
    if (report.value() == "-") {
      std::cout << rows << std::flush;
    } else {
      io::atomic_file f(report.value());
      f.append(rows);
      f.commit();
    }
  } catch (const std::exception& e) {
    return fail(exit_usage, "--report " + report.value() + ": " + e.what());
  }
  std::cerr << "suspend: " << counts["suspended"] << " suspended, " << counts["already_suspended"]
            << " already suspended, " << counts["not_found"] << " not in the account, "
            << counts["failed"] << " failed, in " << sent << " BatchSuspendUser request"
            << (sent == 1 ? "" : "s") << "\n";
  if (unnamed)
    std::cerr << "note: " << unnamed
              << " users of the account show no PrimaryEmail (pending invitations); an address "
                 "among them is reported not_found\n";
  if (res.exit != exit_ok) {
    std::cerr << "chime-onboard suspend: " << res.problem << "; " << counts["not_done"]
              << " not done. Run the same command again to resume\n";
    return res.exit;
  }
  return counts["failed"] || counts["not_found"] ? exit_failed_addresses : exit_ok;
}

}  // namespace onboard
