// The adaptive limiter against the simulated service (tests/engine/dispatch/limiter_sim.hpp), at 5,
// 50 and 500 req/s: steady state, ramp, and a limit that halves mid-run.
#include "limiter_sim.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace onboard::engine {
namespace {

class limiter_sim_test : public ::testing::TestWithParam<double> {};

TEST_P(limiter_sim_test, steady_state_utilisation_429s_and_ramp) {
  const double l = GetParam();
  rate_limiter_config cfg;
  for (std::uint64_t seed : {1u, 2u}) {
    auto r = sim::run_proposed(sim::scenario{.limit = l, .seed = seed}, cfg);
    SCOPED_TRACE(testing::Message() << "L=" << l << " seed=" << seed);
    EXPECT_GE(r.utilisation_2nd_half, 0.95);
    EXPECT_LT(r.share_429_all, l >= 50 ? 0.02 : 0.05);
    EXPECT_LE(r.ramp_time, std::log2(l / cfg.start_rate) * 0.5 + 1.0);
  }
}

TEST_P(limiter_sim_test, reconverges_within_10s_after_the_limit_halves) {
  const double l = GetParam();
  auto r = sim::run_proposed(sim::scenario{.limit = l, .halve_at = 60.0, .seed = 3},
                             rate_limiter_config{});
  SCOPED_TRACE(testing::Message() << "L=" << l);
  EXPECT_GE(r.util_after_halving_window, 0.90);  // (65, 70] s
  EXPECT_GE(r.util_after_halving_rest, 0.90);    // (70, 120] s
  EXPECT_LT(r.share_429_after_halving, l >= 50 ? 0.05 : 0.10);
}

TEST_P(limiter_sim_test, near_the_service_slow_start_is_faster_and_as_gentle) {
  // 1-4 ms answers (a client beside the service, or the emulator): doublings follow round trips
  // (slow_start_rtts), so the ramp takes far less than the internet-latency bound, with the
  // same utilisation and no more 429s.
  const double l = GetParam();
  rate_limiter_config cfg;
  for (std::uint64_t seed : {1u, 2u}) {
    auto r = sim::run_proposed(
        sim::scenario{.limit = l, .latency_lo = 0.001, .latency_hi = 0.004, .seed = seed}, cfg);
    SCOPED_TRACE(testing::Message() << "L=" << l << " seed=" << seed);
    EXPECT_GE(r.utilisation_2nd_half, 0.95);
    EXPECT_LT(r.share_429_all, l >= 50 ? 0.02 : 0.05);
    EXPECT_LE(r.ramp_time, std::log2(l / cfg.start_rate) * cfg.slow_start_min_interval + 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(limits, limiter_sim_test, ::testing::Values(5.0, 50.0, 500.0),
                         [](const auto& p) {
                           return "L" + std::to_string(static_cast<int>(p.param));
                         });

// The issue-25 scenarios, close to the service (1-4 ms answers, as against the emulator).
sim::scenario near(sim::scenario sc) {
  sc.latency_lo = 0.001;
  sc.latency_hi = 0.004;
  return sc;
}

TEST(limiter_sim, a_limit_that_moves_20_10_40_is_followed) {
  // CUBIC alone climbs back from 10 to 40 req/s in ~15 s (0.77-0.89 of the limit's integral);
  // re-entering a gentler slow start once past 1.1 W_max finds the new limit within ~2 s.
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    auto r = sim::run_proposed(near({.limit = 20.0,
                                     .duration = 60.0,
                                     .seed = seed,
                                     .schedule = {{20.0, 10.0}, {40.0, 40.0}}}),
                               rate_limiter_config{});
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    EXPECT_DOUBLE_EQ(r.limit_integral, 20.0 * 20 + 10.0 * 20 + 40.0 * 20);
    EXPECT_GE(r.utilisation_of_integral, 0.93);
    EXPECT_LT(r.share_429_all, 0.02);
  }
}

TEST(limiter_sim, leaving_slow_start_against_a_small_burst_keeps_most_of_the_limit) {
  // 40 req/s with a 10-request burst: the first 429 comes while the goodput window still holds
  // the ramp (it said 20 req/s, and CUBIC took ~12 s back to 40); the level slow start had
  // already run at is the floor. Was 0.67 of the limit over 15 s.
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    auto r = sim::run_proposed(
        near({.limit = 40.0, .duration = 15.0, .seed = seed, .burst_seconds = 0.25}),
        rate_limiter_config{});
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    EXPECT_GE(r.utilisation_of_integral, 0.85);
    EXPECT_LT(r.share_429_all, 0.02);
  }
}

TEST(limiter_sim, accounts_sharing_one_limit_use_all_of_it_in_equal_shares) {
  // Three accounts of one AWS account against one 30 req/s limit (issue 25's shared limit): one
  // limiter for the group. With a limiter per account this gave 3.5 % throttled and shares from
  // 16 % to 43 % (each cut proportional to its own goodput keeps any imbalance).
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    sim::scenario sc = near({.limit = 30.0, .duration = 60.0, .seed = seed, .partitions = 3});
    sim::proposed_client c(rate_limiter_config{}, 3);
    auto r = sim::run(sc, c);
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    EXPECT_GE(r.utilisation_of_integral, 0.97);
    EXPECT_LT(r.share_429_all, 0.03);
    for (auto a : r.accepted_by_partition)
      EXPECT_NEAR(static_cast<double>(a) / static_cast<double>(r.accepted), 1.0 / 3, 0.05);
    EXPECT_EQ(c.limiters().own_limit_throttles(), 0u)
        << "a shared limit was taken for separate ones";
  }
}

TEST(limiter_sim, accounts_with_limits_of_their_own_get_limiters_of_their_own) {
  // The same three accounts, but the service holds each to its own limit (2, 20 and 8 req/s).
  // The group settles near three times the lowest limit until a member's share of the 429s shows
  // its limit is its own; then that member is capped alone and the others go on. Slower than a
  // limiter per account (100 %): one 429 per probe is the evidence; over a minute 79 % of the
  // limits' sum on average over 40 runs, 65 % at worst.
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    sim::scenario sc =
        near({.duration = 60.0, .seed = seed, .partitions = 3, .own_limits = {2.0, 20.0, 8.0}});
    sc.senders = 36;
    sim::proposed_client c(rate_limiter_config{}, 3);
    auto r = sim::run(sc, c);
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    const auto& set = c.limiters();
    EXPECT_NE(set.own_limiter(limit_partition("InviteUsers", "acct-0")), nullptr);
    EXPECT_NE(set.own_limiter(limit_partition("InviteUsers", "acct-2")), nullptr);
    EXPECT_GE(r.utilisation_of_integral, 0.6);
    EXPECT_LT(r.share_429_all, 0.05);
  }
}

TEST(limiter_sim, far_away_the_limit_is_used_once_found) {
  // 400 ms +-25 % round trips, 40 req/s: the far-away service, over 60 s.
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    auto r = sim::run_proposed(
        {.limit = 40.0, .duration = 60.0, .latency_lo = 0.3, .latency_hi = 0.5, .seed = seed},
        rate_limiter_config{});
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    EXPECT_GE(r.utilisation_2nd_half, 0.97);
    EXPECT_LT(r.share_429_all, 0.04);
  }
}

TEST(limiter_sim, botocore_port_underuses_the_limit_at_50rps) {
  // The comparison baseline behaves as the research doc's port did (§7): about half the limit.
  auto r = sim::run_botocore(sim::scenario{.limit = 50.0, .seed = 1});
  EXPECT_LT(r.utilisation_2nd_half, 0.6);
  EXPECT_GT(r.share_429_all, 0.05);
}

TEST(limiter_sim, rate_ceiling_is_never_exceeded) {
  rate_limiter_config cfg;
  cfg.rate = 20.0;  // below the service's 50
  auto r = sim::run_proposed(sim::scenario{.limit = 50.0, .seed = 1}, cfg);
  // Sends in any 1 s window: the rate plus at most one burst (max(1, 0.2 s x 20) = 4).
  EXPECT_LE(r.max_sends_per_second, 20.0 + 4.0);
  EXPECT_EQ(r.throttled, 0u);
  EXPECT_GE(r.utilisation_2nd_half, 0.39);  // 20 / 50, minus rounding
}

TEST(limiter_sim, retry_after_pauses_the_whole_partition) {
  // Every 429 carries Retry-After: 2 s. After each, nobody may send for >= 2 s, so the fleet
  // cannot keep hitting the service: far fewer requests and 429s than without the header.
  auto with_ra = sim::run_proposed(
      sim::scenario{.limit = 50.0, .duration = 60.0, .retry_after = 2.0, .seed = 1},
      rate_limiter_config{});
  ASSERT_GT(with_ra.throttled, 0u);
  // Every throttle response pauses everyone: after a 429 sent at s (answered ~0.4 s later) there
  // must be a send gap of >= 2 s somewhere right after it.
  int gaps = 0;
  const auto& snd = with_ra.send_times;
  for (std::size_t i = 1; i < snd.size(); ++i)
    if (snd[i] - snd[i - 1] >= 2.0) ++gaps;
  EXPECT_GE(gaps, 1);
}

}  // namespace
}  // namespace onboard::engine
