// The one grammar of the flags that take a length of time, and what each flag accepts of it.
#include <onboard/cli/durations.hpp>
#include <onboard/cli/progress.hpp>
#include <onboard/cli/run_window.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace {

using namespace std::chrono;
using onboard::duration_rules;
using onboard::parse_duration;

constexpr duration_rules wide{.min = milliseconds(1), .max = days(400), .bare_seconds = false};

// expect_reads: each text is read under `r` as its duration.
void expect_reads(const duration_rules& r,
                  std::initializer_list<std::pair<const char*, milliseconds>> cases) {
  for (const auto& [text, want] : cases) EXPECT_EQ(parse_duration(text, r), want) << text;
}

// expect_refused: each text is refused under `r`.
void expect_refused(const duration_rules& r, std::initializer_list<const char*> texts) {
  for (const char* text : texts) EXPECT_FALSE(parse_duration(text, r)) << "'" << text << "'";
}

TEST(durations, units_combined_largest_first_and_decimals) {
  expect_reads(wide, {{"90s", seconds(90)},
                      {"45m", minutes(45)},
                      {"2h", hours(2)},
                      {"1d", hours(24)},
                      {"500ms", milliseconds(500)},
                      {"1h30m", minutes(90)},
                      {"2h05m10s", seconds(2 * 3600 + 5 * 60 + 10)},
                      {"1s500ms", milliseconds(1500)},
                      {"1.5m", seconds(90)},
                      {"1.5h", minutes(90)},
                      {"0.25s", milliseconds(250)},
                      {"1d2h3m4s5ms", milliseconds(93'784'005)}});
}

TEST(durations, anything_else_is_refused) {
  expect_refused(wide, {"",      "s",
                        "ms",    "1x",
                        "-5m",   "+5m",
                        "30m1h", "5m5m",
                        "1ms1s", "1h ",
                        " 1h",   "2 h",
                        "1.s",   ".5s",
                        "1..5s", "1e3ms",
                        "nan",   "inf",
                        "infs",  "1,5m",
                        "1H",    "99999999999999999999s"});
}

TEST(durations, a_bare_number_is_seconds_only_where_the_flag_says_so) {
  expect_refused(wide, {"90"});
  const duration_rules bare{.min = milliseconds(1), .max = hours(1), .bare_seconds = true};
  expect_reads(bare, {{"90", seconds(90)}, {"1.5", milliseconds(1500)}});
  // Only as the whole value: a unit-less term after others is a typo.
  expect_refused(bare, {"1m30"});
}

TEST(durations, bounds_are_inclusive) {
  const duration_rules r{.min = seconds(1), .max = minutes(1), .bare_seconds = false};
  expect_reads(r, {{"1s", seconds(1)}, {"60s", seconds(60)}, {"1m", seconds(60)}});
  expect_refused(r, {"999ms", "1m1ms", "0s"});
}

TEST(durations, max_duration_takes_units_from_one_second_to_366_days) {
  const auto& r = onboard::max_duration_rules;
  expect_reads(r, {{"1h30m", minutes(90)}, {"1.5h", minutes(90)}, {"366d", days(366)}});
  expect_refused(r, {"90", "500ms", "0s", "0h0m", "367d"});
}

TEST(durations, stats_takes_units_or_seconds_from_100ms_to_24h) {
  const auto& r = onboard::stats_interval_rules;
  expect_reads(r, {{"500ms", milliseconds(500)},
                   {"10s", seconds(10)},
                   {"10", seconds(10)},
                   {"1.5m", seconds(90)},
                   {"1m30s", seconds(90)},
                   {"2h", hours(2)},
                   {"1d", hours(24)}});
  expect_refused(r, {"", "10x", "-1s", "50ms", "25h", "1 s"});
}

}  // namespace
