// The run's window: --stop-at's next local time, read without a clock of its own (the time is an
// input), and the earlier of it and --max-duration chosen (durations_test.cpp reads durations).
#include <onboard/cli/run_window.hpp>

#include <gtest/gtest.h>

#include <ctime>

namespace {

using namespace std::chrono;
using onboard::next_stop_at;

// local: a local wall-clock time on 10 June 2026 (no daylight-saving change near it anywhere).
system_clock::time_point local(int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 5;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_isdst = -1;
  return system_clock::from_time_t(std::mktime(&tm));
}

TEST(run_window, stop_at_is_today_while_it_is_still_to_come_else_tomorrow) {
  const auto now = local(10, 10, 0);
  auto later = next_stop_at("18:00", now);
  ASSERT_TRUE(later);
  EXPECT_EQ(later->at, local(10, 18, 0));
  EXPECT_FALSE(later->tomorrow);
  auto earlier = next_stop_at("09:30", now);
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->at, local(11, 9, 30));
  EXPECT_TRUE(earlier->tomorrow);
  // The very minute it is now has passed: tomorrow's.
  auto same = next_stop_at("10:00", now);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->at, local(11, 10, 0));
  EXPECT_EQ(next_stop_at("7:05", now)->at, local(11, 7, 5));
  EXPECT_EQ(next_stop_at("23:59", now)->at, local(10, 23, 59));
  EXPECT_EQ(next_stop_at("00:00", now)->at, local(11, 0, 0));
}

TEST(run_window, stop_at_takes_only_hh_mm) {
  const auto now = local(10, 10, 0);
  for (const char* bad : {"", "18", "18:0", "24:00", "12:60", "-1:00", "18:00:00", "6pm", "18h00",
                          ":30", "123:00", "18:+5"})
    EXPECT_FALSE(next_stop_at(bad, now)) << "'" << bad << "'";
}

TEST(run_window, the_earlier_window_wins_and_says_which_flag_it_is) {
  const auto start = local(10, 10, 0);
  auto tomorrow = next_stop_at("09:00", start);
  auto d = onboard::earliest_deadline(hours(2), "2h", tomorrow, "09:00", start);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->at, local(10, 12, 0));
  EXPECT_EQ(d->why, "--max-duration 2h");
  EXPECT_EQ(onboard::window_text(*d, start), "stops at 12:00 today (--max-duration 2h)");

  d = onboard::earliest_deadline(hours(48), "48h", tomorrow, "09:00", start);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->why, "--stop-at 09:00");
  EXPECT_EQ(onboard::window_text(*d, start), "stops at 09:00 tomorrow (--stop-at 09:00)");

  EXPECT_FALSE(onboard::earliest_deadline(seconds(0), "", std::nullopt, "", start));
}

}  // namespace
