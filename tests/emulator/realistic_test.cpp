// realistic_test.cpp: the flags that make the emulator a realistic service for benchmarks
// (latency jitter, a limit that moves on a schedule, per-API limits, in-doubt batches on demand),
// each measured against a real server with bounds that fail when the flag has no effect.
#include "client.hpp"

#include <onboard/emulator/server.hpp>
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

namespace onboard::emulator::test {
namespace {

namespace tk = onboard::testkit;
using steady = std::chrono::steady_clock;
using fixture = server_fixture;

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A limit of 20/s that drops to 5/s one second in: requests sent back to back are accepted at
// ~20/s before the step and ~5/s after it (the bucket shrinks with the rate, so no stored burst
// hides the change).
TEST(realistic, rate_schedule_moves_the_limit_while_clients_run) {
  server_options o;
  o.rate = 20;
  o.rate_schedule = {{1.0, 5.0}};
  const auto t0 = steady::now();  // before the server's clock starts: windows err late, not early
  fixture f(o);
  auto c = f.client();
  int before = 0, after = 0;  // accepted in [0.25, 0.75) s and in [1.25, 2.25) s
  for (;;) {
    const double t = seconds_between(t0, steady::now());
    if (t >= 2.25) break;
    const auto status = c.call("GET", "/accounts/acct-1").status;
    ASSERT_TRUE(status == 200u || status == 429u) << status;
    if (status != 200u) continue;
    if (t >= 0.25 && t < 0.75) ++before;
    if (t >= 1.25) ++after;
  }
  EXPECT_GE(before, 8);  // 10 expected at 20/s
  EXPECT_LE(before, 12);
  EXPECT_GE(after, 3);  // 5 expected at 5/s; 20 if the schedule were ignored
  EXPECT_LE(after, 7);
  auto s = f.srv->stats();
  EXPECT_GT(s.throttled, 0u);
  EXPECT_GE(s.seconds, 2.0);
}

// --api-rate: the named operation draws from a bucket of its own inside each scope's key; the
// other operations keep the scope's bucket. With --account-rate too, the smaller rate holds.
TEST(realistic, api_rate_gives_an_operation_its_own_bucket_in_every_scope) {
  const std::string invite1 = "/accounts/acct-1/users?operation=add";
  const std::string invite2 = "/accounts/acct-2/users?operation=add";
  const std::string list1 = "/accounts/acct-1/users?max-results=1";
  auto statuses = [&](throttle_scope scope) {
    server_options o;
    o.rate = 0.01;  // one token per bucket, no refill within the test
    o.burst = 1;
    o.scope = scope;
    o.api_rates["InviteUsers"] = 0.01;
    fixture f(o);
    auto c = f.client();
    std::vector<unsigned> v;
    v.push_back(c.call("POST", invite1, invite_body({"a@example.com"})).status);
    v.push_back(c.call("GET", list1).status);  // the scope's bucket, untouched by the invite
    v.push_back(c.call("POST", invite1, invite_body({"b@example.com"})).status);
    v.push_back(c.call("POST", invite2, invite_body({"c@example.com"})).status);
    auto s = f.srv->stats();
    EXPECT_EQ(s.accepted_by_operation["ListUsers"], 1u);
    EXPECT_EQ(s.accepted_by_operation["InviteUsers"] + s.throttled_by_operation["InviteUsers"], 3u);
    EXPECT_EQ(s.accepted_by_account["acct-1"], 2u);
    return v;
  };
  // account: InviteUsers per account and API, so acct-2's invite has its own token.
  EXPECT_EQ(statuses(throttle_scope::account), (std::vector<unsigned>{201, 200, 429, 201}));
  // api and global: InviteUsers once for every account.
  EXPECT_EQ(statuses(throttle_scope::api), (std::vector<unsigned>{201, 200, 429, 429}));
  EXPECT_EQ(statuses(throttle_scope::global), (std::vector<unsigned>{201, 200, 429, 429}));

  server_options o;
  o.account_rates["acct-2"] = 1000;  // fast, but its InviteUsers is held to the API's rate
  o.api_rates["InviteUsers"] = 0.01;
  fixture f(o);
  auto c = f.client();
  EXPECT_EQ(c.call("POST", invite2, invite_body({"a@example.com"})).status, 201u);
  EXPECT_EQ(c.call("POST", invite2, invite_body({"b@example.com"})).status, 429u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(c.call("GET", "/accounts/acct-2/users?max-results=1").status, 200u);
}

// --drop-invites N: exactly the first N applicable invites are applied and then go unanswered; a
// request the service refuses is answered and does not use the budget.
TEST(realistic, drop_invites_leaves_n_applied_batches_in_doubt) {
  server_options o;
  o.drop_invites = 2;
  fixture f(o);
  const std::string invite = "/accounts/acct-1/users?operation=add";
  {
    auto c = f.client();
    EXPECT_EQ(c.call("POST", invite, invite_body({"not-an-address"})).status, 400u);
  }
  for (const char* who : {"a@example.com", "b@example.com"}) {
    auto c = f.client();
    EXPECT_FALSE(c.try_call("POST", invite, invite_body({who})).has_value()) << who;
  }
  auto c = f.client();
  EXPECT_EQ(c.call("POST", invite, invite_body({"c@example.com"})).status, 201u);
  auto lines = f.stopped_ledger();
  EXPECT_EQ(lines, (std::vector<std::string>{"invite\tacct-1\ta@example.com",
                                             "invite\tacct-1\tb@example.com",
                                             "invite\tacct-1\tc@example.com"}));
  EXPECT_EQ(f.srv->stats().dropped, 2u);
  EXPECT_EQ(f.srv->stats().dropped_after_apply, 2u);
}

// The far-away set-up from the command line: every answer within [0.75, 1.25] x the mean (plus a
// little for the round trip on this machine), and spread across that range. The default jitter
// (0.5) puts a quarter of the answers below 0.75 x the mean.
TEST(realistic, latency_jitter_bounds_every_answer) {
  constexpr double mean_ms = 40;
  tk::emulator_process emu({"--latency-ms", "40", "--latency-jitter", "0.25", "--seed", "3"});
  test_client c(static_cast<std::uint16_t>(emu.port()), tk::read_file(emu.ca_path()));
  std::vector<double> ms;
  for (int i = 0; i < 25; ++i) {
    const auto t = steady::now();
    ASSERT_EQ(c.call("GET", "/accounts/acct-1").status, 200u);
    ms.push_back(seconds_between(t, steady::now()) * 1000);
  }
  const auto [lo, hi] = std::minmax_element(ms.begin(), ms.end());
  EXPECT_GE(*lo, 0.75 * mean_ms);
  // An answer can only come late for reasons of its own (a loaded machine, a sanitizer: one took
  // 62 ms under ASan beside a build), so the upper bound is on how many, not on each: with the
  // default jitter a quarter of them (~6) would be past 1.25 x the mean.
  const auto late =
      std::count_if(ms.begin(), ms.end(), [&](double v) { return v > 1.25 * mean_ms + 8; });
  EXPECT_LE(late, 3);
  EXPECT_GE(*hi - *lo, 0.25 * mean_ms) << "the answers do not spread: jitter missing?";
  EXPECT_EQ(emu.stop(), 0) << emu.stderr_text();
}

TEST(realistic, usage_errors_name_the_flag_and_the_bad_item) {
  auto expect_usage = [](std::vector<std::string> args, const std::string& named) {
    args.insert(args.begin(), tk::emulator_binary());
    auto r = tk::run(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  };
  expect_usage({"--rate-schedule", "20:10"}, "--rate-schedule needs --rate");
  expect_usage({"--rate", "20", "--rate-schedule", "20:10,10:5"}, "'10:5'");
  expect_usage({"--rate", "20", "--rate-schedule", "20:10,40:-1"}, "'40:-1'");
  expect_usage({"--rate", "20", "--rate-schedule", "20"}, "--rate-schedule: item '20'");
  expect_usage({"--api-rate", "Bogus=3"}, "'Bogus'");
  expect_usage({"--api-rate", "ListAccounts=3"}, "'ListAccounts'");
  expect_usage({"--api-rate", "ListUsers=x"}, "--api-rate ListUsers");
  expect_usage({"--latency-jitter", "1"}, "--latency-jitter");
  expect_usage({"--latency-jitter", "-0.1"}, "--latency-jitter");
  expect_usage({"--drop-invites", "-1"}, "--drop-invites");
}

}  // namespace
}  // namespace onboard::emulator::test
