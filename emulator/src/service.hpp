// service.hpp: the Chime API logic of the emulator, free of sockets: routing, SigV4, accounts,
// the token bucket, fault draws, validation, the user store and the ledger. The session in
// server.cpp feeds it one parsed request at a time and writes what it returns.
//
//   service svc(opts);
//   auto call = svc.prepare(req, clock::now());        // route, auth, account, throttle
//   if (!call.done) { wait(svc.draw_latency(rng)); reply = svc.execute(call, req, rng); }
#pragma once

#include "user_store.hpp"

#include <onboard/emulator/server.hpp>
#include <onboard/signing/sigv4.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onboard::emulator::detail {

using rng_t = std::mt19937_64;

// counters: the live form of server_stats (relaxed atomics; read for reporting only).
struct counters {
  static constexpr int max_status = 600;
  std::array<std::atomic<std::uint64_t>, max_status> by_status{};
  std::atomic<std::uint64_t> requests{0}, invites_applied{0}, creates_applied{0},
      duplicates_applied{0}, failed_invites{0}, emails_failed{0}, reinvites_not_sent{0},
      wrong_account_refusals{0}, throttled{0}, dropped{0}, dropped_after_apply{0},
      connections_opened{0}, connections_active{0}, auth_failures{0}, timeouts{0};
  // By operation (indexed by `operation`): passed the token bucket, or refused by it.
  static constexpr std::size_t operations = 7;
  std::array<std::atomic<std::uint64_t>, operations> accepted_by_operation{},
      throttled_by_operation{};

  void count_status(unsigned status);
  server_stats snapshot() const;
};

// ledger: buffered append-only record of applied addresses; flush() is called on a timer, when
// the buffer grows, and at shutdown.
class ledger {
 public:
  explicit ledger(const std::string& path);  // throws std::runtime_error
  ~ledger();
  ledger(const ledger&) = delete;
  ledger& operator=(const ledger&) = delete;
  // append: one line per address, written together so a request's lines stay in apply order.
  void append(std::string_view op, std::string_view account,
              std::span<const std::string_view> addresses);
  void flush();

 private:
  void write_locked();
  int fd_ = -1;
  std::mutex mu_;
  std::string buf_;
};

// reply: what to send for one request. `error_type` is the modelled shape name (empty on success).
struct reply {
  unsigned status = 200;
  std::string body;
  std::string_view error_type;
  bool retry_after = false;  // add Retry-After when configured
  bool drop = false;         // close the connection without answering
  bool close = false;        // answer, then close
  bool count = true;         // counted in the stats (false for the stats endpoint)
  // A proxy's answer (the answer modes) is not Chime's: no request id, not JSON, maybe a
  // Location. Empty content_type means application/json.
  bool request_id = true;  // send x-amzn-RequestId
  std::string_view content_type;
  std::string_view location;
};

// request: one parsed HTTP request (views into the session's buffers).
struct request {
  std::string_view method;
  std::string_view target;
  std::span<const signing::header_view> headers;
  std::string_view body;
};

enum class operation {
  none,
  invite_users,
  create_user,
  list_users,
  get_account,
  list_accounts,
  batch_suspend_user,
};
std::string_view operation_name(operation op);  // "InviteUsers", ...; the api scope's key

struct account_state;

// call: the outcome of prepare(). `done` means `result` is the answer (error or stats).
struct call {
  bool done = false;
  reply result;
  operation op = operation::none;
  std::string account_id;  // decoded
  account_state* account = nullptr;
};

class service {
 public:
  explicit service(const server_options& opts);
  ~service();

  call prepare(const request& req, signing::clock::time_point now);
  std::chrono::microseconds draw_latency(rng_t& rng) const;
  reply execute(const call& c, const request& req, rng_t& rng);

  counters& stats() { return stats_; }
  const counters& stats() const { return stats_; }
  // snapshot: the counters with each account's accepted requests and the schedule's clock.
  server_stats snapshot() const;
  void flush_ledger();

 private:
  account_state* find_account(const std::string& id);
  bool take_token(const call& c);
  double seconds_since_start(std::chrono::steady_clock::time_point t) const;
  double rate_factor(double at) const;
  double scaled_seconds(double from, double to) const;
  std::string throttle_message(const call& c) const;
  std::optional<reply> account_refusal(const call& c);
  std::optional<reply> access_denied(operation op, std::string_view raw_id) const;
  reply get_account(const call& c);
  reply list_accounts(const request& req);
  reply invite_users(const call& c, const request& req, rng_t& rng, bool apply);
  reply create_user(const call& c, const request& req, bool apply);
  reply list_users(const call& c, const request& req);
  reply batch_suspend_user(const call& c, const request& req);
  std::optional<reply> answer_mode(const call& c, const request& req) const;
  std::optional<reply> applied_then_dropped(const call& c, const request& req, rng_t& rng);
  bool p_failed(rng_t& rng) const;
  bool draw(rng_t& rng, double p) const;
  bool refused_domain(std::string_view email) const;
  bool failing_domain(std::string_view body) const;

  server_options opts_;
  // expiry_: when each temporary credential set of --credentials-file expires.
  std::unordered_map<std::string, std::chrono::system_clock::time_point> expiry_;
  signing::verifier verifier_;
  counters stats_;
  std::unique_ptr<ledger> ledger_;
  mutable std::shared_mutex accounts_mu_;
  std::unordered_map<std::string, std::unique_ptr<account_state>> accounts_;
  // buckets_: the token buckets, by the throttle scope's key (an account, an API, or "").
  struct bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
  };
  std::mutex buckets_mu_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> invites_dropped_{0};  // drop_invites used so far
  std::unordered_map<std::string, bucket> buckets_;
  std::vector<const account_state*> account_order_;  // ListAccounts order; under accounts_mu_
};

// error_type_suffix: what follows the shape name in the real service's x-amzn-ErrorType.
inline constexpr std::string_view error_type_suffix =
    ":http://internal.amazon.com/coral/com.amazonaws.chime/";

// Helpers shared with the session and exercised directly by the tests.
bool matches_email_pattern(std::string_view s);  // `.+@.+\..+`, whole string, no line breaks
std::string percent_decode(std::string_view s, bool* ok);
std::string error_body(std::string_view code, std::string_view message);
reply make_error(unsigned status, std::string_view shape, std::string_view message);

}  // namespace onboard::emulator::detail
