// onboard/cli/preflight.hpp: what a run asks the service before it writes or sends anything:
// GetAccount for the account (it exists, is Active, and is of a type the operation supports) and,
// when the run may need it, ListUsers with max-results=1 (the permission to verify in-doubt
// requests). `invite`, `create-users` and `check` run it; a refusal names the account, its type
// and what to use instead, or the IAM action the credentials lack.
//
//   preflight_request q{operation::invite, "acct-1", endpoint, tls, creds, "us-east-1", true};
//   auto f = run_preflight(q);
//   if (f.exit != exit_ok) { std::cerr << f.problem; return f.exit; }
#pragma once

#include <onboard/chime/chime_api.hpp>
#include <onboard/core/outcome.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace onboard {

// preflight_request: the account, the operation it must support, and how to reach the service.
struct preflight_request {
  operation op = operation::invite;
  std::string account_id;
  io::endpoint endpoint;
  boost::asio::ssl::context* tls = nullptr;
  std::shared_ptr<signing::credential_provider> creds;
  std::string region;
  std::optional<io::proxy> proxy;  // the run's HTTPS_PROXY, so the pre-flight goes the same way
  bool probe_list_users = false;   // also prove chime:ListUsers
  // strict: any answer to the ListUsers probe but a 200 fails the pre-flight (`check`); else only
  // a 401 or 403 does, and `problem` carries the rest as a warning.
  bool strict = false;
};

// preflight_result: what was found. `exit` is exit_ok, exit_config (6: the account cannot take
// the operation, credentials or permissions refused, TLS) or exit_service (7: unreachable, or
// the service kept failing); `problem` says why when it is not exit_ok.
struct preflight_result {
  int exit = 0;
  std::string problem;
  bool reached = false;  // a response came back over TLS
  std::optional<chime::account> account;
  std::optional<bool> list_users_allowed;  // when probed
  // clock_offset: the service's time minus ours, when a signature was refused for our clock
  // (learnt from its Date, as the run's dispatcher does); the run signs with it from the start.
  std::chrono::milliseconds clock_offset{0};
};

preflight_result run_preflight(const preflight_request& q);

// account_problem: "" when `a` can take `op`, else why not and what to use instead. InviteUsers
// is for Team accounts only (the InviteUsers reference); CreateUser is refused on Team accounts
// (boto/boto3#2384: it is meant for directory-backed accounts, and Team accounts take
// InviteUsers), so create-users needs an Enterprise account (EnterpriseDirectory, EnterpriseLWA
// or EnterpriseOIDC). Either needs the account Active.
std::string account_problem(const chime::account& a, operation op);

// member_scan: what list_members found, or why it could not finish (`exit` as preflight_result's).
struct member_scan {
  int exit = 0;
  std::string problem;
  std::uint64_t users = 0, pages = 0;
};

// list_members: every user of q.account_id, paged through ListUsers (max-results=200, NextToken:
// ⌈U/200⌉ requests for U users) on one connection; `found` gets each user's PrimaryEmail (a pending
// invitee the service shows without one cannot be matched, and is not handed over).
member_scan list_members(const preflight_request& q,
                         const std::function<void(std::string_view email)>& found);

}  // namespace onboard
