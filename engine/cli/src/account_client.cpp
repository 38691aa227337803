#include "account_client.hpp"

#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/service_get.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/io/tls_context.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <iostream>

namespace onboard {

namespace {

// attempts: a call is asked again on 429, 5xx and network failures (async_service_call).
constexpr int attempts = 5;

}  // namespace

connection_flags add_connection_flags(cli::parser& p) {
  connection_flags f{};
  f.profile = &p.add_value("profile", "NAME", "AWS profile (else AWS_PROFILE, else default)");
  f.region = &p.add_value("region", "REGION", "signing region");
  f.endpoint = &p.add_value("endpoint-url", "URL", "API endpoint");
  f.ca_bundle = &p.add_value("ca-bundle", "PEM", "trusted CAs");
  f.no_verify = &p.add_flag("no-verify-ssl", "do not check the server's certificate");
  return f;
}

int account_client::open(const connection_flags& f, const std::string& command) {
  auto fail = [&](int code, const std::string& why) {
    std::cerr << "chime-onboard " << command << ": " << why << "\n";
    return code;
  };
  const auto env = signing::process_environment();
  aws_settings s = resolve_aws_settings(
      {f.profile->value(), f.region->value(), f.endpoint->value(), f.ca_bundle->value(), ""}, env);
  auto ep = io::try_parse_endpoint(s.endpoint_url.value);
  if (!ep) return fail(exit_usage, "--endpoint-url: " + ep.error);
  auto px = io::proxy_from_environment(*ep.value, env);
  if (!px) return fail(exit_config, px.error);
  signing::resolve_options ro;
  ro.profile = f.profile->value();
  auto creds = resolve_run_credentials(ro, env);
  if (!creds) return fail(exit_config, creds.error);
  try {
    tls_.emplace(io::make_client_tls_context({s.ca_bundle.value, !f.no_verify->given()}));
  } catch (const std::exception& e) {
    return fail(exit_config, std::string("TLS: ") + e.what());
  }
  io::connection_options copts;
  copts.proxy = px.value;
  transport_ = std::make_unique<https_transport>(ioc_.get_executor(), *ep.value, *tls_, copts);
  signer_ = std::make_unique<signing::signer>(signing::make_provider(std::move(creds)),
                                              s.signing_region.value, "chime");
  return exit_ok;
}

call_result answer_problem(const exchange_result& r, unsigned expected, const std::string& what,
                           const std::string& action) {
  call_result res;
  if (!r.ok()) {
    res.exit = r.failure->certificate_refused() ? exit_config : exit_service;
    res.problem = what + ": no answer from the service (" + r.failure->message + ")";
    return res;
  }
  const unsigned st = r.response.status;
  if (st == expected) return res;
  auto e = chime::decode_error(st, r.response.header("x-amzn-ErrorType"), r.response.body);
  res.exit = st == 429 || st >= 500 ? exit_service : exit_config;
  res.problem = what + " refused (" + std::to_string(st) + " " + e.code + ": " + e.message + ")" +
                (st == 403 ? "; the credentials need the IAM permission " + action : "");
  return res;
}

boost::asio::awaitable<call_result> async_list_users(
    onboard::transport& t, const signing::signer& signer, const std::string& account,
    const std::function<void(const chime::user_page&)>& on_page) {
  call_result res;
  std::string next;
  do {
    const std::string path = chime::user_page_target(account, chime::user_page_max, next);
    exchange_result r = co_await async_service_get(t, signer, path, attempts);
    if (auto p = answer_problem(r, 200, "ListUsers of account " + account, "chime:ListUsers");
        p.exit != exit_ok)
      co_return p;
    auto page = chime::decode_user_page(r.response.body);
    if (!page) {
      res.exit = exit_service;
      res.problem = "ListUsers page " + std::to_string(res.pages + 1) + ": " + page.error;
      co_return res;
    }
    ++res.pages;
    on_page(*page.value);
    res.users += page.value->users.size();
    next = std::move(page.value->next_token);
  } while (!next.empty());
  co_return res;
}

}  // namespace onboard
