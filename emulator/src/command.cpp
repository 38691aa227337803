// command.cpp: `chime-emulator` / `chime-onboard emulator`. Flags are parsed here by hand because
// onboard_emulator must not depend on onboard_engine (where the shared parser lives).
#include <onboard/emulator/command.hpp>
#include <onboard/emulator/server.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <pthread.h>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace onboard::emulator {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_usage = 2;
constexpr int exit_config = 6;

constexpr const char* usage_text =
    R"(usage: chime-emulator [options]      (also: chime-onboard emulator [options])

A local Amazon Chime service (InviteUsers, CreateUser, ListUsers, BatchSuspendUser, GetAccount,
ListAccounts) over HTTPS with SigV4 verification, for the engine, its tests, the demo and
benchmarks. The first line on stdout is
`listening on https://HOST:PORT`. SIGINT/SIGTERM stop it cleanly (ledger flushed, exit 0).

network and TLS:
  --listen HOST:PORT        address to serve (default 127.0.0.1:8443; port 0 = ephemeral)
  --cert FILE --key FILE    PEM certificate chain and key; without them a self-signed EC P-256
                            certificate (SAN IP:127.0.0.1, DNS:localhost, CA:TRUE) is generated
  --write-ca FILE           write the certificate clients should trust (use as --ca-bundle)
  --threads N               server threads (default 1)

credentials (SigV4, service chime, region us-east-1, 5-minute clock skew):
  --access-key ID           accepted access key id (default AKIDEXAMPLE)
  --secret-key KEY          its secret (default wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY)
  --session-token TOKEN     also require this X-Amz-Security-Token
  --credentials-file FILE   also accept these temporary credentials: a JSON array of objects as
                            credential_process prints them; once a set's Expiration has passed,
                            its requests get 403 ExpiredTokenException
  --max-skew-seconds N      allowed clock skew (default 300)
  Missing or malformed signatures -> 403 ForbiddenException; unknown key, wrong secret or
  wrongly scoped signatures -> 401 UnauthorizedClientException; a signing time outside the
  allowed skew -> 403 InvalidSignatureException "Signature expired: ..." (with Date).

service behaviour:
  --accounts A,B,...        the accounts that exist (default: any id, each a Team account) -> else
                            404 NotFoundException. Each is ID[:TYPE[:STATUS[:NAME]]], TYPE one of
                            Team (default), EnterpriseDirectory, EnterpriseLWA, EnterpriseOIDC,
                            STATUS Active (default) or Suspended; e.g. acct-1,acct-2:EnterpriseLWA
                            GetAccount and ListAccounts show them; InviteUsers on a non-Team
                            account and anything written to a Suspended one -> 403 Forbidden
  --wrong-type-refusal 403|400
                            how InviteUsers on a non-Team account is refused (default 403
                            ForbiddenException; 400 BadRequestException "Service received a bad
                            request")
  --refuse-create-on-team   CreateUser on a Team account -> 400 BadRequestException; no value
  --deny-action ACTION      the credentials lack this IAM action (chime:GetAccount,
                            chime:ListUsers, chime:InviteUsers, ...) -> 403 ForbiddenException,
                            Code AccessDenied (repeatable)
  --reinvite MODE           InviteUsers of an address already in the account: email-again
                            (default; Pending/Sent, counted in duplicates_applied), accepted
                            (Status Accepted, EmailStatus NotSent) or not-sent (Pending/NotSent)
  --rate R --burst B        token bucket per throttle scope, R requests/s, bucket B
                            (default R) -> 429 ThrottledClientException
  --throttle-scope SCOPE    what one bucket limits: account (default; one per Chime
                            account), api (one per API, shared by every account) or
                            global (one for every request)
  --account-rate ID=R       with the account scope, account ID's bucket refills at R/s
                            (bucket max(1, R)) whatever --rate is (repeatable)
  --api-rate API=R          requests to operation API (InviteUsers, CreateUser, ListUsers,
                            GetAccount, BatchSuspendUser) draw from a bucket of their own at
                            R/s (bucket max(1, R)) whatever --rate is: per account and API with
                            the account scope, per API with api or global (repeatable). With
                            --account-rate for the same account the smaller rate holds; the
                            other operations keep the scope's bucket at --rate
  --rate-schedule T:R[,T:R...]
                            from T seconds after start, every bucket refills at R/--rate times
                            its rate, and its size scales alike: a bucket at --rate refills at
                            R/s (--account-rate and --api-rate buckets in proportion). Times
                            strictly increasing; needs --rate. E.g. --rate 20
                            --rate-schedule 20:10,40:40: 20/s, then 10/s at 20 s, 40/s at 40 s
  --retry-after SECONDS     send Retry-After on 429 and 503
  --latency-ms MEAN         answer after uniform [1-J, 1+J] x MEAN milliseconds (async wait)
  --latency-jitter J        J above, 0 <= J < 1 (default 0.5); a far-away service:
                            --latency-ms 400 --latency-jitter 0.25
  --p503 P                  probability of 503 ServiceUnavailableException (not applied)
  --p500 P                  probability of 500 ServiceFailureException (not applied)
  --p-drop P                probability of closing the connection without an answer; half of
                            the dropped requests are applied first (the in-doubt case)
  --drop-invites N          the first N InviteUsers that would be applied are applied, then
                            their connection closed without an answer: N batches in doubt
  --p-failed-invite P       per address: Status/EmailStatus Failed, not applied
  --p-email-failed P        per address: Status Pending, EmailStatus Failed (added, no email)
  --refuse-domain DOMAIN    InviteUsers naming an address at DOMAIN is refused with 400
                            BadRequestException (repeatable; a policy refusal for tests)
  --seed N                  fault RNG seed; connection k uses seed+k (default: random)
  --ledger FILE             one line per applied address: invite|create<TAB>account<TAB>address
                            (created 0600, truncated at start, flushed every 100 ms and at exit)

answer modes (every request they cover; drawn after the 503/500 faults, draw no RNG):
  --list-users-fault MODE   how every ListUsers answers: none (default); 500, 400 or 404 (the
                            modelled ServiceFailureException, BadRequestException,
                            NotFoundException); html (200 text/html page without
                            x-amzn-RequestId: a captive portal); 302 (redirect with Location,
                            without x-amzn-RequestId: a proxy)
  --invite-fault MODE       how every InviteUsers answers: none (default); 302 or html (as
                            above, not applied); omit_last (applied in full, but the 201's
                            Invites leaves out the batch's last address); 400 (every request
                            400 BadRequestException "Service received a bad request", not
                            applied: a systemic refusal)
  --fail-domain DOMAIN      InviteUsers naming an address at DOMAIN gets 500
                            ServiceFailureException every time and is not applied (repeatable;
                            checked before validation; a persistent failure to bisect)
  --pending-without-email   ListUsers leaves PrimaryEmail out of users whose invitation is
                            pending (the user-email filter still finds them); takes no value

limits:
  --idle-timeout-ms N       keep-alive connection without a request (default 30000)
  --request-timeout-ms N    TLS handshake / reading a started request (default 10000)
  --max-header-bytes N      larger headers -> 431 (default 16384)
  --max-body-bytes N        larger bodies -> 413 (default 1048576)

GET /_emulator/stats returns JSON counters (unsigned): requests by status, requests accepted
and throttled by the token buckets per operation, accepted per account, and `seconds` since
start (the --rate-schedule clock).

example:
  chime-emulator --listen 127.0.0.1:0 --write-ca /tmp/ca.pem --accounts acct-1 \
      --rate 20 --burst 40 --p503 0.01 --seed 7 --ledger /tmp/ledger.tsv
  AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
  aws chime invite-users --account-id acct-1 --user-email-list a@example.com \
      --endpoint-url https://127.0.0.1:PORT --ca-bundle /tmp/ca.pem --region us-east-1
)";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T parse_number(std::string_view flag, const std::string& v, T lo, T hi) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc{} || p != v.data() + v.size() || out < lo || out > hi) {
    throw usage_error(std::string(flag) + ": expected a number between " + std::to_string(lo) +
                      " and " + std::to_string(hi) + ", got '" + v + "'");
  }
  return out;
}

double parse_probability(std::string_view flag, const std::string& v) {
  return parse_number<double>(flag, v, 0.0, 1.0);
}

std::vector<std::string> split(const std::string& v, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    auto at = v.find(sep, start);
    out.push_back(v.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

// account_of: one --accounts item, ID[:TYPE[:STATUS[:NAME]]].
account_spec account_of(const std::string& item) {
  auto parts = split(item, ':');
  account_spec a(parts[0]);
  if (parts[0].empty()) throw usage_error("--accounts: empty account id in '" + item + "'");
  if (parts.size() > 1 && !parts[1].empty()) {  // empty: the default
    auto t = parse_account_type(parts[1]);
    if (!t)
      throw usage_error("--accounts " + item + ": account type '" + parts[1] +
                        "' is not one of Team, EnterpriseDirectory, EnterpriseLWA, EnterpriseOIDC");
    a.type = *t;
  }
  if (parts.size() > 2 && !parts[2].empty()) {
    auto st = parse_account_status(parts[2]);
    if (!st)
      throw usage_error("--accounts " + item + ": account status '" + parts[2] +
                        "' is not Active or Suspended");
    a.status = *st;
  }
  for (std::size_t k = 3; k < parts.size(); ++k)  // a name may itself hold ':'
    a.name += (k > 3 ? ":" : "") + parts[k];
  return a;
}

std::vector<account_spec> split_accounts(const std::string& v) {
  std::vector<account_spec> out;
  for (const auto& item : split(v, ','))
    if (!item.empty()) out.push_back(account_of(item));
  if (out.empty()) throw usage_error("--accounts: expected a comma-separated list of account ids");
  return out;
}

std::string lower_domain(const std::string& v) {
  std::string d = v;
  for (auto& c : d) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return d;
}

// parse_mode: `v` looked up among a flag's (name, mode) pairs; the usage error lists them.
template <class Mode, std::size_t N>
Mode parse_mode(std::string_view flag, const std::string& v,
                const std::pair<std::string_view, Mode> (&modes)[N]) {
  std::string names;
  for (const auto& [name, mode] : modes) {
    if (name == v) return mode;
    names += names.empty() ? "" : "|";
    names += name;
  }
  throw usage_error(std::string(flag) + ": expected one of " + names + ", got '" + v + "'");
}

constexpr std::pair<std::string_view, list_users_fault_mode> list_users_modes[] = {
    {"none", list_users_fault_mode::none},      {"500", list_users_fault_mode::status_500},
    {"html", list_users_fault_mode::html},      {"400", list_users_fault_mode::status_400},
    {"404", list_users_fault_mode::status_404}, {"302", list_users_fault_mode::redirect_302}};

constexpr std::pair<std::string_view, invite_fault_mode> invite_modes[] = {
    {"none", invite_fault_mode::none},
    {"302", invite_fault_mode::redirect_302},
    {"html", invite_fault_mode::html},
    {"omit_last", invite_fault_mode::omit_last},
    {"400", invite_fault_mode::status_400}};

constexpr std::pair<std::string_view, wrong_type_refusal> wrong_type_modes[] = {
    {"403", wrong_type_refusal::forbidden_403}, {"400", wrong_type_refusal::bad_request_400}};

constexpr std::pair<std::string_view, throttle_scope> throttle_scopes[] = {
    {"account", throttle_scope::account},
    {"api", throttle_scope::api},
    {"global", throttle_scope::global}};

constexpr std::pair<std::string_view, reinvite_mode> reinvite_modes[] = {
    {"email-again", reinvite_mode::email_again},
    {"accepted", reinvite_mode::accepted},
    {"not-sent", reinvite_mode::not_sent}};

// The operations a bucket can limit (ListAccounts names no account and is never throttled).
constexpr std::string_view throttled_operations[] = {"InviteUsers", "CreateUser", "ListUsers",
                                                     "GetAccount", "BatchSuspendUser"};

void parse_api_rate(const std::string& v, server_options& o) {
  auto eq = v.rfind('=');
  if (eq == std::string::npos || eq == 0)
    throw usage_error("--api-rate: expected API=RATE (e.g. InviteUsers=20), got '" + v + "'");
  const std::string api = v.substr(0, eq);
  std::string names;
  for (auto n : throttled_operations) {
    if (n == api) {
      o.api_rates[api] = parse_number<double>("--api-rate " + api, v.substr(eq + 1), 0.0, 1e9);
      return;
    }
    names += names.empty() ? "" : ", ";
    names += n;
  }
  throw usage_error("--api-rate: '" + api + "' in '" + v + "' is not one of " + names);
}

// parse_rate_schedule: T:R[,T:R...], times strictly increasing, nothing negative.
std::vector<std::pair<double, double>> parse_rate_schedule(const std::string& v) {
  std::vector<std::pair<double, double>> steps;
  for (const auto& item : split(v, ',')) {
    auto colon = item.find(':');
    auto number = [&](const std::string& text) {
      double out = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
      if (ec != std::errc{} || p != text.data() + text.size() || text.empty() || out < 0 ||
          out > 1e9)
        throw usage_error("--rate-schedule: item '" + item +
                          "': expected SECONDS:RATE, both numbers >= 0");
      return out;
    };
    if (colon == std::string::npos)
      throw usage_error("--rate-schedule: item '" + item + "': expected SECONDS:RATE");
    const double at = number(item.substr(0, colon)), rate = number(item.substr(colon + 1));
    if (!steps.empty() && at <= steps.back().first)
      throw usage_error("--rate-schedule: item '" + item + "' is not after the item before (" +
                        std::to_string(steps.back().first) + " s): times must increase");
    steps.emplace_back(at, rate);
  }
  return steps;
}

void parse_listen(const std::string& v, server_options& o) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw usage_error("--listen: expected HOST:PORT (e.g. 127.0.0.1:0), got '" + v + "'");
  std::string host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  o.listen_host = host;
  o.listen_port = parse_number<std::uint16_t>("--listen", v.substr(colon + 1), 0, 65535);
}

struct parsed {
  server_options opts;
  std::string write_ca;
  bool help = false;
};

parsed parse_args(const std::vector<std::string>& args) {
  parsed p;
  p.opts.listen_port = 8443;
  auto& o = p.opts;
  using handler = std::function<void(const std::string&)>;
  auto ms = [](const char* f, std::chrono::milliseconds& out) {
    return [f, &out](const std::string& v) {
      out = std::chrono::milliseconds(parse_number<long long>(f, v, 1, 86'400'000));
    };
  };
  const std::map<std::string, handler, std::less<>> flags = {
      {"--listen", [&](const std::string& v) { parse_listen(v, o); }},
      {"--cert", [&](const std::string& v) { o.cert_file = v; }},
      {"--key", [&](const std::string& v) { o.key_file = v; }},
      {"--write-ca", [&](const std::string& v) { p.write_ca = v; }},
      {"--threads",
       [&](const std::string& v) { o.threads = parse_number<int>("--threads", v, 1, 256); }},
      {"--access-key", [&](const std::string& v) { o.access_key = v; }},
      {"--secret-key", [&](const std::string& v) { o.secret_key = v; }},
      {"--session-token", [&](const std::string& v) { o.session_token = v; }},
      {"--credentials-file", [&](const std::string& v) { o.credentials_file = v; }},
      {"--max-skew-seconds",
       [&](const std::string& v) {
         o.max_skew =
             std::chrono::seconds(parse_number<long long>("--max-skew-seconds", v, 1, 86400));
       }},
      {"--accounts", [&](const std::string& v) { o.accounts = split_accounts(v); }},
      {"--rate",
       [&](const std::string& v) { o.rate = parse_number<double>("--rate", v, 0.0, 1e9); }},
      {"--burst",
       [&](const std::string& v) { o.burst = parse_number<double>("--burst", v, 1.0, 1e9); }},
      {"--throttle-scope",
       [&](const std::string& v) { o.scope = parse_mode("--throttle-scope", v, throttle_scopes); }},
      {"--account-rate",
       [&](const std::string& v) {
         auto eq = v.rfind('=');
         if (eq == std::string::npos || eq == 0)
           throw usage_error("--account-rate: expected ID=RATE (e.g. acct-2=2), got '" + v + "'");
         o.account_rates[v.substr(0, eq)] =
             parse_number<double>("--account-rate", v.substr(eq + 1), 0.0, 1e9);
       }},
      {"--api-rate", [&](const std::string& v) { parse_api_rate(v, o); }},
      {"--rate-schedule", [&](const std::string& v) { o.rate_schedule = parse_rate_schedule(v); }},
      {"--latency-jitter",
       [&](const std::string& v) {
         o.latency_jitter = parse_number<double>("--latency-jitter", v, 0.0, 0.999999);
       }},
      {"--drop-invites",
       [&](const std::string& v) {
         o.drop_invites = parse_number<std::uint64_t>("--drop-invites", v, 0, UINT64_MAX);
       }},
      {"--retry-after",
       [&](const std::string& v) {
         o.retry_after_seconds = parse_number<int>("--retry-after", v, 0, 86400);
       }},
      {"--latency-ms",
       [&](const std::string& v) {
         o.latency_ms = parse_number<double>("--latency-ms", v, 0.0, 600000.0);
       }},
      {"--p503", [&](const std::string& v) { o.p503 = parse_probability("--p503", v); }},
      {"--p500", [&](const std::string& v) { o.p500 = parse_probability("--p500", v); }},
      {"--p-drop", [&](const std::string& v) { o.p_drop = parse_probability("--p-drop", v); }},
      {"--p-failed-invite",
       [&](const std::string& v) {
         o.p_failed_invite = parse_probability("--p-failed-invite", v);
       }},
      {"--p-email-failed",
       [&](const std::string& v) { o.p_email_failed = parse_probability("--p-email-failed", v); }},
      {"--wrong-type-refusal",
       [&](const std::string& v) {
         o.wrong_type = parse_mode("--wrong-type-refusal", v, wrong_type_modes);
       }},
      {"--reinvite",
       [&](const std::string& v) { o.reinvite = parse_mode("--reinvite", v, reinvite_modes); }},
      {"--deny-action", [&](const std::string& v) { o.denied_actions.push_back(v); }},
      {"--refuse-domain",
       [&](const std::string& v) { o.refuse_domains.push_back(lower_domain(v)); }},
      {"--fail-domain", [&](const std::string& v) { o.fail_domains.push_back(lower_domain(v)); }},
      {"--list-users-fault",
       [&](const std::string& v) {
         o.list_users_fault = parse_mode("--list-users-fault", v, list_users_modes);
       }},
      {"--invite-fault",
       [&](const std::string& v) {
         o.invite_fault = parse_mode("--invite-fault", v, invite_modes);
       }},
      {"--seed",
       [&](const std::string& v) {
         o.seed = parse_number<std::uint64_t>("--seed", v, 0, UINT64_MAX);
       }},
      {"--ledger", [&](const std::string& v) { o.ledger_file = v; }},
      {"--idle-timeout-ms", ms("--idle-timeout-ms", o.idle_timeout)},
      {"--request-timeout-ms", ms("--request-timeout-ms", o.request_timeout)},
      {"--max-header-bytes",
       [&](const std::string& v) {
         o.max_header_bytes = parse_number<std::size_t>("--max-header-bytes", v, 1024, 1 << 20);
       }},
      {"--max-body-bytes",
       [&](const std::string& v) {
         o.max_body_bytes =
             parse_number<std::size_t>("--max-body-bytes", v, 1024, std::size_t{1} << 30);
       }},
  };
  // Flags that take no value.
  const std::map<std::string, std::function<void()>, std::less<>> switches = {
      {"--pending-without-email", [&] { o.pending_without_email = true; }},
      {"--refuse-create-on-team", [&] { o.refuse_create_on_team = true; }},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      p.help = true;
      return p;
    }
    std::string name = a, value;
    bool has_value = false;
    if (auto eq = a.find('='); a.starts_with("--") && eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    if (auto sw = switches.find(name); sw != switches.end()) {
      if (has_value) throw usage_error(name + ": takes no value");
      sw->second();
      continue;
    }
    auto it = flags.find(name);
    if (it == flags.end()) throw usage_error("unknown option '" + name + "' (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size()) throw usage_error(name + ": missing value");
      value = args[++i];
    }
    it->second(value);
  }
  if (o.cert_file.empty() != o.key_file.empty())
    throw usage_error("--cert and --key must be given together");
  if (o.burst > 0 && o.rate <= 0) throw usage_error("--burst needs --rate");
  if (!o.rate_schedule.empty() && o.rate <= 0)
    throw usage_error("--rate-schedule needs --rate (its steps scale the buckets from it)");
  return p;
}

}  // namespace

int cmd_emulator(const std::vector<std::string>& args) {
  parsed p;
  try {
    p = parse_args(args);
  } catch (const usage_error& e) {
    std::cerr << "chime-emulator: " << e.what() << "\n";
    return exit_usage;
  }
  if (p.help) {
    std::cout << usage_text;
    return exit_ok;
  }

  // Block the stop signals before any server thread exists so only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    server srv(p.opts);
    srv.start();
    if (!p.write_ca.empty()) {
      std::ofstream f(p.write_ca, std::ios::binary | std::ios::trunc);
      f << srv.ca_pem();
      if (!f.flush())
        throw std::runtime_error("--write-ca " + p.write_ca + ": cannot write the file");
    }
    std::cout << "listening on " << srv.url() << std::endl;
    std::cerr << "chime-emulator: seed " << (p.opts.seed ? std::to_string(*p.opts.seed) : "random")
              << ", threads " << p.opts.threads << ", accounts "
              << (p.opts.accounts.empty() ? std::string("any")
                                          : std::to_string(p.opts.accounts.size()))
              << "\n";
    int sig = 0;
    sigwait(&stop_signals, &sig);
    srv.stop();
    auto s = srv.stats();
    std::cerr << "chime-emulator: stopped by signal " << sig << "; " << s.requests << " requests, "
              << s.invites_applied << " invites and " << s.creates_applied << " creates applied\n";
    return exit_ok;
  } catch (const std::exception& e) {
    std::cerr << "chime-emulator: " << e.what() << "\n";
    return exit_config;
  }
}

}  // namespace onboard::emulator
