// onboard/dispatch/retry_policy.hpp: what to do after each attempt of a batch: classify the outcome
// (HTTP status + error type, or how the transport failed), then decide retry / park / reconcile /
// stop, with full-jitter exponential backoff and a process-wide retry budget (AWS "retries 2.1"
// quota: 500 tokens, 14 per transient retry, 5 per throttled retry, refunded on success), so a
// dead service is not hammered. Pacing is rate_limiter's job: throttled retries wait only briefly.
//
//   retry_policy policy{retry_config{.max_attempts_transient = env_max_attempts}};
//   auto cls = classify_http(status, error_type, {operation::invite, batch.size()});
//   auto d = policy.decide(cls, batch.attempts, batch.age);
//   switch (d.what) { case retry_action::retry: requeue after d.delay, remember d.cost; ...
//                     case retry_action::park: requeue after d.delay without counting an attempt; }
//   on a later success: policy.on_success(last_cost);
#pragma once

#include <onboard/core/outcome.hpp>
#include <onboard/dispatch/rate_limiter.hpp>
#include <onboard/io/transport_error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>

namespace onboard::engine {

using retry_duration = std::chrono::duration<double>;

// retry_class: what an attempt's outcome means for the batch.
enum class retry_class : std::uint8_t {
  success,          // 2xx (per-address failures inside a 201 are the caller's business)
  retry_throttled,  // 429 / 509 / a throttling error code: the service pacing us; paced, resent
  retry_transient,  // not applied (connect failed, cut before the request was complete, 503,
                    // 408, clock-skew codes): safe to resend, counted against max attempts
  in_doubt,         // the service may have acted (500/502/504, reset/EOF/timeout after the request
             // was written): InviteUsers is not idempotent, so reconcile or accept duplicates
  fatal_auth,       // 401 / 403: credentials or permissions; retrying cannot help, stop the run
  fatal_not_found,  // 404: the Chime account does not exist; stop that account's work
  bisect,           // 400 on a multi-address batch: split it to isolate the bad address(es)
  conflict_exists,  // 409 on CreateUser (or a 1-address invite): the user already exists
  fatal_rejected,  // any other refusal (400 on one address, 413, 422, 501, ...): fail its addresses
  foreign,  // evidently not the service's answer (a 3xx; a page without x-amzn-RequestId): a proxy,
            // captive portal or wrong endpoint; nothing it says is about the addresses: stop
};

std::string_view to_string(retry_class c);

// request_context: what classification needs about the request.
struct request_context {
  operation op = operation::invite;
  std::size_t addresses = 1;
};

// classify_http: by status, refined by the error type (x-amzn-ErrorType or the body's code; the
// part before ':' is used). A throttling error code wins over the status (AWS sends some as 400).
// Chime redirects nothing, so a 3xx is foreign.
retry_class classify_http(int status, std::string_view error_type, const request_context& ctx);

// answer: what classification reads of a complete HTTP response.
struct answer {
  int status = 0;
  std::string_view error_type;  // x-amzn-ErrorType
  std::string_view request_id;  // x-amzn-RequestId
  std::string_view body;
};
// classify_answer: classify_http, once the answer is known to be the service's. It is evidently
// not (foreign) when it is a 3xx, or a 2xx or 4xx other than 429 that carries no x-amzn-RequestId
// and no JSON body: a captive portal's page, a proxy's refusal. Reading such a page as the
// service's would count it as invited (2xx) or bisect and fail every address (400). 5xx and 429
// keep their meaning whoever sent them: a gateway's 502 is still worth a retry.
retry_class classify_answer(const answer& a, const request_context& ctx);
// foreign_answer: a 2xx, 3xx or 4xx other than 429 without x-amzn-RequestId or a JSON body, which
// classify_answer calls `foreign` (as it does any 3xx).
bool foreign_answer(const answer& a);
// expired_credentials: the service refused the request because the credentials it was signed
// with have expired (ExpiredToken, ExpiredTokenException, or a 4xx saying the security token
// is expired): not applied, and worth one refresh of the credentials and one more try.
bool expired_credentials(const answer& a);
// classify_transport: a request that got no complete HTTP response: in_doubt when io says it may
// have been applied (transport_error::in_doubt), else retry_transient.
retry_class classify_transport(const io::transport_error& e);
// to_response_kind: what the rate limiter should be told about a classified HTTP answer: 503 is
// `unavailable`, any other retry_throttled is `throttled`, 2xx `success`, the rest `other_error`.
// For a transport error pass status 0.
response_kind to_response_kind(int status, retry_class c);

// retry_action: the decision.
enum class retry_action : std::uint8_t {
  done,       // success: nothing to do
  retry,      // resend after `delay` (counts an attempt; pass `cost` to on_success later)
  park,       // retry budget empty: requeue after `delay` without counting an attempt
  reconcile,  // in doubt and the policy is to check (ListUsers) before resending
  give_up,    // fatal, or attempts/deadline exhausted: fail (or bisect) per the class
  stop,       // retry budget empty and the service has answered nothing since this work first
              // failed: it is down, and waiting for the budget to refill would wait for nothing
};

// retry_decision: what decide() returns.
struct retry_decision {
  retry_action what = retry_action::done;
  retry_duration delay{0};
  unsigned cost = 0;  // tokens taken from the budget for this retry
};

// retry_config: every number with why.
struct retry_config {
  // max_attempts_transient: attempts (first try included) for transient and resent in-doubt
  // failures; AWS_MAX_ATTEMPTS overrides it (read by the caller). 10 with base 0.5 s / cap 20 s
  // rides out ~45 s of outage on average (~90 s at most), longer than a typical load-balancer
  // failover, without holding a batch for minutes.
  unsigned max_attempts_transient = 10;
  // max_attempts_throttled: 0 = unlimited. A throttle is the service pacing us, not a failure;
  // only the deadline stops a throttled batch.
  unsigned max_attempts_throttled = 0;
  // deadline: the longest a batch keeps retrying after its first attempt (throttled or parked).
  retry_duration deadline{30.0 * 60.0};
  // outage_limit: the longest the service may answer nothing but failures (5xx, the network;
  // throttles are answers) before the run stops, nothing marked failed. The budget below ends a
  // storm of fast failures sooner (~5 s); this bounds the slow ones: a 503 storm makes the rate
  // gate send one request in 5 s, at which the budget alone would last minutes. 15 s rides out a
  // load balancer's failover; an outage longer than that is better resumed than waited out.
  retry_duration outage_limit{15.0};
  // transient_base / transient_cap: full jitter U[0, min(cap, base 2^(n-1))] for retry n. 0.5 s
  // base (§8; the SDKs' 50 ms suits single calls, not a bulk job that loses nothing by waiting)
  // and the SDKs' 20 s cap.
  retry_duration transient_base{0.5};
  retry_duration transient_cap{20.0};
  // throttled_base / throttled_cap: short (0.1 s .. 5 s): the rate limiter already slows the
  // partition; this only de-synchronises the retried batches.
  retry_duration throttled_base{0.1};
  retry_duration throttled_cap{5.0};
  // budget_capacity / transient_cost / throttled_cost / success_refund: AWS retries 2.1 quota. A
  // transient retry costs 14, so ~35 in a row exhaust it; a throttled one 5 (throttles are
  // expected in bulk work and paced anyway). Success refunds the last retry's cost, or 1 for a
  // first-try success, so a healthy service refills it.
  unsigned budget_capacity = 500;
  unsigned transient_cost = 14;
  unsigned throttled_cost = 5;
  unsigned success_refund = 1;
  // park_min / park_max: an empty budget parks the batch U(5, 15) s: long enough for successes
  // elsewhere to refill the budget, jittered so parked batches do not return together.
  retry_duration park_min{5.0};
  retry_duration park_max{15.0};
  // resend_in_doubt: false = reconcile (ListUsers) before resending an in-doubt batch; true =
  // treat it as transient and accept possible duplicate invitation emails.
  bool resend_in_doubt = false;
  // seed: jitter RNG seed; 0 = from std::random_device.
  std::uint64_t seed = 0;
};

// retry_policy: thread-safe (a mutex held for a few instructions); one per process or per run.
class retry_policy {
 public:
  explicit retry_policy(const retry_config& cfg = {});

  // decide: after attempt number `attempts` (1 = the first try) failed with `c`, `age` after the
  // batch's first attempt. `answered`: the service is still answering some requests (with
  // anything but a 5xx or a transport failure); without that, an empty budget means the service
  // is down (stop) rather than busy failing elsewhere (park, for successes to refill it).
  retry_decision decide(retry_class c, unsigned attempts, retry_duration age, bool answered = true);
  // on_success: a batch succeeded; `last_cost` is the cost of the retry that preceded it (0 when
  // it succeeded on the first try).
  void on_success(unsigned last_cost);

  // backoff: the jittered delay before retry number `retry` (>= 1) of class c, without touching
  // the budget: U[0, min(cap, base 2^(retry-1))].
  retry_duration backoff(retry_class c, unsigned retry);
  // backoff_bound: the upper end of that interval.
  retry_duration backoff_bound(retry_class c, unsigned retry) const;

  unsigned budget() const;
  const retry_config& config() const { return cfg_; }

 private:
  double uniform01();  // mutex_ held

  retry_config cfg_;
  mutable std::mutex mutex_;
  unsigned budget_;
  std::mt19937_64 rng_;
};

// parse_http_date: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", plus the obsolete RFC 850
// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" that RFC 9110 says a
// recipient must accept. nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s);

// parse_retry_after: the pause a response asks for: `Retry-After` (delta-seconds or an HTTP-date,
// RFC 9110 §10.2.3, relative to `now`) and `x-amz-retry-after` (milliseconds). When both are
// valid the longer wins (each is a floor); garbage and empty values are ignored; a date in the
// past gives 0. Values are capped at one day here; rate_limiter caps the pause further.
std::optional<retry_duration> parse_retry_after(std::string_view retry_after,
                                                std::string_view x_amz_retry_after,
                                                std::chrono::system_clock::time_point now);

}  // namespace onboard::engine
