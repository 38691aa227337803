// limiter_set: grouping by API, splitting a member whose 429s its share of the sends cannot
// explain, and answers routed to the limiter that granted them. Fake clock throughout.
#include <onboard/dispatch/limiter_set.hpp>

#include <gtest/gtest.h>

#include <string>

namespace onboard::engine {
namespace {

time_point t(double s) {
  return time_point{} + std::chrono::duration_cast<limiter_clock::duration>(seconds_d(s));
}

// exchange: one request of `partition` granted and answered at `now`.
void exchange(limiter_set& set, const std::string& partition, double now, response_kind kind) {
  auto r = set.reserve(partition, t(now));
  auto stamp = set.on_send(partition, r, t(now));
  set.on_response(partition, t(now + 0.01), stamp, kind);
}

TEST(limiter_set, binomial_tail_matches_hand_computed_values) {
  EXPECT_DOUBLE_EQ(binomial_tail(10, 0, 0.3), 1.0);
  EXPECT_DOUBLE_EQ(binomial_tail(3, 4, 0.3), 0.0);
  EXPECT_NEAR(binomial_tail(1, 1, 0.3), 0.3, 1e-12);
  EXPECT_NEAR(binomial_tail(8, 8, 1.0 / 3), 1.0 / 6561, 1e-12);
  // P(X >= 2), n = 3, p = 0.5: (3 + 1) / 8
  EXPECT_NEAR(binomial_tail(3, 2, 0.5), 0.5, 1e-12);
}

TEST(limiter_set, accounts_of_one_api_share_a_limiter_and_apis_do_not) {
  limiter_set set{rate_limiter_config{}};
  const auto a = limit_partition("InviteUsers", "acct-1");
  const auto b = limit_partition("InviteUsers", "acct-2");
  const auto list = limit_partition("ListUsers", "acct-1");
  set.reserve(a, t(0));
  set.reserve(b, t(0));
  set.reserve(list, t(0));
  EXPECT_TRUE(set.shares_limit(a, b));
  EXPECT_FALSE(set.shares_limit(a, list));
  EXPECT_EQ(set.group_limiter(a), set.group_limiter(b));
  EXPECT_NE(set.group_limiter(a), set.group_limiter(list));
}

TEST(limiter_set, without_sharing_every_partition_has_its_own) {
  limiter_set set{rate_limiter_config{}, limiter_set_config{.share_limits = false}};
  const auto a = limit_partition("InviteUsers", "acct-1");
  const auto b = limit_partition("InviteUsers", "acct-2");
  set.reserve(a, t(0));
  set.reserve(b, t(0));
  EXPECT_FALSE(set.shares_limit(a, b));
}

TEST(limiter_set, a_member_with_all_the_429s_and_a_third_of_the_sends_gets_a_limit_of_its_own) {
  limiter_set set{rate_limiter_config{}};
  const std::string p[3] = {limit_partition("InviteUsers", "a"),
                            limit_partition("InviteUsers", "b"),
                            limit_partition("InviteUsers", "c")};
  for (const auto& name : p) set.reserve(name, t(0));
  double now = 0;
  int rounds = 0;
  // Each round every member sends once; only `a` is throttled (a limit of its own).
  while (!set.own_limiter(p[0]) && rounds < 100) {
    exchange(set, p[0], now, response_kind::throttled);
    exchange(set, p[1], now, response_kind::success);
    exchange(set, p[2], now, response_kind::success);
    now += 0.1;
    ++rounds;
  }
  ASSERT_NE(set.own_limiter(p[0]), nullptr);
  EXPECT_EQ(set.own_limiter(p[1]), nullptr);
  EXPECT_EQ(set.own_limiter(p[2]), nullptr);
  // P = share^k, the share a little above a third (a's send comes first in each round: 4 of 10
  // at the fourth): below 2 % at k = 5. The group was cut by the first only (a's alone, then:
  // the next three were suspect, P < 35 %).
  EXPECT_EQ(rounds, 5);
  EXPECT_EQ(set.group_limiter(p[0])->throttles(), 1u);
  EXPECT_EQ(set.own_limiter(p[0])->throttles(), 1u);
  // From now on a's 429s cut its own limiter, not the group's.
  exchange(set, p[0], now + 1, response_kind::throttled);
  EXPECT_EQ(set.group_limiter(p[0])->throttles(), 1u);
  EXPECT_EQ(set.own_limit_throttles(), 2u);
  EXPECT_TRUE(set.shares_limit(p[0], p[1]));
}

TEST(limiter_set, 429s_in_proportion_to_the_sends_stay_the_groups) {
  limiter_set set{rate_limiter_config{}};
  const std::string p[3] = {limit_partition("InviteUsers", "a"),
                            limit_partition("InviteUsers", "b"),
                            limit_partition("InviteUsers", "c")};
  double now = 0;
  // 600 rounds, the 429s taking turns: one limit throttling whoever meets it.
  for (int i = 0; i < 600; ++i) {
    for (int j = 0; j < 3; ++j)
      exchange(set, p[j], now, i % 3 == j ? response_kind::throttled : response_kind::success);
    now += 0.1;
  }
  EXPECT_EQ(set.own_limit_throttles(), 0u);
  for (const auto& name : p) EXPECT_EQ(set.own_limiter(name), nullptr);
}

TEST(limiter_set, a_capped_member_waits_for_its_own_limiter_and_then_the_groups) {
  limiter_set set{rate_limiter_config{}};
  const auto a = limit_partition("InviteUsers", "a");
  const auto b = limit_partition("InviteUsers", "b");
  for (int i = 0; !set.own_limiter(a) && i < 40; ++i) {
    exchange(set, a, 0.1 * i, response_kind::throttled);
    exchange(set, b, 0.1 * i, response_kind::success);
    exchange(set, b, 0.1 * i, response_kind::success);
  }
  ASSERT_NE(set.own_limiter(a), nullptr);
  const auto group_sent = set.group_limiter(a)->sent();
  const auto own_sent = set.own_limiter(a)->sent();
  exchange(set, a, 10.0, response_kind::success);
  EXPECT_EQ(set.group_limiter(a)->sent(), group_sent + 1);
  EXPECT_EQ(set.own_limiter(a)->sent(), own_sent + 1);
  EXPECT_EQ(set.group_limiter(a)->in_flight(), 0);
  EXPECT_EQ(set.own_limiter(a)->in_flight(), 0);
}

}  // namespace
}  // namespace onboard::engine
