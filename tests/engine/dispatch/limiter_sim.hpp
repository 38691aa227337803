// tests/engine/dispatch/limiter_sim.hpp: a deterministic discrete-event simulation of a fleet of
// senders pacing themselves against a throttling service, shared by the limiter tests and
// bench/limiter_sim_bench.cpp. The service is a token bucket (rate L, burst L) that answers 429
// when empty; C = max(32, 1.2 L) senders with an unlimited backlog each send one request at a time
// with latency U(lo, hi), the service deciding at half the latency. Two clients: the engine's
// limiters (a limiter_set, as rate_gate drives it), and a port of botocore's adaptive mode
// (research doc §1.3) to compare against.
//
//   sim::scenario sc{.limit = 50.0};
//   auto r = sim::run_proposed(sc, rate_limiter_config{});
//   EXPECT_GE(r.utilisation_2nd_half, 0.95);
#pragma once

#include <onboard/dispatch/limiter_set.hpp>
#include <onboard/dispatch/rate_limiter.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <vector>

namespace onboard::engine::sim {

// rng: splitmix64, so runs are identical on every standard library.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) {
    return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53);
  }

 private:
  std::uint64_t s_;
};

inline time_point at(double t) {
  return time_point{} + std::chrono::ceil<limiter_clock::duration>(seconds_d(
                            t));  // ceil: a wake time never rounds to before the instant it names
}

// scenario: one run.
struct scenario {
  double limit = 50.0;      // L, req/s; the service's burst is L too
  double duration = 120.0;  // s
  double halve_at = -1.0;   // if >= 0 the limit (and burst) halves at this time
  int senders = 0;          // 0 = max(32, 1.2 L)
  double latency_lo = 0.25, latency_hi = 0.55;
  double retry_after = 0.0;  // > 0: every 429 carries Retry-After of this many seconds
  std::uint64_t seed = 1;
  // schedule: from time t the limit becomes L (after halve_at, if both are given). Sorted by t.
  std::vector<std::pair<double, double>> schedule{};
  double burst_seconds = 1.0;  // the service's bucket holds this many seconds of its limit
  // partitions: k accounts; sender i belongs to partition i % k. They share the one service
  // bucket, unless `own_limits` gives each partition a bucket of its own (rate own_limits[i],
  // burst burst_seconds of it) instead: a service that limits each account separately.
  int partitions = 1;
  std::vector<double> own_limits{};
};

// result: what the tests assert on.
struct result {
  double utilisation_2nd_half = 0;  // accepted in (T/2, T] / (limit x T/2)
  double share_429_all = 0;         // 429s / requests
  double share_429_2nd_half = 0;    // same, requests sent in the second half
  double ramp_time =
      std::numeric_limits<double>::infinity();  // first t with accepted in (t-1, t] >= 0.9 L
  double util_after_halving_window = 0;         // accepted in (h+5, h+10] / (L/2 x 5)
  double util_after_halving_rest = 0;           // accepted in (h+10, T] / (L/2 x ...)
  double share_429_after_halving = 0;
  double max_sends_per_second = 0;     // max sends in any 1 s window (sliding over send times)
  double limit_integral = 0;           // requests the service would accept over [0, T]
  double utilisation_of_integral = 0;  // accepted / limit_integral
  std::uint64_t requests = 0, throttled = 0, accepted = 0;
  std::vector<std::uint64_t> accepted_by_partition;  // sender i counts for partition i % k
  std::vector<double> send_times, accept_times,
      throttle_send_times;  // throttle_: by send time, unsorted
};

// outcome of one attempt as the simulated service sees it.
enum class verdict : std::uint8_t { accepted, throttled };

// change_times: the instants in (from, to] at which the scenario's limit changes, ascending.
inline std::vector<double> change_times(const scenario& sc, double from, double to) {
  std::vector<double> out;
  if (sc.halve_at > from && sc.halve_at <= to) out.push_back(sc.halve_at);
  for (const auto& step : sc.schedule)
    if (step.first > from && step.first <= to) out.push_back(step.first);
  std::sort(out.begin(), out.end());
  return out;
}

// run: the event loop, generic over a Client with
//   std::optional<double> try_send(int sender, double now)   // nullopt = sent now; else wake time
//   void on_response(int sender, double now, verdict v, double retry_after)
//   double retry_delay(int attempt, rng&)                     // after a 429, before re-acquiring
template <class Client>
result run(const scenario& sc, Client& client) {
  const int c =
      sc.senders > 0 ? sc.senders : std::max(32, static_cast<int>(std::ceil(1.2 * sc.limit)));
  rng r(sc.seed);
  enum kind : std::uint8_t { wake, arrive, respond };
  struct event {
    double t;
    std::uint64_t seq;
    kind k;
    int sender;
    bool operator>(const event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
  };
  std::priority_queue<event, std::vector<event>, std::greater<>> q;
  std::uint64_t seq = 0;
  struct sender_state {
    double sent = 0, latency = 0;
    int attempt = 0;
    verdict v = verdict::accepted;
    bool second_half = false;
  };
  std::vector<sender_state> st(static_cast<std::size_t>(c));
  for (int i = 0; i < c; ++i) q.push({0.0, seq++, wake, i});

  // The limit in force at time t: the halving, then the schedule's last step at or before t.
  auto limit_at = [&sc](double t) {
    double l = sc.halve_at >= 0 && t >= sc.halve_at ? sc.limit / 2.0 : sc.limit;
    for (const auto& [from, to] : sc.schedule)
      if (t >= from) l = to;
    return l;
  };
  double limit = sc.limit, tokens = sc.limit * sc.burst_seconds, last = 0.0;
  result res;
  const int k = std::max(1, sc.partitions);
  res.accepted_by_partition.assign(static_cast<std::size_t>(k), 0);
  std::vector<double> own_tokens, own_last(sc.own_limits.size(), 0.0);
  for (const double own : sc.own_limits) own_tokens.push_back(own * sc.burst_seconds);
  std::uint64_t req_2nd = 0, thr_2nd = 0, req_after_h = 0, thr_after_h = 0;
  const double half = sc.duration / 2.0;

  while (!q.empty()) {
    event e = q.top();
    q.pop();
    if (e.t > sc.duration) break;
    auto& s = st[static_cast<std::size_t>(e.sender)];
    switch (e.k) {
      case wake: {
        if (auto w = client.try_send(e.sender, e.t)) {
          q.push({std::max(*w, e.t), seq++, wake, e.sender});
          break;
        }
        s.sent = e.t;
        s.latency = r.uniform(sc.latency_lo, sc.latency_hi);
        s.second_half = e.t > half;
        ++res.requests;
        res.send_times.push_back(e.t);
        if (s.second_half) ++req_2nd;
        if (sc.halve_at >= 0 && e.t > sc.halve_at) ++req_after_h;
        q.push({e.t + s.latency / 2.0, seq++, arrive, e.sender});
        break;
      }
      case arrive: {
        // Tokens accrue at the rate in force over each stretch since the last arrival.
        for (const double step : change_times(sc, last, e.t)) {
          tokens = std::min(limit * sc.burst_seconds, tokens + (step - last) * limit);
          last = step;
          limit = limit_at(step);
          tokens = std::min(tokens, limit * sc.burst_seconds);
        }
        tokens = std::min(limit * sc.burst_seconds, tokens + (e.t - last) * limit);
        const std::size_t part = static_cast<std::size_t>(e.sender % k);
        double* bucket = &tokens;
        if (!sc.own_limits.empty()) {
          const double own = sc.own_limits[part];
          own_tokens[part] =
              std::min(own * sc.burst_seconds, own_tokens[part] + (e.t - own_last[part]) * own);
          own_last[part] = e.t;
          bucket = &own_tokens[part];
        }
        last = e.t;
        if (*bucket >= 1.0) {
          *bucket -= 1.0;
          s.v = verdict::accepted;
          ++res.accepted;
          ++res.accepted_by_partition[part];
          res.accept_times.push_back(e.t);
        } else {
          s.v = verdict::throttled;
          ++res.throttled;
          res.throttle_send_times.push_back(s.sent);
          if (s.second_half) ++thr_2nd;
          if (sc.halve_at >= 0 && s.sent > sc.halve_at) ++thr_after_h;
        }
        q.push({s.sent + s.latency, seq++, respond, e.sender});
        break;
      }
      case respond: {
        client.on_response(e.sender, e.t, s.v, s.v == verdict::throttled ? sc.retry_after : 0.0);
        if (s.v == verdict::accepted) {
          s.attempt = 0;
          q.push({e.t, seq++, wake, e.sender});
        } else {
          ++s.attempt;
          q.push({e.t + client.retry_delay(s.attempt, r), seq++, wake, e.sender});
        }
        break;
      }
    }
  }

  auto count_in = [](const std::vector<double>& v, double a, double b) {
    return static_cast<double>(std::upper_bound(v.begin(), v.end(), b) -
                               std::upper_bound(v.begin(), v.end(), a));
  };
  const auto& acc = res.accept_times;
  res.utilisation_2nd_half = count_in(acc, half, sc.duration) / (sc.limit * (sc.duration - half));
  if (sc.halve_at >= 0)
    res.utilisation_2nd_half =
        count_in(acc, half, sc.duration) /
        (sc.limit * std::max(0.0, std::min(sc.halve_at, sc.duration) - half) +
         sc.limit / 2.0 * (sc.duration - std::max(half, sc.halve_at)));
  res.share_429_all =
      res.requests ? static_cast<double>(res.throttled) / static_cast<double>(res.requests) : 0;
  res.share_429_2nd_half =
      req_2nd ? static_cast<double>(thr_2nd) / static_cast<double>(req_2nd) : 0;
  for (std::size_t i = 0, j = 0; i < acc.size(); ++i) {
    while (acc[j] <= acc[i] - 1.0) ++j;
    if (static_cast<double>(i - j + 1) >= 0.9 * sc.limit) {
      res.ramp_time = acc[i];
      break;
    }
  }
  if (sc.halve_at >= 0) {
    double h = sc.halve_at, l2 = sc.limit / 2.0;
    res.util_after_halving_window = count_in(acc, h + 5.0, h + 10.0) / (l2 * 5.0);
    res.util_after_halving_rest =
        count_in(acc, h + 10.0, sc.duration) / (l2 * (sc.duration - h - 10.0));
    res.share_429_after_halving =
        req_after_h ? static_cast<double>(thr_after_h) / static_cast<double>(req_after_h) : 0;
  }
  // The integral of the limit, stepwise over its change times.
  {
    double t0 = 0.0;
    for (const double step : change_times(sc, 0.0, sc.duration)) {
      res.limit_integral += limit_at(t0) * (step - t0);
      t0 = step;
    }
    res.limit_integral += limit_at(t0) * (sc.duration - t0);
    if (!sc.own_limits.empty()) {
      res.limit_integral = 0;
      for (const double own : sc.own_limits) res.limit_integral += own * sc.duration;
    }
    res.utilisation_of_integral = static_cast<double>(res.accepted) / res.limit_integral;
  }
  const auto& snd = res.send_times;
  for (std::size_t i = 0, j = 0; i < snd.size(); ++i) {
    while (snd[j] <= snd[i] - 1.0) ++j;
    res.max_sends_per_second = std::max(res.max_sends_per_second, static_cast<double>(i - j + 1));
  }
  return res;
}

// botocore_client: a port of botocore's adaptive mode (adaptive.py, bucket.py, throttling.py as
// described in the research doc §1.3), for comparison only. The blocking TokenBucket.acquire is
// modelled as FIFO tickets (same throughput as the condition-variable wait, without simulating a
// thundering herd); retries use botocore standard's full jitter, base 1 s, cap 20 s, with no
// attempt cap (the batch is requeued).
class botocore_client {
 public:
  static constexpr double beta = 0.7, scale = 0.4, min_rate = 0.5, smoothing = 0.8, bucket_s = 0.5,
                          adjust_scale = 2.0;

  botocore_client() { set_max_rate(0.0, 1.0); }

  std::optional<double> try_send(int sender, double now) {
    if (!enabled_) return std::nullopt;  // acquire() is a no-op until the first throttle
    auto& t = ticket(sender);
    refill(now);
    if (t < 0) {
      debit_ += 1.0;
      t = debit_;
    }
    if (t <= credit_ + 1e-9) {
      t = -1;
      return std::nullopt;
    }
    return now + std::clamp((t - credit_) / fill_rate_, 1e-6, 0.1);
  }

  void on_response(int, double now, verdict v, double) {
    double m = record(now);
    double new_rate;
    if (v == verdict::accepted) {
      double dt = now - last_fail_;
      new_rate = scale * std::pow(dt - k_, 3.0) + w_max_;
    } else {
      double use = enabled_ ? std::min(m, fill_rate_) : m;
      w_max_ = use;
      k_ = std::cbrt(w_max_ * (1.0 - beta) / scale);
      last_fail_ = now;
      new_rate = use * beta;
      if (!enabled_) {
        // The bucket starts empty when it is first used.
        credit_ = debit_;
        last_refill_ = now;
      }
      enabled_ = true;
    }
    set_max_rate(now, std::min(new_rate, adjust_scale * m));
  }

  double retry_delay(int attempt, rng& r) {
    return r.uniform(0.0, std::min(std::pow(2.0, attempt - 1), 20.0));
  }

 private:
  // record: RateClocker.record(): responses per 0.5 s bucket, EMA 0.8.
  double record(double now) {
    double b = std::floor(now / bucket_s) * bucket_s;
    count_ += 1.0;
    if (b > last_bucket_) {
      double cur = count_ / (b - last_bucket_);
      measured_ = cur * smoothing + measured_ * (1.0 - smoothing);
      count_ = 0;
      last_bucket_ = b;
    }
    return measured_;
  }
  void refill(double now) {
    if (now > last_refill_)
      credit_ = std::min(credit_ + (now - last_refill_) * fill_rate_, debit_ + capacity_);
    last_refill_ = std::max(last_refill_, now);
  }
  // set_max_rate: TokenBucket.max_rate setter: fill = max(v, 0.5), capacity = max(v, 1).
  void set_max_rate(double now, double v) {
    refill(now);
    fill_rate_ = std::max(v, min_rate);
    capacity_ = std::max(v, 1.0);
    credit_ = std::min(credit_, debit_ + capacity_);
  }
  double& ticket(int i) {
    if (static_cast<std::size_t>(i) >= tickets_.size())
      tickets_.resize(static_cast<std::size_t>(i) + 1, -1.0);
    return tickets_[static_cast<std::size_t>(i)];
  }

  bool enabled_ = false;
  double fill_rate_ = 1.0, capacity_ = 1.0, credit_ = 0.0, debit_ = 0.0, last_refill_ = 0.0;
  double measured_ = 0.0, count_ = 0.0, last_bucket_ = 0.0;
  double w_max_ = 0.0, k_ = 0.0, last_fail_ = 0.0;
  std::vector<double> tickets_;
};

// proposed_client: the engine's limiters, driven as rate_gate drives them: k partitions
// (accounts of one API) behind one limiter_set, sender i in partition i % k.
class proposed_client {
 public:
  proposed_client(const rate_limiter_config& cfg, int k, const limiter_set_config& set_cfg = {})
      : set_(cfg, set_cfg) {
    for (int i = 0; i < k; ++i)
      names_.push_back(limit_partition("InviteUsers", "acct-" + std::to_string(i)));
  }

  std::optional<double> try_send(int sender, double now) {
    auto& s = slot(sender);
    const std::string& p = partition(sender);
    if (!s.res) s.res = set_.reserve(p, at(now));
    if (auto w = set_.wait_until(*s.res, at(now))) return seconds_d(*w - time_point{}).count();
    s.stamp = set_.on_send(p, *s.res, at(now));
    s.res.reset();
    return std::nullopt;
  }
  void on_response(int sender, double now, verdict v, double retry_after) {
    const std::string& p = partition(sender);
    set_.on_response(p, at(now), slot(sender).stamp,
                     v == verdict::accepted ? response_kind::success : response_kind::throttled);
    if (retry_after > 0) set_.on_retry_after(p, at(now), seconds_d(retry_after));
  }
  // retry_delay: §8: a throttled batch is requeued after U[0, min(0.1 x 2^(n-1), 5)] s; the
  // limiter does the pacing.
  double retry_delay(int attempt, rng& r) {
    return r.uniform(0.0, std::min(0.1 * std::pow(2.0, attempt - 1), 5.0));
  }
  const limiter_set& limiters() const { return set_; }

 private:
  struct sender_slot {
    std::optional<set_reservation> res;
    set_stamp stamp;
  };
  const std::string& partition(int sender) const {
    return names_[static_cast<std::size_t>(sender) % names_.size()];
  }
  sender_slot& slot(int i) {
    if (static_cast<std::size_t>(i) >= slots_.size())
      slots_.resize(static_cast<std::size_t>(i) + 1);
    return slots_[static_cast<std::size_t>(i)];
  }
  limiter_set set_;
  std::vector<std::string> names_;
  std::vector<sender_slot> slots_;
};

inline result run_proposed(const scenario& sc, const rate_limiter_config& cfg,
                           const limiter_set_config& set_cfg = {}) {
  proposed_client c(cfg, std::max(1, sc.partitions), set_cfg);
  return run(sc, c);
}

inline result run_botocore(const scenario& sc) {
  botocore_client c;
  return run(sc, c);
}

}  // namespace onboard::engine::sim
