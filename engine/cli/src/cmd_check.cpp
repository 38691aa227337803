// `chime-onboard check`: the pre-flight of a run alone, printed: where the credentials, the
// endpoint and the region come from, whether TLS verified, the account's name, type and status,
// and whether the credentials may call ListUsers. Sends no write.
#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/preflight.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/io/tls_context.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <iostream>

namespace onboard {

namespace {

void line(std::string_view label, const std::string& text) {
  std::cout << "  " << label << std::string(label.size() < 12 ? 12 - label.size() : 1, ' ') << text
            << "\n";
}

}  // namespace

int cmd_check(const args_t& args) {
  cli::parser p{"check",
                "Check what a run needs before it starts: credentials, endpoint and region, TLS, "
                "the account (GetAccount: name, type, status) and the ListUsers permission "
                "(ListUsers with max-results=1). Nothing is written.",
                "chime-onboard check --account-id 12a3456b-7c89-012d-3456-78901e23fg45"};
  auto& account = p.add_value("account-id", "ID", "the Chime account to check");
  auto& op = p.add_value("operation", "OP",
                         "what the account must take: invite (a Team account) or create "
                         "(an Enterprise account)",
                         "invite");
  auto& profile = p.add_value("profile", "NAME", "AWS profile (else AWS_PROFILE, else default)");
  auto& region = p.add_value("region", "REGION", "signing region");
  auto& endpoint = p.add_value("endpoint-url", "URL", "API endpoint");
  auto& ca_bundle = p.add_value("ca-bundle", "PEM", "trusted CAs");
  auto& no_verify = p.add_flag("no-verify-ssl", "do not check the server's certificate");
  p.add_epilog(
      "exit codes: 0 all good; 2 usage; 6 something a run needs is missing or refused; "
      "7 the service could not be reached\n");
  if (auto rc = p.parse(args)) return *rc;
  if (account.value().empty()) return p.usage_error("--account-id is required");
  if (op.value() != "invite" && op.value() != "create")
    return p.usage_error("--operation must be invite or create");

  const auto env = signing::process_environment();
  aws_settings s = resolve_aws_settings(
      {profile.value(), region.value(), endpoint.value(), ca_bundle.value(), ""}, env);
  auto ep = io::try_parse_endpoint(s.endpoint_url.value);
  if (!ep) return p.usage_error("--endpoint-url: " + ep.error);
  std::cout << "chime-onboard check: account " << account.value() << "\n";
  line("endpoint", s.endpoint_url.value + " (from " + s.endpoint_url.source + ")");
  line("region", s.region.value + " (from " + s.region.source + ")");
  if (s.signing_region.value != s.region.value)
    line("signing", s.signing_region.value + " (" + s.signing_region.source + ")");
  auto px = io::proxy_from_environment(*ep.value, env);
  if (!px) {
    line("proxy", "NOT USABLE: " + px.error);
    return exit_config;
  }
  if (px.value) line("proxy", px.value->display + " (HTTPS_PROXY)");

  signing::resolve_options ro;
  ro.profile = profile.value();
  auto creds = resolve_run_credentials(ro, env, {s.ca_bundle.value, !no_verify.given()});
  if (!creds) {
    line("credentials", "NONE: " + creds.error);
    return exit_config;
  }
  line("credentials", "key id " + signing::key_id_hint(creds.value->access_key_id) + " from " +
                          creds.value->source);

  std::optional<boost::asio::ssl::context> tls;
  try {
    tls.emplace(io::make_client_tls_context({s.ca_bundle.value, !no_verify.given()}));
  } catch (const std::exception& e) {
    line("TLS", std::string("NOT READY: ") + e.what());
    return exit_config;
  }
  preflight_request q;
  q.op = op.value() == "invite" ? operation::invite : operation::create;
  q.account_id = account.value();
  q.endpoint = *ep.value;
  q.tls = &*tls;
  q.creds = signing::make_provider(std::move(creds));
  q.region = s.signing_region.value;
  q.proxy = px.value;
  q.probe_list_users = true;
  q.strict = true;
  auto f = run_preflight(q);
  if (f.clock_offset.count() != 0)
    line("clock", "off by " + std::to_string(f.clock_offset.count() / 1000) +
                      " s from the service's (its Date header); a run signs with its time");
  line("TLS", !f.reached ? "no answer"
              : no_verify.given()
                  ? "connected, certificate NOT verified (--no-verify-ssl)"
                  : "ok, certificate verified" + (s.ca_bundle.value.empty()
                                                      ? std::string(" (system CAs)")
                                                      : " (CA from " + s.ca_bundle.source + ")"));
  if (f.account) {
    const auto& a = *f.account;
    line("account",
         a.account_id + " \"" + a.name + "\": " + a.account_type + ", " + a.account_status);
  }
  if (f.list_users_allowed)
    line("ListUsers", *f.list_users_allowed ? "allowed (max-results=1)" : "NOT allowed");
  if (f.exit != exit_ok) {
    std::cout << "  problem     " << f.problem << "\n";
    return f.exit;
  }
  std::cout << "all good\n";
  return exit_ok;
}

}  // namespace onboard
