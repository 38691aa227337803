// onboard/dispatch/rate_limiter.hpp: the adaptive send-rate controller for one throttle scope
// (partition, e.g. one AWS account + operation). Pure: no I/O, no clock reads, no threads. Every
// call is told the time, so tests drive it with a fake clock and rate_gate drives it with
// steady_clock under a mutex.
//
// It is a token bucket in reservation form (tickets may run ahead of the tokens; the caller sleeps
// until its ticket is covered), whose rate is learned from the service's answers because Chime
// publishes no TPS quota (shared/research/retry-ratelimit.md §6, §8):
//   slow start (x2 every 0.5 s while the limiter is the bottleneck) -> first 429 -> one
//   multiplicative cut per episode -> scale-free CUBIC growth back to and past W_max (goodput at
//   the cut), clamped to [r_min, 2·goodput] and to the user's --rate ceiling.
//
//   #include <onboard/dispatch/retry_policy.hpp>
//   // given: time_point now, time_point sleep_until(time_point), std::string_view retry_after
//   rate_limiter lim{rate_limiter_config{}, now};
//   auto res = lim.reserve(now);
//   while (auto wake = lim.wait_until(res, now)) now = sleep_until(*wake);  // re-timed on change
//   auto stamp = lim.on_send(now);
//   ... send, then:
//   lim.on_response(now, stamp, response_kind::throttled);
//   auto wall = std::chrono::system_clock::now();
//   if (auto ra = parse_retry_after(retry_after, "", wall)) lim.on_retry_after(now, *ra);
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>

namespace onboard::engine {

using limiter_clock = std::chrono::steady_clock;
using time_point = limiter_clock::time_point;
using seconds_d = std::chrono::duration<double>;

// response_kind: what one sent request told the limiter.
enum class response_kind : std::uint8_t {
  success,      // 2xx: counts toward goodput, the only evidence of what the service accepts
  throttled,    // 429 (or a throttling error code): congestion, cut by beta_throttle
  unavailable,  // 503: congestion too, cut harder (beta_unavailable) and feeds the breaker
  other_error,  // anything else (4xx, 500, transport): no rate signal, releases the slot only
};

// rate_limiter_config: the knobs. Defaults are the tuned constants; each says why it has its value.
// Simulation numbers below come from tests/engine/dispatch/limiter_sim.hpp (server token bucket
// rate L, burst L, C = max(32, 1.2L) senders, latency U(0.25, 0.55) s); see
// bench/limiter_sim_bench.cpp.
struct rate_limiter_config {
  // adaptive: learn the rate (default). false = a plain token bucket at `rate` / `burst` that only
  // honours Retry-After; for a known, dedicated quota.
  bool adaptive = true;
  // rate: --rate. Adaptive: a ceiling the learned rate never exceeds (0 = none). Non-adaptive:
  // the fixed rate (must be > 0).
  double rate = 0.0;
  // burst: --burst B, tokens the bucket may hold. 0 = auto: max(1, burst_seconds * rate). Small
  // on purpose: an idle bucket must not release a wave bigger than the service's own burst.
  double burst = 0.0;
  // burst_seconds: auto burst as a time at the current rate. 0.2 s (§8) instead of botocore's 1 s:
  // the service's burst is unknown, and in-flight requests already smooth the load.
  double burst_seconds = 0.2;

  // start_rate: first rate, req/s (2 = 100 invites/s). Low because the first seconds are blind;
  // slow start reaches 500 rps in ~4 s anyway (~1 s near the service, see slow_start_rtts).
  double start_rate = 2.0;
  // slow_start_interval: the rate doubles once per interval while no throttle has been seen and
  // reservations had to wait (the limiter, not the caller's backlog, was the bottleneck). 0.5 s is
  // about one round trip over the internet, so each doubling is (mostly) seen by the service
  // before the next; it is also the interval until the first latency sample.
  double slow_start_interval = 0.5;
  // The interval shrinks to slow_start_rtts round trips (p95 latency, mean + 2 deviations) when
  // the service answers faster, down to slow_start_min_interval: what a doubling needs is that
  // the service has seen the previous rate and its answer is back, which near the service (a
  // data-centre client, the emulator) takes milliseconds, not half a second.
  double slow_start_rtts = 4.0;
  double slow_start_min_interval = 0.1;

  // beta_throttle: the multiplicative cut on a 429 episode. 0.9 rather than CUBIC's 0.7: the cut
  // is applied to measured goodput (already <= the limit), not to the overshooting send rate, and
  // only once per episode, so a mild cut suffices; 0.7 costs ~10% utilisation in the simulation.
  double beta_throttle = 0.9;
  // beta_unavailable: the cut on a 503 episode. A 503 means the service itself is struggling, so
  // back off harder, as TCP does on loss versus ECN.
  double beta_unavailable = 0.7;
  // cubic_c: relative CUBIC scale, s^-3: r(t) = W_max (1 + c (t - t_cut - K)^3). 0.002 makes the
  // shape independent of the rate (botocore's absolute 0.4 rps/s^3 is far too slow at 500 rps and
  // too fast at 5): back at W_max ~3.7 s after a cut, +10% at ~7.4 s, +50% at ~10 s, so a halved
  // or doubled limit is found again within ~10 s.
  double cubic_c = 0.002;
  // cubic_min_k_requests: K is at least this many requests at W_max (K >= n / W_max), with c
  // lowered to match for that episode. Every probing episode costs at least one 429 however small
  // the overshoot, so at low rates a scale-free period makes 429s a large share (5 rps: 5.1% of
  // requests with a 3.7 s K). 30 requests stretches K to 6 s at 5 rps (4.0%) and changes nothing
  // above 8 rps; 40+ lowered 429s further but slowed re-convergence at 2.5 rps below 90%.
  double cubic_min_k_requests = 30.0;
  // reprobe_factor: once CUBIC has grown past reprobe_factor x W_max with no 429, the limit has
  // moved up (or W_max was measured low): go back to slow start and double per round trip while
  // the limiter is the bottleneck, instead of CUBIC's slow convex climb (from 10 to 40 req/s
  // takes it ~15 s). Above the usual overshoot (a 429 arrives by ~1.05 W_max at a steady limit).
  double reprobe_factor = 1.1;
  // reprobe_growth: the re-probe's growth per step (gentler than slow start's doubling: the
  // limit was found once, so it is likely near), one step per reprobe_rtts round trips (p95),
  // so that each step's answers are back before the next.
  double reprobe_growth = 1.5;
  double reprobe_rtts = 2.0;
  // min_rate: floor, req/s. 0.2 keeps probing (one request per 5 s) after a collapse.
  double min_rate = 0.2;
  // goodput_clamp: the rate never exceeds this multiple of measured goodput once out of slow
  // start: growth must be backed by accepted requests (an idle caller must not bank a high rate).
  double goodput_clamp = 2.0;
  // goodput_window_min / goodput_window_requests: G is 2xx responses over
  // max(goodput_window_min, goodput_window_requests / rate): at least ~3 responses, so a slow
  // partition does not estimate from one or two samples, and at least 2 s (§8 says 1 s): when a
  // probe overshoots, the service's burst drains into the last second and a 1 s G overestimates
  // the limit; with 2 s the 429 share fell from 2.1% to 1.4% at 50 rps and re-convergence after a
  // halving at 5 rps rose from 80% to 96% of the new limit.
  double goodput_window_min = 2.0;
  double goodput_window_requests = 3.0;

  // throttle_pause: after a cut, every sender of the partition waits this long (the gate). The
  // 429 arrives one round trip after the overshoot, so the service's bucket is in deficit; a pause
  // of ~0.2 s lets it refill and drains the 429s already in flight, without idling long enough for
  // the service's bucket to overflow (it holds ~1 s of tokens in the model).
  double throttle_pause = 0.2;

  // breaker_threshold / breaker_window / breaker_share: >= 5 503s within 10 s (§8) that are also
  // at least half of the answers in that window open the circuit breaker. Without the share, a
  // fast partition (300 req/s) trips on a 0.2% error rate and idles for seconds at a time.
  int breaker_threshold = 5;
  double breaker_window = 10.0;
  double breaker_share = 0.5;
  // unavailable_cut_share / unavailable_min_count: a 503 cuts the rate (beta_unavailable) only when
  // 503s are >= 10% of the answers over the breaker window and at least 3: below that they are
  // noise that retries absorb, not a sign the service is overloaded by us.
  double unavailable_cut_share = 0.1;
  double unavailable_min_count = 3;
  // breaker_pause_min / _max: an open breaker pauses the partition U(5, 10) s, then lets exactly
  // one probe through; the probe's success closes it. Jittered so processes sharing a service do
  // not probe in lock step.
  double breaker_pause_min = 5.0;
  double breaker_pause_max = 10.0;

  // retry_after_cap: a Retry-After longer than 60 s is capped; the job deadline, not one header,
  // decides whether to wait that long.
  double retry_after_cap = 60.0;
  // retry_after_jitter: the pause is RA x (1 + U[0, 0.1]) so that processes told the same date do
  // not all return in the same millisecond.
  double retry_after_jitter = 0.1;

  // inflight_factor / initial_latency: in-flight cap = ceil(rate x p95 latency x 1.5) + 1. It only
  // binds when latency grows by half (the service is slowing down), bounding the requests exposed
  // to one throttling episode. Before any response the latency is assumed to be 1 s.
  double inflight_factor = 1.5;
  double initial_latency = 1.0;
  // inflight_poll: how often a sender blocked by the in-flight cap (or by a half-open breaker)
  // looks again. Short against a round trip; a poll costs one timer wake-up.
  double inflight_poll = 0.01;
  // recheck_interval: the longest a waiting reservation sleeps before re-timing itself, so a rate
  // increase (slow start, CUBIC) is picked up by senders that reserved under the old rate.
  double recheck_interval = 0.1;

  // seed: for the jitter of the breaker pause and of Retry-After (tests pass a fixed one).
  std::uint64_t seed = 0x6c696d69746572ULL;
};

// send_stamp: what on_send returns and on_response needs back: the send time (for latency) and
// the cut epoch the request was sent in (a throttle of a request sent before the last cut is part
// of the episode already answered, so it does not cut again).
struct send_stamp {
  time_point sent{};
  std::uint64_t epoch = 0;
  bool probe = false;  // the half-open breaker's single probe
};

// reservation: one ticket in the bucket. `at` is the estimated send time; the authority is
// wait_until(), which re-times the ticket as the rate or the gate changes.
struct reservation {
  double ticket = 0.0;
  time_point at{};
};

// limiter_phase: for observability.
enum class limiter_phase : std::uint8_t { fixed, slow_start, cubic };

// rate_limiter: one partition's controller. Not thread-safe (rate_gate serialises it).
class rate_limiter {
 public:
  rate_limiter(const rate_limiter_config& cfg, time_point start);

  // reserve: takes a ticket. The caller may send at `at` if nothing changes; it must confirm with
  // wait_until() before sending and call cancel() if it gives up.
  reservation reserve(time_point now);
  // wait_until: nullopt = send now (then call on_send at once); otherwise sleep until the returned
  // time (at most recheck_interval ahead) and ask again.
  std::optional<time_point> wait_until(const reservation& r, time_point now);
  // cancel: give back a ticket that will not be used, so the sender behind it moves up.
  void cancel(const reservation& r, time_point now);

  // on_send: records a send; returns the stamp for on_response.
  send_stamp on_send(time_point now);
  // on_response: records the answer to a request sent with `stamp`.
  void on_response(time_point now, const send_stamp& stamp, response_kind kind);
  // on_abandon: a request that was granted but never sent (cancelled): releases its slot.
  void on_abandon(const send_stamp& stamp);
  // on_retry_after: the service asked for a pause; it pauses the whole partition (a floor).
  void on_retry_after(time_point now, seconds_d delay);

  // Observability: values as of the last call.
  double rate() const { return rate_; }    // current send rate, req/s
  double w_max() const { return w_max_; }  // goodput at the last cut, req/s
  double goodput(time_point now) const;    // 2xx per second over the goodput window
  time_point gate_until() const { return gate_until_; }
  limiter_phase phase() const { return phase_; }
  std::uint64_t epoch() const { return epoch_; }  // number of cuts so far
  int in_flight() const { return in_flight_; }
  int in_flight_cap() const;
  double burst() const;
  double latency_p95() const { return lat_mean_ + 2.0 * lat_dev_; }
  bool breaker_open(time_point now) const;
  // counters
  std::uint64_t sent() const { return sent_; }
  std::uint64_t successes() const { return successes_; }
  std::uint64_t throttles() const { return throttles_; }
  std::uint64_t unavailables() const { return unavailables_; }
  std::uint64_t cuts() const { return epoch_; }

 private:
  void advance(time_point now);
  void refill(time_point now);
  void update_rate(time_point now);
  void cut(time_point now, double beta, time_point sent);
  double slow_start_floor(time_point sent) const;
  double goodput_window() const;
  double clamp_rate(double r, time_point now) const;
  // doubling_interval: slow start's current doubling period (see slow_start_rtts).
  double doubling_interval() const;
  double uniform(double lo, double hi);

  rate_limiter_config cfg_;
  time_point start_;
  time_point last_;      // credit accrued up to here
  double credit_ = 0.0;  // tokens ever added (monotone)
  double debit_ = 0.0;   // tickets ever issued
  double rate_;
  limiter_phase phase_;
  time_point next_double_;  // slow start: next doubling check
  bool limited_ = false;    // a reservation had to wait since the last doubling check
  // slow start's recent levels (start time, rate), newest last: a 429 names the level in force
  // when its request was sent, and the level before that one is the floor the service took.
  std::deque<std::pair<time_point, double>> ss_levels_;
  bool reprobing_ = false;  // slow start re-entered from CUBIC (gentler steps)
  double w_max_ = 0.0;
  time_point t_cut_{};
  double k_ = 0.0;  // CUBIC K, s
  double c_ = 0.0;  // CUBIC c for this episode (cubic_c, or lower at low rates)
  std::uint64_t epoch_ = 0;
  time_point gate_until_{};
  std::deque<time_point> successes_at_;         // 2xx times within the longest goodput window
  std::deque<time_point> unavailable_at_;       // 503 times within the breaker window
  std::deque<time_point> recent_successes_at_;  // 2xx times within the breaker window
  // closed: normal; open: paused until gate_until_, then the next send is the probe; probing: the
  // probe is in flight and nobody else may send.
  enum class breaker_state : std::uint8_t {
    closed,
    open,
    probing
  } breaker_ = breaker_state::closed;
  int in_flight_ = 0;
  double lat_mean_;
  double lat_dev_;
  bool lat_seen_ = false;
  std::uint64_t sent_ = 0, successes_ = 0, throttles_ = 0, unavailables_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace onboard::engine
