// rate_limiter on a fake clock: the bucket, the cut rules, Retry-After, the breaker, fixed mode.
#include "limiter_sim.hpp"

#include <onboard/dispatch/rate_limiter.hpp>

#include <gtest/gtest.h>

#include <random>

namespace onboard::engine {
namespace {

using sim::at;

double secs(time_point t) { return seconds_d(t - time_point{}).count(); }

// send_when: reserve and follow wait_until until it says go; returns the send time.
double send_when(rate_limiter& lim, double now) {
  auto r = lim.reserve(at(now));
  for (int i = 0; i < 100000; ++i) {
    auto w = lim.wait_until(r, at(now));
    if (!w) return now;
    now = secs(*w);
  }
  ADD_FAILURE() << "never granted";
  return now;
}

TEST(rate_limiter, fixed_mode_is_a_plain_token_bucket) {
  rate_limiter_config cfg;
  cfg.adaptive = false;
  cfg.rate = 10.0;
  cfg.burst = 3.0;
  rate_limiter lim(cfg, at(0));
  EXPECT_EQ(lim.phase(), limiter_phase::fixed);
  // Three at once (the burst), then one every 0.1 s: reservations queue up in order.
  std::vector<reservation> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(lim.reserve(at(0)));
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(secs(rs[static_cast<std::size_t>(i)].at), 0.0);
  for (int i = 3; i < 6; ++i)
    EXPECT_NEAR(secs(rs[static_cast<std::size_t>(i)].at), 0.1 * (i - 2), 1e-6);
  EXPECT_FALSE(lim.wait_until(rs[0], at(0)));
  auto w = lim.wait_until(rs[4], at(0));
  ASSERT_TRUE(w);
  EXPECT_NEAR(secs(*w), 0.1, 1e-6);  // re-checked no later than recheck_interval
  EXPECT_FALSE(lim.wait_until(rs[4], at(0.2)));
  // 429s and 503s do not move a fixed rate.
  auto s = lim.on_send(at(0.2));
  for (int i = 0; i < 10; ++i) lim.on_response(at(0.5), s, response_kind::throttled);
  lim.on_response(at(0.5), s, response_kind::unavailable);
  EXPECT_DOUBLE_EQ(lim.rate(), 10.0);
  EXPECT_EQ(lim.cuts(), 0u);
  // An idle bucket holds no more than the burst.
  rate_limiter idle(cfg, at(0));
  int immediate = 0;
  for (int i = 0; i < 10; ++i)
    if (!idle.wait_until(idle.reserve(at(100)), at(100))) ++immediate;
  EXPECT_EQ(immediate, 3);
}

TEST(rate_limiter, fixed_mode_needs_a_rate) {
  rate_limiter_config cfg;
  cfg.adaptive = false;
  EXPECT_THROW(rate_limiter(cfg, at(0)), std::invalid_argument);
}

TEST(rate_limiter, slow_start_doubles_only_when_the_limiter_is_the_bottleneck) {
  rate_limiter lim(rate_limiter_config{}, at(0));
  EXPECT_EQ(lim.phase(), limiter_phase::slow_start);
  EXPECT_DOUBLE_EQ(lim.rate(), 2.0);
  // Nobody waiting: no doubling.
  (void)lim.wait_until(lim.reserve(at(0.01)), at(0.01));
  lim.reserve(at(0.6));  // the 0.5 s check saw only a reservation that did not wait
  EXPECT_DOUBLE_EQ(lim.rate(), 2.0);
  // Queue up: the next check doubles.
  for (int i = 0; i < 5; ++i) lim.reserve(at(0.7));
  lim.reserve(at(1.01));
  EXPECT_DOUBLE_EQ(lim.rate(), 4.0);
}

TEST(rate_limiter, a_429_before_any_success_halves_the_rate_instead_of_flooring_it) {
  // A 2 req/s limit with a burst of 1, already spent by the pre-flight: the very first request
  // is throttled. Goodput is 0 then; cutting to it put the limiter at its 0.2 req/s floor, and
  // CUBIC's K (30 requests at W_max) kept it there for minutes.
  rate_limiter lim(rate_limiter_config{}, at(0));
  const double level = lim.rate();
  auto s = lim.on_send(at(0));
  lim.on_response(at(0.05), s, response_kind::throttled);
  ASSERT_EQ(lim.cuts(), 1u);
  EXPECT_GE(lim.rate(), 0.9 * level / 2.0);
  // Ten requests answered at once take ~17 s (the rate climbs back under its goodput clamp), not
  // the floor's 5 s each.
  double now = 0.05;
  for (int i = 0; i < 10; ++i) {
    now = send_when(lim, now);
    auto st = lim.on_send(at(now));
    lim.on_response(at(now + 0.01), st, response_kind::success);
  }
  EXPECT_LT(now, 25.0);
}

TEST(rate_limiter, one_cut_per_episode) {
  rate_limiter lim(rate_limiter_config{}, at(0));
  // Ramp up a bit with successes.
  double now = 0;
  std::vector<send_stamp> old;
  for (int i = 0; i < 40; ++i) {
    now = send_when(lim, now);
    auto s = lim.on_send(at(now));
    lim.on_response(at(now + 0.3), s, response_kind::success);
    if (i >= 30) old.push_back(s);
  }
  ASSERT_EQ(lim.cuts(), 0u);
  double before = lim.rate();
  lim.on_response(at(now + 0.4), old[0], response_kind::throttled);
  EXPECT_EQ(lim.cuts(), 1u);
  EXPECT_EQ(lim.phase(), limiter_phase::cubic);
  EXPECT_LT(lim.rate(), before);
  EXPECT_GT(lim.w_max(), 0.0);
  double after = lim.rate();
  // The other in-flight requests of the same episode do not cut again.
  for (std::size_t i = 1; i < old.size(); ++i)
    lim.on_response(at(now + 0.41), old[i], response_kind::throttled);
  EXPECT_EQ(lim.cuts(), 1u);
  EXPECT_NEAR(lim.rate(), after, after * 0.01);
  EXPECT_EQ(lim.throttles(), old.size());
  // The gate pauses everyone briefly.
  EXPECT_GE(secs(lim.gate_until()), now + 0.4 + 0.19);
  // A request sent after the cut that is throttled starts a new episode.
  auto s = lim.on_send(at(now + 1.0));
  lim.on_response(at(now + 1.3), s, response_kind::throttled);
  EXPECT_EQ(lim.cuts(), 2u);
}

TEST(rate_limiter, retry_after_pauses_the_whole_partition) {
  rate_limiter lim(rate_limiter_config{}, at(0));
  auto s = lim.on_send(at(1.0));
  lim.on_response(at(1.2), s, response_kind::throttled);
  lim.on_retry_after(at(1.2), seconds_d(3.0));
  EXPECT_GE(secs(lim.gate_until()), 4.2);
  EXPECT_LE(secs(lim.gate_until()), 4.2 + 0.3 + 1e-6);  // + up to 10% jitter
  // Every sender, including ones that reserved before the header arrived, waits for the gate.
  for (double t : {1.2, 2.0, 4.0}) {
    auto w = lim.wait_until(lim.reserve(at(t)), at(t));
    ASSERT_TRUE(w);
    EXPECT_GE(secs(*w), 4.2);
  }
  EXPECT_GE(send_when(lim, 1.2), 4.2);
  // Capped at 60 s.
  lim.on_retry_after(at(10.0), seconds_d(3600.0));
  EXPECT_LE(secs(lim.gate_until()), 70.0 + 1e-6);
  EXPECT_GE(secs(lim.gate_until()), 69.9);
}

TEST(rate_limiter, retry_after_applies_in_fixed_mode_too) {
  rate_limiter_config cfg;
  cfg.adaptive = false;
  cfg.rate = 100;
  rate_limiter lim(cfg, at(0));
  lim.on_retry_after(at(1.0), seconds_d(2.0));
  EXPECT_GE(send_when(lim, 1.0), 3.0);
}

TEST(rate_limiter, ceiling_caps_slow_start) {
  rate_limiter_config cfg;
  cfg.rate = 6.0;
  rate_limiter lim(cfg, at(0));
  double now = 0;
  for (int i = 0; i < 200; ++i) {
    for (int k = 0; k < 3; ++k) lim.reserve(at(now));  // always a queue
    now += 0.05;
    EXPECT_LE(lim.rate(), 6.0);
  }
}

TEST(rate_limiter, a_lone_503_is_noise_but_a_storm_cuts_harder_and_opens_the_breaker) {
  rate_limiter_config cfg;
  cfg.seed = 7;
  rate_limiter lim(cfg, at(0));
  double now = 0;
  for (int i = 0; i < 40; ++i) {
    now = send_when(lim, now);
    auto s = lim.on_send(at(now));
    lim.on_response(at(now + 0.3), s, response_kind::success);
  }
  double before = lim.rate();
  auto s = lim.on_send(at(now));
  lim.on_response(at(now + 0.3), s, response_kind::unavailable);
  EXPECT_DOUBLE_EQ(lim.rate(), before) << "one 503 among 40 successes must not cut";
  EXPECT_FALSE(lim.breaker_open(at(now + 0.3)));
  // Now most answers are 503s: the service is struggling.
  std::vector<send_stamp> more;
  for (int i = 0; i < 60; ++i) more.push_back(lim.on_send(at(now + 0.5)));
  for (auto& m : more) lim.on_response(at(now + 0.8), m, response_kind::unavailable);
  EXPECT_LE(lim.rate(), 0.7 * before * 1.05 + 0.2);
  double t_open = now + 0.8;
  EXPECT_TRUE(lim.breaker_open(at(t_open)));
  EXPECT_GE(secs(lim.gate_until()), t_open + 5.0);
  EXPECT_LE(secs(lim.gate_until()), t_open + 10.0);
  // After the pause, exactly one probe goes; the others wait for its answer.
  double after = secs(lim.gate_until()) + 0.01;
  double t1 = send_when(lim, after);
  auto probe = lim.on_send(at(t1));
  EXPECT_TRUE(probe.probe);
  auto r2 = lim.reserve(at(t1));
  auto w = lim.wait_until(r2, at(t1 + 1.0));
  EXPECT_TRUE(w.has_value());
  lim.on_response(at(t1 + 0.3), probe, response_kind::success);
  EXPECT_FALSE(lim.breaker_open(at(t1 + 0.3)));
}

TEST(rate_limiter, cancelled_ticket_lets_the_next_one_move_up) {
  rate_limiter_config cfg;
  cfg.adaptive = false;
  cfg.rate = 1.0;
  cfg.burst = 1.0;
  rate_limiter lim(cfg, at(0));
  auto a = lim.reserve(at(0));  // the burst token
  auto b = lim.reserve(at(0));  // due at 1 s
  auto c = lim.reserve(at(0));  // due at 2 s
  EXPECT_FALSE(lim.wait_until(a, at(0)));
  lim.cancel(b, at(0));
  EXPECT_FALSE(lim.wait_until(c, at(1.0)));
}

TEST(rate_limiter, in_flight_cap_holds_senders_back) {
  rate_limiter_config cfg;
  cfg.start_rate = 2.0;
  cfg.burst = 100.0;
  rate_limiter lim(cfg, at(0));
  int cap = lim.in_flight_cap();  // ceil(2 x 1 s x 1.5) + 1 = 4
  EXPECT_EQ(cap, 4);
  for (int i = 0; i < cap; ++i) {
    auto r = lim.reserve(at(0));
    ASSERT_FALSE(lim.wait_until(r, at(0)));
    lim.on_send(at(0));
  }
  auto r = lim.reserve(at(0));
  EXPECT_TRUE(lim.wait_until(r, at(0)).has_value());
}

TEST(rate_limiter, independent_503s_at_five_percent_do_not_collapse_the_rate) {
  // What broke a 100,000-address run: 5% random 503s from a service limited at 300 req/s.
  rate_limiter_config cfg;
  cfg.seed = 3;
  rate_limiter lim(cfg, at(0));
  std::mt19937_64 rng(9);
  double now = 0;
  for (int i = 0; i < 6000; ++i) {
    now = send_when(lim, now);
    auto s = lim.on_send(at(now));
    bool unavailable = rng() % 20 == 0;
    lim.on_response(at(now + 0.02), s,
                    unavailable ? response_kind::unavailable : response_kind::success);
  }
  EXPECT_GT(lim.rate(), 100.0) << "slow start and growth must survive background 503s";
  EXPECT_FALSE(lim.breaker_open(at(now)));
}

}  // namespace
}  // namespace onboard::engine
