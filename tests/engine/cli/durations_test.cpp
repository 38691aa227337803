// The one grammar of the flags that take a length of time, and what each flag accepts of it.
#include <onboard/cli/durations.hpp>
#include <onboard/cli/progress.hpp>
#include <onboard/cli/run_window.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono;
using onboard::duration_rules;
using onboard::parse_duration;

constexpr duration_rules wide{.min = milliseconds(1), .max = days(400), .bare_seconds = false};

TEST(durations, units_combined_largest_first_and_decimals) {
  EXPECT_EQ(parse_duration("90s", wide), seconds(90));
  EXPECT_EQ(parse_duration("45m", wide), minutes(45));
  EXPECT_EQ(parse_duration("2h", wide), hours(2));
  EXPECT_EQ(parse_duration("1d", wide), hours(24));
  EXPECT_EQ(parse_duration("500ms", wide), milliseconds(500));
  EXPECT_EQ(parse_duration("1h30m", wide), minutes(90));
  EXPECT_EQ(parse_duration("2h05m10s", wide), seconds(2 * 3600 + 5 * 60 + 10));
  EXPECT_EQ(parse_duration("1s500ms", wide), milliseconds(1500));
  EXPECT_EQ(parse_duration("1.5m", wide), seconds(90));
  EXPECT_EQ(parse_duration("1.5h", wide), minutes(90));
  EXPECT_EQ(parse_duration("0.25s", wide), milliseconds(250));
  EXPECT_EQ(parse_duration("1d2h3m4s5ms", wide), milliseconds(93'784'005));
}

TEST(durations, anything_else_is_refused) {
  for (const char* bad : {"",      "s",
                          "ms",    "1x",
                          "-5m",   "+5m",
                          "30m1h", "5m5m",
                          "1ms1s", "1h ",
                          " 1h",   "2 h",
                          "1.s",   ".5s",
                          "1..5s", "1e3ms",
                          "nan",   "inf",
                          "infs",  "1,5m",
                          "1H",    "99999999999999999999s"})
    EXPECT_FALSE(parse_duration(bad, wide)) << "'" << bad << "'";
}

TEST(durations, a_bare_number_is_seconds_only_where_the_flag_says_so) {
  EXPECT_FALSE(parse_duration("90", wide));
  const duration_rules bare{.min = milliseconds(1), .max = hours(1), .bare_seconds = true};
  EXPECT_EQ(parse_duration("90", bare), seconds(90));
  EXPECT_EQ(parse_duration("1.5", bare), milliseconds(1500));
  // Only as the whole value: a unit-less term after others is a typo.
  EXPECT_FALSE(parse_duration("1m30", bare));
}

TEST(durations, bounds_are_inclusive) {
  const duration_rules r{.min = seconds(1), .max = minutes(1), .bare_seconds = false};
  EXPECT_EQ(parse_duration("1s", r), seconds(1));
  EXPECT_EQ(parse_duration("60s", r), seconds(60));
  EXPECT_EQ(parse_duration("1m", r), seconds(60));
  EXPECT_FALSE(parse_duration("999ms", r));
  EXPECT_FALSE(parse_duration("1m1ms", r));
  EXPECT_FALSE(parse_duration("0s", r));
}

TEST(durations, max_duration_takes_units_from_one_second_to_366_days) {
  const auto& r = onboard::max_duration_rules;
  EXPECT_EQ(parse_duration("1h30m", r), minutes(90));
  EXPECT_EQ(parse_duration("1.5h", r), minutes(90));
  EXPECT_EQ(parse_duration("366d", r), days(366));
  for (const char* bad : {"90", "500ms", "0s", "0h0m", "367d"})
    EXPECT_FALSE(parse_duration(bad, r)) << "'" << bad << "'";
}

TEST(durations, stats_takes_units_or_seconds_from_100ms_to_24h) {
  const auto& r = onboard::stats_interval_rules;
  EXPECT_EQ(parse_duration("500ms", r), milliseconds(500));
  EXPECT_EQ(parse_duration("10s", r), seconds(10));
  EXPECT_EQ(parse_duration("10", r), seconds(10));
  EXPECT_EQ(parse_duration("1.5m", r), seconds(90));
  EXPECT_EQ(parse_duration("1m30s", r), seconds(90));
  EXPECT_EQ(parse_duration("2h", r), hours(2));
  EXPECT_EQ(parse_duration("1d", r), hours(24));
  for (const char* bad : {"", "10x", "-1s", "50ms", "25h", "1 s"})
    EXPECT_FALSE(parse_duration(bad, r)) << "'" << bad << "'";
}

}  // namespace
