// End to end: the engine with its wall clock 10 minutes fast or slow (the time_shift LD_PRELOAD
// library; the emulator's clock is left right) invites everyone exactly once: the service refuses
// the first signatures as expired or not yet current, the engine learns the service's time from
// its Date header, signs again, and warns once. Never a stop, never "bad credentials".
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// shifted_env: client_env with the engine's wall clock moved by `seconds`.
child_process::options shifted_env(const fs::path& home, long seconds) {
  auto o = client_env(home);
  o.env_set["LD_PRELOAD"] = ONBOARD_TIME_SHIFT_LIB;
  o.env_set["ONBOARD_TIME_SHIFT_SECONDS"] = std::to_string(seconds);
  // Under ASan the preloaded library comes before its runtime, which it would refuse by default.
  const char* asan = std::getenv("ASAN_OPTIONS");
  o.env_set["ASAN_OPTIONS"] =
      std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
  return o;
}

void expect_run_completes_with_clock_shifted(long seconds, std::string_view warned_side) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(3'000));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "4"}),
               shifted_env(dir.path(), seconds), 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out << r.err;
  EXPECT_EQ(u64(*j, "invited"), 3'000u);
  EXPECT_EQ(u64(*j, "failed"), 0u);
  // The shift took effect (the service did refuse signatures) and was learnt, not retried blind:
  // at most one refusal per connection, and a single warning.
  const auto refused = emu.stat("auth_failures");
  EXPECT_GE(refused, 1u);
  EXPECT_LE(refused, 4u);
  EXPECT_TRUE(contains(r.err, warned_side)) << r.err;
  EXPECT_EQ(r.err.find("clock is"), r.err.rfind("clock is")) << "warned more than once:\n" << r.err;
  EXPECT_FALSE(contains(r.err, "refused our credentials")) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto counts = ledger_counts(emu.ledger_path());
  EXPECT_EQ(counts.size(), 3'000u);
  for (const auto& [address, times] : counts) ASSERT_EQ(times, 1) << address;
}

TEST(clock_skew_e2e, a_clock_ten_minutes_fast_completes_with_the_ledger_exact) {
  expect_run_completes_with_clock_shifted(600, "ahead of the service's");
}

TEST(clock_skew_e2e, a_clock_ten_minutes_slow_completes_with_the_ledger_exact) {
  expect_run_completes_with_clock_shifted(-600, "behind the service's");
}

}  // namespace
