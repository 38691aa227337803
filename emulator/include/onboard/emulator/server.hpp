// onboard/emulator/server.hpp: the local Amazon Chime emulator (InviteUsers, CreateUser, ListUsers,
// GetAccount, ListAccounts) as an in-process HTTPS server. The real service is retired; this is
// what the engine, its tests, the demo and the benchmarks talk to, and it must look like Chime to
// the AWS CLI and boto3: SigV4 verification, modelled error shapes (`x-amzn-ErrorType` +
// `{"Code","Message"}`), 201s.
//
//   // given: void connect_client(const std::string& url, const std::string& ca_pem)
//   onboard::emulator::server_options o;
//   o.listen_host = "127.0.0.1";          // port 0 = ephemeral
//   o.accounts = {"acct-1"};              // empty = any account id exists
//   o.rate = 10; o.burst = 20;            // 429 ThrottledClientException beyond that, per account
//   onboard::emulator::server srv(std::move(o));
//   srv.start();                          // binds and serves on o.threads threads
//   connect_client(srv.url(), srv.ca_pem());  // "https://127.0.0.1:PORT", the CA to trust
//   ...
//   auto s = srv.stats();                 // counters, e.g. s.invites_applied
//   srv.stop();                           // graceful; flushes the ledger
//
// Decisions (also in `chime-emulator --help`):
// - Order of checks per request: route (404 UnknownOperationException) -> SigV4 -> account
//   (404 NotFoundException) -> token bucket (429) -> latency -> 503 -> 500 -> answer modes
//   (list_users_fault, invite_fault 302/html, fail_domains) -> account type and status (403/400)
//   -> drop -> validation (400) -> apply.
//   So a 500 or 503 is never applied; a dropped request is applied first with probability 1/2
//   (the in-doubt case for resume). The answer modes draw nothing from the fault RNG, so a seed
//   gives the same 503/500 sequence with or without them; a request they answer is not dropped.
// - Auth: no usable signature (missing/malformed Authorization, unsupported algorithm, missing or
//   malformed date, host not signed, a signed header absent, wrong service/terminator) is
//   403 ForbiddenException; a signature that parses but is refused (unknown access key, wrong
//   secret, wrong scope date or region, session token) is 401 UnauthorizedClientException; a
//   signing time outside the allowed skew is 403 InvalidSignatureException "Signature expired:
//   ..." / "Signature not yet current: ...", as the real front end answers it.
// - Addresses are unique per account case-insensitively; re-inviting applies again (counted in
//   `duplicates_applied`); CreateUser on an existing address is 409 ConflictException.
// - Errors carry `x-amzn-ErrorType: <Shape>:http://internal.amazon.com/coral/com.amazonaws.chime/`
//   as the real front end sends it (botocore and the engine keep the text before the ':').
// - Accounts have a type and a status (account_spec). InviteUsers is for Team accounts only (the
//   InviteUsers reference); on another type it is refused as wrong_type_refusal says. No public
//   record shows the real answer to InviteUsers on a non-Team account; the two shapes the service
//   is known to give for an operation of the wrong account type are a 403 ForbiddenException
//   "Chime Account provided is not an Enterprise Chime Account[AWS Account ID: ..][Chime Account
//   ID: ..]" (aws/aws-sdk-ruby#2201, a Team account on an enterprise-only operation) and a 400
//   BadRequestException "Service received a bad request" (boto/boto3#2384, CreateUser on a Team
//   account); the 403 form mirrored for Team is the default. A Suspended account refuses
//   InviteUsers and CreateUser with 403 ForbiddenException (an emulator decision: no public
//   record).
// - Ledger line per applied address: `invite|create <TAB> account <TAB> address` ('\t' and '\\'
//   inside a field are written as `\t` and `\\`).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::emulator {

// list_users_fault_mode: how every ListUsers is answered (server_options::list_users_fault).
enum class list_users_fault_mode {
  none,          // normal
  status_500,    // 500 ServiceFailureException (modelled body, request id)
  html,          // 200 text/html page, no x-amzn-RequestId (a captive proxy)
  status_400,    // 400 BadRequestException
  status_404,    // 404 NotFoundException
  redirect_302,  // 302 with Location, text/html, no x-amzn-RequestId (a proxy's redirect)
};

// invite_fault_mode: how every InviteUsers is answered (server_options::invite_fault).
enum class invite_fault_mode {
  none,          // normal
  redirect_302,  // 302 with Location, no x-amzn-RequestId; not applied
  html,          // 200 text/html page, no x-amzn-RequestId; not applied
  omit_last,     // applied in full, but the 201's Invites leaves out the batch's last address
  status_400,    // 400 BadRequestException, one message for every request; not applied (a
                 // systemic refusal, as the real service gives a non-Team account)
};

// account_type, account_status: the model's AccountType and AccountStatus enums.
enum class account_type { team, enterprise_directory, enterprise_lwa, enterprise_oidc };
enum class account_status { active, suspended };
std::string_view to_string(account_type t);  // "Team", "EnterpriseDirectory", ...
std::string_view to_string(account_status s);
std::optional<account_type> parse_account_type(std::string_view s);  // the model's spelling
std::optional<account_status> parse_account_status(std::string_view s);

// account_spec: one Chime account that exists. An empty name reads "Account <id>".
struct account_spec {
  std::string id;
  account_type type = account_type::team;
  account_status status = account_status::active;
  std::string name;

  account_spec(std::string account_id) : id(std::move(account_id)) {}  // NOLINT: Team, Active
  account_spec(const char* account_id) : id(account_id) {}             // NOLINT
  account_spec(std::string account_id, account_type t, account_status s = account_status::active,
               std::string n = {})
      : id(std::move(account_id)), type(t), status(s), name(std::move(n)) {}
};

// wrong_type_refusal: how InviteUsers on a non-Team account is refused (see the decisions above).
enum class wrong_type_refusal {
  forbidden_403,    // 403 ForbiddenException "Chime Account provided is not a Team Chime Account.."
  bad_request_400,  // 400 BadRequestException "Service received a bad request"
};

// reinvite_mode: what InviteUsers answers for an address already in the account.
enum class reinvite_mode {
  email_again,  // Status Pending, EmailStatus Sent: emailed again (counted in duplicates_applied)
  accepted,     // Status Accepted, EmailStatus NotSent: a member; nothing sent, nothing applied
  not_sent,     // Status Pending, EmailStatus NotSent: nothing sent, nothing applied
};

// throttle_scope: what one token bucket limits (the real service's scope is not documented, so
// a client must cope with each).
enum class throttle_scope {
  account,  // one bucket per Chime account: a throttled account never slows another
  api,      // one bucket per API (InviteUsers, ListUsers, ...), shared by every account
  global,   // one bucket for every request to every account
};

// server_options: everything the server can be told. Defaults give a well-behaved service.
struct server_options {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;  // 0 = ephemeral; see server::port()

  // TLS: both PEM files, or neither (then a self-signed EC P-256 certificate with SAN
  // IP:127.0.0.1 and DNS:localhost and CA:TRUE is generated at start; ca_pem() returns it).
  std::string cert_file;
  std::string key_file;

  // Accepted credentials (SigV4, service "chime", region "us-east-1").
  std::string access_key = "AKIDEXAMPLE";
  std::string secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::string session_token;  // when set, requests must carry it as X-Amz-Security-Token
  // credentials_file: more accepted credentials, a JSON array of objects shaped as
  // credential_process prints them (AccessKeyId, SecretAccessKey, SessionToken, Expiration). A
  // request signed with a set whose Expiration has passed is refused as the real service refuses
  // expired temporary credentials: 403 ExpiredTokenException.
  std::string credentials_file;
  std::string region = "us-east-1";
  std::chrono::seconds max_skew{300};

  // The accounts that exist, in ListAccounts order. Empty: every account id exists, as a Team
  // account (Active), listed by ListAccounts once it has been named in a request.
  std::vector<account_spec> accounts;
  std::string aws_account_id = "111122223333";  // Account.AwsAccountId
  wrong_type_refusal wrong_type = wrong_type_refusal::forbidden_403;
  // refuse_create_on_team: CreateUser on a Team account gets 400 BadRequestException "Service
  // received a bad request" (boto/boto3#2384). Off by default: most tests use one account for
  // both operations.
  bool refuse_create_on_team = false;
  reinvite_mode reinvite = reinvite_mode::email_again;
  // denied_actions: IAM actions these credentials lack ("chime:GetAccount", "chime:ListUsers",
  // ...): a call to one is 403 ForbiddenException with Code AccessDenied and IAM's "is not
  // authorized to perform" message, checked right after the signature.
  std::vector<std::string> denied_actions;

  // Token bucket per throttle scope (tokens per second, bucket size); rate <= 0 disables it.
  double rate = 0;
  double burst = 0;  // 0 with rate > 0 means max(1, rate)
  throttle_scope scope = throttle_scope::account;
  // account_rates: with the account scope, these accounts' buckets refill at their own rate
  // (bucket max(1, rate)), whatever `rate` is: one account held back beside unthrottled ones.
  std::map<std::string, double> account_rates;
  // api_rates: by operation name (InviteUsers, ListUsers, ...). Requests to such an operation
  // draw from a bucket of their own within the scope's key (per account and API with the account
  // scope, per API with the api and global scopes) refilling at that rate (bucket max(1, rate)),
  // whatever `rate` is; the other operations keep the scope's bucket at `rate`. With an
  // account_rates entry too, the smaller rate holds. AWS documents Chime's limits per API.
  std::map<std::string, double, std::less<>> api_rates;
  // rate_schedule: (seconds after the server was built, rate) steps, sorted by time. From each
  // step on, every bucket's refill and size is scaled by rate / `rate`, so a bucket at `rate`
  // refills at the step's rate (account_rates and api_rates buckets in proportion). Needs
  // rate > 0. A limit that moves while a client runs (the service shedding load, then
  // recovering).
  std::vector<std::pair<double, double>> rate_schedule;
  std::optional<int> retry_after_seconds;  // `Retry-After` on 429 and 503 when set

  // Faults, drawn from a per-connection RNG seeded with seed + connection index (0-based, in
  // accept order), so a run over one connection is reproducible.
  double latency_ms = 0;        // mean; each request waits uniform [1-j, 1+j] x mean (async timer)
  double latency_jitter = 0.5;  // j above, in [0, 1)
  double p503 = 0;              // ServiceUnavailableException, not applied
  double p500 = 0;              // ServiceFailureException, not applied
  double p_drop = 0;            // close without answering; applied first with probability 1/2
  // drop_invites: the first N InviteUsers that would be applied are applied and then their
  // connection closed without an answer: N batches in doubt, every one applied, on demand (a
  // resume must find them with ListUsers and send none again).
  std::uint64_t drop_invites = 0;
  double p_failed_invite = 0;  // per address Status/EmailStatus Failed, not applied
  double p_email_failed = 0;   // per address Status Pending, EmailStatus Failed: applied, no email
  std::vector<std::string> refuse_domains;  // lower-case; InviteUsers with such an address -> 400
  std::optional<std::uint64_t> seed;        // none: random

  // Answer modes: deterministic (every request they cover, no RNG draw), applied after the
  // 503/500 draws. They model answers a client must not mistake for what it hoped for, so the
  // engine's correctness tests can prove it neither loses nor double-counts an address.
  //
  // list_users_fault: every ListUsers gets this answer instead of its user list. ListUsers is
  // how the engine settles in-doubt addresses; none of these answers may be read as "absent"
  // (which would re-send) or "present" (which would skip): a 500 or 400/404 is an error to
  // retry or report, and a 200 or 302 that is not Chime's JSON (a captive portal or proxy in the
  // path, recognisable by the missing request id and the content type) is no answer at all.
  list_users_fault_mode list_users_fault = list_users_fault_mode::none;
  // invite_fault: every InviteUsers gets this answer. 302 and html model a proxy that answers
  // before Chime sees the request (not applied): a client must not count a 2xx/3xx without
  // Chime's JSON as invited. omit_last models a 201 listing fewer invites than addresses sent:
  // the engine must not mark the unlisted address invited (nor lose it) on the response's word.
  invite_fault_mode invite_fault = invite_fault_mode::none;
  // fail_domains: lower-case; an InviteUsers naming an address at such a domain gets 500
  // ServiceFailureException every time and is not applied. Unlike p500 the failure persists
  // for that address, so retrying the batch never helps: the engine must isolate the address by
  // bisection and still deliver the rest of its batch.
  std::vector<std::string> fail_domains;
  // pending_without_email: ListUsers leaves PrimaryEmail out of users whose invitation is
  // still pending (the Admin Guide: a pending Team invitee's details may not show until they
  // accept). The user-email filter still finds them, so a verify by address that reads
  // PrimaryEmail rather than the filtered result would miss an applied invite.
  bool pending_without_email = false;

  std::string ledger_file;  // empty: no ledger. Created 0600, truncated at start.
  std::chrono::milliseconds ledger_flush_interval{100};

  int threads = 1;

  // Abuse limits.
  std::chrono::milliseconds idle_timeout{30000};     // keep-alive connection with no request
  std::chrono::milliseconds request_timeout{10000};  // TLS handshake; a started request to be read
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds shutdown_grace{3000};  // in-flight requests may finish within this
};

// server_stats: counters since start. `requests_by_status` counts answered API requests (the
// stats endpoint itself is not counted); drops are in `dropped` only.
struct server_stats {
  std::map<int, std::uint64_t> requests_by_status;
  std::uint64_t requests = 0;
  std::uint64_t invites_applied = 0;
  std::uint64_t creates_applied = 0;
  std::uint64_t duplicates_applied = 0;  // an address applied more than once to the same account
  std::uint64_t failed_invites = 0;      // per-address Failed (p_failed_invite)
  std::uint64_t emails_failed = 0;       // per-address EmailStatus Failed (p_email_failed)
  std::uint64_t reinvites_not_sent = 0;  // members answered Accepted/NotSent (reinvite_mode)
  std::uint64_t wrong_account_refusals = 0;  // refused for the account's type or status
  std::uint64_t throttled = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dropped_after_apply = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_active = 0;
  std::uint64_t auth_failures = 0;
  std::uint64_t timeouts = 0;  // connections closed by the idle/request timeouts
  // By operation name (InviteUsers, ...) and by account id: requests that passed the token
  // bucket (whatever they were answered after it), and those it refused with 429. A bench reads
  // the accepted rate per API and each account's share of a shared limit from them.
  std::map<std::string, std::uint64_t> accepted_by_operation;
  std::map<std::string, std::uint64_t> throttled_by_operation;
  std::map<std::string, std::uint64_t> accepted_by_account;
  double seconds = 0;  // since the server was built (the rate schedule's clock)
};

// stats_json: the JSON served at GET /_emulator/stats.
std::string stats_json(const server_stats& s);

// server: construct (validates options and builds the TLS context; throws std::runtime_error
// with a message naming the problem), start(), then stop(). Not copyable.
class server {
 public:
  explicit server(server_options opts);
  ~server();  // stop()
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // start: binds (throws std::runtime_error on failure) and runs `threads` threads.
  void start();

  std::uint16_t port() const;
  std::string url() const;            // https://HOST:PORT
  const std::string& ca_pem() const;  // the certificate clients should trust
  server_stats stats() const;

  // stop: stops accepting, lets in-flight requests finish (bounded by shutdown_grace), closes
  // idle connections, joins the threads and flushes the ledger. Idempotent. Must not be called
  // from one of the server's own threads.
  void stop();

  // wait: blocks until the server has stopped (by stop() from another thread).
  void wait();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace onboard::emulator
