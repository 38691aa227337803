// preflight.cpp: see preflight.hpp.
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/preflight.hpp>
#include <onboard/chime/user_page.hpp>
#include <onboard/cli/service_get.hpp>
#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/retry_policy.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>

namespace onboard {

namespace net = boost::asio;

namespace {

// attempts: a pre-flight call is retried on 429, 5xx and network failures, briefly: the run has
// not started, and a service that stays away is reported rather than waited for.
constexpr int attempts = 3;

// refusal: the result for an answer that is not the expected 200. `action` is the IAM action the
// call needs, named when the service says access is denied.
preflight_result refusal(const exchange_result& r, std::string_view what, std::string_view action,
                         const std::string& account_id) {
  preflight_result f;
  if (!r.ok()) {
    const auto& e = *r.failure;
    // A certificate or a proxy that refuses is configuration: waiting will not mend it.
    const bool setup = e.certificate_refused() || e.kind == io::transport_error_kind::proxy_refused;
    f.exit = setup ? exit_config : exit_service;
    f.problem = std::string(what) + ": no answer from the service (" +
                std::string(io::to_string(e.kind)) + ": " + e.message + ")";
    if (e.certificate_refused())
      f.problem += "; the server's certificate did not verify (--ca-bundle names the CA to trust)";
    return f;
  }
  f.reached = true;
  const auto& resp = r.response;
  auto err = chime::decode_error(resp.status, resp.header("x-amzn-ErrorType"), resp.body);
  const std::string said = std::to_string(resp.status) + " " + err.code +
                           (err.message.empty() ? "" : ": " + err.message);
  f.exit = exit_config;
  if (resp.status == 401) {
    f.problem = std::string(what) + ": the service refused our credentials (" + said + ")";
  } else if (resp.status == 403) {
    f.problem = std::string(what) + " was refused (" + said +
                "): the credentials lack the IAM permission " + std::string(action) +
                " on this account, or the account cannot take it; grant " + std::string(action) +
                " (see the README's IAM policy)";
  } else if (resp.status == 404) {
    f.problem = "account " + account_id + " does not exist for these credentials (" +
                std::string(what) + ": " + said +
                "); check --account-id (aws chime list-accounts lists them)";
  } else if (resp.status == 429 || resp.status >= 500) {
    f.exit = exit_service;
    f.problem = std::string(what) + ": the service kept failing (" + said + ") through " +
                std::to_string(attempts) + " attempts; try again later";
  } else {
    f.problem = std::string(what) + ": unexpected answer (" + said + ")";
  }
  return f;
}

net::awaitable<preflight_result> async_preflight(const preflight_request& q, transport& t) {
  const signing::signer signer(q.creds, q.region, "chime");
  auto r = co_await async_service_get(t, signer, chime::account_target(q.account_id), attempts);
  if (!r.ok() || r.response.status != 200) {
    auto f = refusal(r, "GetAccount", "chime:GetAccount", q.account_id);
    f.clock_offset = signer.clock_offset();
    co_return f;
  }
  preflight_result f;
  f.clock_offset = signer.clock_offset();
  f.reached = true;
  auto a = chime::decode_account(r.response.body);
  if (!a) {
    f.exit = exit_config;
    f.problem = "GetAccount: the answer is not Chime's Account (" + a.error + ")";
    co_return f;
  }
  f.account = *a.value;
  if (auto why = account_problem(*f.account, q.op); !why.empty()) {
    f.exit = exit_config;
    f.problem = why;
    co_return f;
  }
  if (q.probe_list_users) {
    // One try: it proves a permission; a service that answers it badly is the run's to handle.
    r = co_await async_service_get(t, signer, chime::list_users_probe_target(q.account_id), 1);
    f.list_users_allowed = r.ok() && r.response.status == 200;
    if (!*f.list_users_allowed) {
      auto g = refusal(r, "ListUsers (max-results=1)", "chime:ListUsers", q.account_id);
      f.problem = g.problem;
      if (r.ok() && r.response.status == 403)
        f.problem +=
            "; a run needs it to settle requests that may have been applied (or run "
            "with --in-doubt resend|skip)";
      // Only a refusal of the credentials or the permission is certain to hold for the run.
      const bool refused = r.ok() && (r.response.status == 401 || r.response.status == 403);
      if (refused || q.strict) f.exit = g.exit;
    }
  }
  co_return f;
}

net::awaitable<member_scan> async_list_members(
    const preflight_request& q, transport& t,
    const std::function<void(std::string_view email)>& found) {
  const signing::signer signer(q.creds, q.region, "chime");
  member_scan m;
  std::string token;
  do {
    auto r = co_await async_service_get(
        t, signer, chime::user_page_target(q.account_id, chime::user_page_max, token), attempts);
    ++m.pages;
    if (!r.ok() || r.response.status != 200) {
      auto f = refusal(r, "ListUsers (--skip-existing)", "chime:ListUsers", q.account_id);
      m.exit = f.exit;
      m.problem = f.problem;
      co_return m;
    }
    auto page = chime::decode_user_page(r.response.body);
    if (!page) {
      m.exit = exit_service;
      m.problem = "ListUsers (--skip-existing): the answer is not Chime's (" + page.error + ")";
      co_return m;
    }
    for (const auto& u : page.value->users) {
      ++m.users;
      if (!u.primary_email.empty()) found(u.primary_email);
    }
    token = std::move(page.value->next_token);
  } while (!token.empty());
  co_return m;
}

// run_on_one_connection: `task` on a connection of its own, to the end.
template <class Result, class Task>
Result run_on_one_connection(const preflight_request& q, Task task) {
  net::io_context ioc;
  io::connection_options copts;
  copts.proxy = q.proxy;
  https_transport t(ioc.get_executor(), q.endpoint, *q.tls, copts);
  Result out;
  std::exception_ptr failure;
  net::co_spawn(ioc, task(t), [&](std::exception_ptr e, Result f) {
    failure = e;
    out = std::move(f);
  });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace

member_scan list_members(const preflight_request& q,
                         const std::function<void(std::string_view email)>& found) {
  return run_on_one_connection<member_scan>(
      q, [&](transport& t) { return async_list_members(q, t, found); });
}

std::string account_problem(const chime::account& a, operation op) {
  const std::string named = "account " + a.account_id +
                            (a.name.empty() ? "" : " (\"" + a.name + "\")") + " is " +
                            (a.account_type.empty() ? "of no stated type" : a.account_type);
  if (a.account_status != "Active")
    return named + " and " + (a.account_status.empty() ? "of no stated status" : a.account_status) +
           ": nothing can be invited or created in it until it is Active again";
  if (op == operation::invite && a.account_type != "Team")
    return named +
           ": InviteUsers works only on Team accounts. For an Enterprise account use "
           "`chime-onboard create-users` (CreateUser), or let users at its claimed domains sign "
           "in to join it";
  if (op == operation::create && (a.account_type == "Team" || a.account_type.empty()))
    return named +
           ": CreateUser needs an Enterprise account (EnterpriseDirectory, EnterpriseLWA or "
           "EnterpriseOIDC). For a Team account use `chime-onboard invite` (InviteUsers)";
  return {};
}

preflight_result run_preflight(const preflight_request& q) {
  return run_on_one_connection<preflight_result>(
      q, [&](transport& t) { return async_preflight(q, t); });
}

}  // namespace onboard
