#include <onboard/dispatch/rate_limiter.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace onboard::engine {

namespace {

double secs(time_point a, time_point b) { return seconds_d(a - b).count(); }

time_point plus(time_point t, double s) {
  return t + std::chrono::duration_cast<limiter_clock::duration>(seconds_d(s));
}

// longest goodput window kept: the window at min_rate, capped so memory stays bounded.
constexpr double max_goodput_window = 16.0;

}  // namespace

rate_limiter::rate_limiter(const rate_limiter_config& cfg, time_point start)
    : cfg_(cfg), start_(start), last_(start), rate_(cfg.adaptive ? cfg.start_rate : cfg.rate),
      phase_(cfg.adaptive ? limiter_phase::slow_start : limiter_phase::fixed),
      next_double_(plus(start, cfg.slow_start_interval)), lat_mean_(cfg.initial_latency),
      lat_dev_(0.0), rng_(cfg.seed) {
  if (!cfg_.adaptive && !(cfg_.rate > 0.0))
    throw std::invalid_argument("rate_limiter: non-adaptive mode needs rate > 0");
  if (cfg_.adaptive && cfg_.rate > 0.0) rate_ = std::min(rate_, cfg_.rate);
  rate_ = std::max(rate_, cfg_.min_rate);
  ss_levels_.emplace_back(start, rate_);
  // A fresh bucket holds one burst, so the first requests go at once.
  credit_ = burst();
}

double rate_limiter::burst() const {
  if (cfg_.burst > 0.0) return cfg_.burst;
  return std::max(1.0, cfg_.burst_seconds * rate_);
}

int rate_limiter::in_flight_cap() const {
  return static_cast<int>(std::ceil(rate_ * latency_p95() * cfg_.inflight_factor)) + 1;
}

bool rate_limiter::breaker_open(time_point now) const {
  return breaker_ != breaker_state::closed &&
         (now < gate_until_ || breaker_ == breaker_state::probing);
}

double rate_limiter::uniform(double lo, double hi) {
  return lo + (hi - lo) * std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

double rate_limiter::goodput_window() const {
  return std::min(max_goodput_window,
                  std::max(cfg_.goodput_window_min, cfg_.goodput_window_requests / rate_));
}

double rate_limiter::goodput(time_point now) const {
  double w = goodput_window();
  // Early in a run the window reaches back before the start; divide by the time actually observed.
  double observed = std::max(1e-3, std::min(w, secs(now, start_)));
  auto from = plus(now, -observed);
  auto it = std::upper_bound(successes_at_.begin(), successes_at_.end(), from);
  return static_cast<double>(successes_at_.end() - it) / observed;
}

void rate_limiter::refill(time_point now) {
  if (now <= last_) return;
  // No tokens accrue while the gate is closed: the pause must not turn into a burst afterwards.
  time_point from = std::max(last_, gate_until_);
  if (now > from) credit_ = std::min(credit_ + rate_ * secs(now, from), debit_ + burst());
  last_ = now;
}

double rate_limiter::clamp_rate(double r, time_point now) const {
  // Before any 2xx goodput says nothing (see cut): the cut's halving alone holds the rate down.
  if (phase_ == limiter_phase::cubic && successes_ > 0)
    r = std::min(r, cfg_.goodput_clamp * goodput(now));
  if (cfg_.rate > 0.0) r = std::min(r, cfg_.rate);
  return std::max(r, cfg_.min_rate);
}

void rate_limiter::update_rate(time_point now) {
  switch (phase_) {
    case limiter_phase::fixed: return;
    case limiter_phase::slow_start:
      while (now >= next_double_) {
        if (limited_) {
          rate_ = clamp_rate(rate_ * (reprobing_ ? cfg_.reprobe_growth : 2.0), now);
          ss_levels_.emplace_back(next_double_, rate_);
          if (ss_levels_.size() > 4) ss_levels_.pop_front();
        }
        limited_ = false;
        next_double_ = plus(next_double_, doubling_interval());
      }
      return;
    case limiter_phase::cubic: {
      double d = secs(now, t_cut_) - k_;
      rate_ = clamp_rate(w_max_ * (1.0 + c_ * d * d * d), now);
      if (rate_ >= cfg_.reprobe_factor * w_max_) {
        phase_ = limiter_phase::slow_start;
        reprobing_ = true;
        ss_levels_.assign(1, {now, rate_});
        limited_ = false;
        next_double_ = plus(now, doubling_interval());
      }
      return;
    }
  }
}

double rate_limiter::doubling_interval() const {
  if (!lat_seen_) return cfg_.slow_start_interval;
  double p95 = lat_mean_ + 2.0 * lat_dev_;
  if (reprobing_) return std::max(cfg_.slow_start_min_interval, cfg_.reprobe_rtts * p95);
  return std::clamp(cfg_.slow_start_rtts * p95, cfg_.slow_start_min_interval,
                    cfg_.slow_start_interval);
}

void rate_limiter::advance(time_point now) {
  refill(now);
  update_rate(now);
  auto keep_from = plus(now, -max_goodput_window);
  while (!successes_at_.empty() && successes_at_.front() < keep_from) successes_at_.pop_front();
  auto breaker_from = plus(now, -cfg_.breaker_window);
  while (!unavailable_at_.empty() && unavailable_at_.front() < breaker_from)
    unavailable_at_.pop_front();
  while (!recent_successes_at_.empty() && recent_successes_at_.front() < breaker_from)
    recent_successes_at_.pop_front();
}

reservation rate_limiter::reserve(time_point now) {
  advance(now);
  debit_ += 1.0;
  reservation r{debit_, now};
  if (debit_ > credit_ + 1e-9) {
    limited_ = true;
    r.at = std::max(gate_until_, plus(now, (debit_ - credit_) / rate_));
  } else {
    r.at = std::max(gate_until_, now);
  }
  return r;
}

std::optional<time_point> rate_limiter::wait_until(const reservation& r, time_point now) {
  advance(now);
  if (now < gate_until_) return gate_until_;
  if (r.ticket > credit_ + 1e-9) {
    // At least 1 us, so a deficit lost in rounding cannot spin a caller at the same instant.
    double due = std::max((r.ticket - credit_) / rate_, 1e-6);
    return plus(now, std::min(due, cfg_.recheck_interval));
  }
  // Covered by tokens; the in-flight cap and a half-open breaker can still hold it back.
  if (breaker_ == breaker_state::probing) return plus(now, cfg_.inflight_poll);
  if (cfg_.adaptive && in_flight_ >= in_flight_cap()) return plus(now, cfg_.inflight_poll);
  return std::nullopt;
}

void rate_limiter::cancel(const reservation& r, time_point now) {
  advance(now);
  (void)r;
  // Returning one credit lets the next ticket move up; capped like any refill.
  credit_ = std::min(credit_ + 1.0, std::max(debit_ + burst(), credit_));
}

send_stamp rate_limiter::on_send(time_point now) {
  advance(now);
  ++sent_;
  ++in_flight_;
  send_stamp s{now, epoch_, false};
  if (breaker_ == breaker_state::open) {
    breaker_ = breaker_state::probing;
    s.probe = true;
  }
  return s;
}

void rate_limiter::on_abandon(const send_stamp& stamp) {
  if (in_flight_ > 0) --in_flight_;
  if (stamp.probe && breaker_ == breaker_state::probing) breaker_ = breaker_state::open;
}

double rate_limiter::slow_start_floor(time_point sent) const {
  // The newest level that started at or before the send overshot; the one before it did not.
  for (auto it = ss_levels_.rbegin(); it != ss_levels_.rend(); ++it) {
    if (it->first > sent) continue;
    auto before = std::next(it);
    return before == ss_levels_.rend() ? 0.0 : before->second;
  }
  return 0.0;
}

void rate_limiter::cut(time_point now, double beta, time_point sent) {
  // Leaving slow start, the goodput window still holds the ramp's early, slower seconds and
  // underestimates what the service took; the last level that ran limited without a 429 is a
  // better floor (at 40 req/s with a 10-request burst, the window alone said 20).
  double g = goodput(now);
  if (phase_ == limiter_phase::slow_start) g = std::max(g, slow_start_floor(sent));
  // Before any 2xx, goodput says nothing (it is 0): half the level that was throttled is the
  // guess, as TCP halves its window, not the floor rate (a 2 req/s limit whose burst the
  // pre-flight had spent sent one request every 5 s after its first 429).
  if (successes_ == 0) g = std::max(g, rate_ / 2.0);
  double from = std::min(rate_, g);
  w_max_ = std::max(g, cfg_.min_rate);
  double target = std::max(beta * from, cfg_.min_rate);
  if (cfg_.rate > 0.0) target = std::min(target, cfg_.rate);
  // K puts the cubic's start at the new rate, so r(t_cut) = target exactly.
  double ratio = std::clamp(1.0 - target / w_max_, 0.0, 1.0);
  k_ = std::max(std::cbrt(ratio / cfg_.cubic_c), cfg_.cubic_min_k_requests / w_max_);
  c_ = ratio > 0.0 ? ratio / (k_ * k_ * k_) : cfg_.cubic_c;
  t_cut_ = now;
  rate_ = target;
  phase_ = limiter_phase::cubic;
  reprobing_ = false;
  ss_levels_.clear();
  ++epoch_;
  gate_until_ = std::max(gate_until_, plus(now, cfg_.throttle_pause));
  // Tokens banked before the cut belong to the old rate; start the new one from empty.
  credit_ = std::min(credit_, debit_);
}

void rate_limiter::on_response(time_point now, const send_stamp& stamp, response_kind kind) {
  advance(now);
  if (in_flight_ > 0) --in_flight_;
  double lat = std::max(0.0, secs(now, stamp.sent));
  if (kind != response_kind::other_error) {
    // EWMA of latency and of its deviation (as TCP's RTO estimator); p95 ~ mean + 2 dev.
    if (!lat_seen_) {
      lat_mean_ = lat;
      lat_dev_ = lat / 4.0;
      lat_seen_ = true;
    } else {
      lat_dev_ = 0.875 * lat_dev_ + 0.125 * std::abs(lat - lat_mean_);
      lat_mean_ = 0.875 * lat_mean_ + 0.125 * lat;
    }
  }
  if (stamp.probe && breaker_ == breaker_state::probing) {
    breaker_ = kind == response_kind::success ? breaker_state::closed : breaker_state::open;
    if (kind == response_kind::unavailable)
      gate_until_ =
          std::max(gate_until_, plus(now, uniform(cfg_.breaker_pause_min, cfg_.breaker_pause_max)));
  }
  switch (kind) {
    case response_kind::success:
      ++successes_;
      successes_at_.push_back(now);
      recent_successes_at_.push_back(now);
      return;
    case response_kind::other_error: return;
    case response_kind::throttled:
      ++throttles_;
      if (cfg_.adaptive && stamp.epoch == epoch_) cut(now, cfg_.beta_throttle, stamp.sent);
      return;
    case response_kind::unavailable:
      ++unavailables_;
      if (!cfg_.adaptive) return;
      advance(now);
      unavailable_at_.push_back(now);
      // Only a substantial share of 503s says "too fast"; a few percent of independent 503s is
      // the service's background noise, and cutting on each one collapses the rate (seen: 5%
      // random 503s drove a 300 req/s partition down to the 2 req/s floor).
      const double n503 = static_cast<double>(unavailable_at_.size());
      const double share = n503 / (n503 + static_cast<double>(recent_successes_at_.size()));
      if (n503 < cfg_.unavailable_min_count || share < cfg_.unavailable_cut_share) return;
      if (stamp.epoch == epoch_) cut(now, cfg_.beta_unavailable, stamp.sent);
      if (breaker_ == breaker_state::closed &&
          static_cast<int>(unavailable_at_.size()) >= cfg_.breaker_threshold &&
          share >= cfg_.breaker_share) {
        breaker_ = breaker_state::open;
        unavailable_at_.clear();
        gate_until_ = std::max(gate_until_,
                               plus(now, uniform(cfg_.breaker_pause_min, cfg_.breaker_pause_max)));
      }
      return;
  }
}

void rate_limiter::on_retry_after(time_point now, seconds_d delay) {
  advance(now);
  double d = std::clamp(delay.count(), 0.0, cfg_.retry_after_cap);
  d = std::min(d * (1.0 + uniform(0.0, cfg_.retry_after_jitter)), cfg_.retry_after_cap);
  gate_until_ = std::max(gate_until_, plus(now, d));
}

}  // namespace onboard::engine
