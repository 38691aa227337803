// `chime-onboard export-users`: every user of an account, through ListUsers page by page
// (max-results 200, NextToken: ceil(U/200) requests for U users), to CSV or JSON Lines. The file
// holds addresses, so it is created 0600 and written whole or not at all (renamed into place).
#include <onboard/chime/user_page.hpp>
#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/service_get.hpp>
#include <onboard/core/text.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/io/durable_file.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/io/tls_context.hpp>
#include <onboard/signing/credential_provider.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <iostream>

namespace onboard {

namespace {

namespace net = boost::asio;

// attempts: a page is asked again on 429, 5xx and network failures (async_service_get).
constexpr int attempts = 5;

constexpr std::string_view columns[] = {
    "UserId",      "PrimaryEmail",         "UserType",
    "LicenseType", "UserInvitationStatus", "UserRegistrationStatus",
    "InvitedOn"};

void write_user(std::string& out, const chime::listed_user& u, bool csv) {
  const std::string_view cells[] = {u.user_id,      u.primary_email,     u.user_type,
                                    u.license_type, u.invitation_status, u.registration_status,
                                    u.invited_on};
  for (std::size_t i = 0; i < std::size(cells); ++i) {
    if (csv) {
      if (i) out.push_back(',');
      csv_cell(out, cells[i]);
    } else {
      out += i ? ",\"" : "{\"";
      out += columns[i];
      out += "\":";
      json_string(out, cells[i]);
    }
  }
  out += csv ? "\n" : "}\n";
}

// export_result: users written, or why the listing stopped (and the exit code for it).
struct export_result {
  std::uint64_t users = 0, pages = 0;
  int exit = exit_ok;
  std::string problem;
};

net::awaitable<export_result> async_export(transport& t, const signing::signer& signer,
                                           const std::string& account,
                                           const std::function<void(std::string_view)>& sink,
                                           bool csv) {
  export_result res;
  std::string next, buf;
  do {
    const std::string path = chime::user_page_target(account, chime::user_page_max, next);
    exchange_result r = co_await async_service_get(t, signer, path, attempts);
    if (!r.ok()) {
      res.exit = r.failure->certificate_refused() ? exit_config : exit_service;
      res.problem = "ListUsers: no answer from the service (" + r.failure->message + ")";
      co_return res;
    }
    if (r.response.status != 200) {
      auto e = chime::decode_error(r.response.status, r.response.header("x-amzn-ErrorType"),
                                   r.response.body);
      const unsigned st = r.response.status;
      res.exit = st == 429 || st >= 500 ? exit_service : exit_config;
      res.problem = "ListUsers of account " + account + " refused (" + std::to_string(st) + " " +
                    e.code + ": " + e.message + ")" +
                    (st == 403 ? "; the credentials need the IAM permission chime:ListUsers" : "");
      co_return res;
    }
    auto page = chime::decode_user_page(r.response.body);
    if (!page) {
      res.exit = exit_service;
      res.problem = "ListUsers page " + std::to_string(res.pages + 1) + ": " + page.error;
      co_return res;
    }
    ++res.pages;
    buf.clear();
    for (const auto& u : page.value->users) write_user(buf, u, csv);
    sink(buf);
    res.users += page.value->users.size();
    next = std::move(page.value->next_token);
  } while (!next.empty());
  co_return res;
}

}  // namespace

int cmd_export_users(const args_t& args) {
  cli::parser p{"export-users",
                "Write every user of an account (ListUsers, 200 a page) as CSV or JSON Lines: "
                "UserId, PrimaryEmail, UserType, LicenseType, UserInvitationStatus, "
                "UserRegistrationStatus, InvitedOn. Reads only.",
                "chime-onboard export-users --account-id 12a3456b-7c89-012d-3456-78901e23fg45 "
                "--out members.csv"};
  auto& account = p.add_value("account-id", "ID", "the Chime account (required)");
  auto& output = p.add_value("output", "FORMAT", "csv or jsonl", "csv");
  auto& out =
      p.add_value("out", "FILE", "write here (created 0600, replaced whole); - is stdout", "-");
  auto& profile = p.add_value("profile", "NAME", "AWS profile (else AWS_PROFILE, else default)");
  auto& region = p.add_value("region", "REGION", "signing region");
  auto& endpoint = p.add_value("endpoint-url", "URL", "API endpoint");
  auto& ca_bundle = p.add_value("ca-bundle", "PEM", "trusted CAs");
  auto& no_verify = p.add_flag("no-verify-ssl", "do not check the server's certificate");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (account.value().empty()) return p.usage_error("--account-id is required");
  if (output.value() != "csv" && output.value() != "jsonl")
    return p.usage_error("--output must be csv or jsonl, not '" + output.value() + "'");
  const bool csv = output.value() == "csv";

  const auto env = signing::process_environment();
  aws_settings s = resolve_aws_settings(
      {profile.value(), region.value(), endpoint.value(), ca_bundle.value(), ""}, env);
  auto ep = io::try_parse_endpoint(s.endpoint_url.value);
  if (!ep) return p.usage_error("--endpoint-url: " + ep.error);
  auto px = io::proxy_from_environment(*ep.value, env);
  auto fail = [](int code, const std::string& why) {
    std::cerr << "chime-onboard export-users: " << why << "\n";
    return code;
  };
  if (!px) return fail(exit_config, px.error);
  signing::resolve_options ro;
  ro.profile = profile.value();
  auto creds = resolve_run_credentials(ro, env);
  if (!creds) return fail(exit_config, creds.error);
  std::optional<net::ssl::context> tls;
  try {
    tls.emplace(io::make_client_tls_context({s.ca_bundle.value, !no_verify.given()}));
  } catch (const std::exception& e) {
    return fail(exit_config, std::string("TLS: ") + e.what());
  }

  std::optional<io::atomic_file> file;
  try {
    if (out.value() != "-") file.emplace(out.value());
  } catch (const std::exception& e) {
    return fail(exit_usage, "--out " + out.value() + ": " + e.what());
  }
  auto sink = [&](std::string_view b) {
    if (file)
      file->append(b);
    else
      std::cout.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  if (csv) {
    std::string head;
    for (auto c : columns) head += std::string(head.empty() ? "" : ",") + std::string(c);
    sink(head + "\n");
  }

  net::io_context ioc;
  io::connection_options copts;
  copts.proxy = px.value;
  https_transport t(ioc.get_executor(), *ep.value, *tls, copts);
  const signing::signer signer(signing::make_provider(std::move(creds)), s.signing_region.value,
                               "chime");
  export_result res;
  std::exception_ptr failure;
  net::co_spawn(ioc, async_export(t, signer, account.value(), sink, csv),
                [&](std::exception_ptr e, export_result r) {
                  failure = e;
                  res = std::move(r);
                });
  ioc.run();
  try {
    if (failure) std::rethrow_exception(failure);
    if (res.exit != exit_ok) return fail(res.exit, res.problem + "; nothing was written");
    if (file) file->commit();
    std::cout.flush();
  } catch (const std::exception& e) {
    return fail(exit_internal, e.what());
  }
  std::cerr << "exported " << res.users << " user" << (res.users == 1 ? "" : "s") << " of account "
            << account.value() << " in " << res.pages << " ListUsers request"
            << (res.pages == 1 ? "" : "s") << (file ? " to " + out.value() : std::string()) << "\n";
  return exit_ok;
}

}  // namespace onboard
