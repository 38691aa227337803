// run_window.cpp: reading the run's time limits.
#include <onboard/cli/run_window.hpp>

#include <charconv>
#include <ctime>

namespace onboard {

std::optional<stop_time> next_stop_at(std::string_view hhmm,
                                      std::chrono::system_clock::time_point now) {
  const auto colon = hhmm.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || hhmm.size() != colon + 3)
    return std::nullopt;
  int hour = -1, minute = -1;
  auto h = std::from_chars(hhmm.data(), hhmm.data() + colon, hour);
  auto m = std::from_chars(hhmm.data() + colon + 1, hhmm.data() + hhmm.size(), minute);
  if (h.ec != std::errc() || h.ptr != hhmm.data() + colon || m.ec != std::errc() ||
      m.ptr != hhmm.data() + hhmm.size() || hour < 0 || hour > 23 || minute < 0 || minute > 59)
    return std::nullopt;
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  // mktime with tm_isdst = -1 settles the offset of the day asked for, so a stop time on the far
  // side of a daylight-saving change is still that wall-clock time.
  auto at = [&](int day_offset) {
    std::tm want = tm;
    want.tm_mday += day_offset;
    want.tm_hour = hour;
    want.tm_min = minute;
    want.tm_sec = 0;
    want.tm_isdst = -1;
    return std::chrono::system_clock::from_time_t(std::mktime(&want));
  };
  if (auto today = at(0); today > now) return stop_time{today, false};
  return stop_time{at(1), true};
}

std::optional<run_deadline> earliest_deadline(std::chrono::milliseconds max_duration,
                                              std::string_view max_duration_text,
                                              const std::optional<stop_time>& stop_at,
                                              std::string_view stop_at_text,
                                              std::chrono::system_clock::time_point started) {
  std::optional<run_deadline> d;
  if (max_duration.count() > 0)
    d = run_deadline{started + max_duration, "--max-duration " + std::string(max_duration_text)};
  if (stop_at && (!d || stop_at->at < d->at))
    d = run_deadline{stop_at->at, "--stop-at " + std::string(stop_at_text)};
  return d;
}

std::string window_text(const run_deadline& d, std::chrono::system_clock::time_point now) {
  const std::time_t at = std::chrono::system_clock::to_time_t(d.at);
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm a{}, n{};
  ::localtime_r(&at, &a);
  ::localtime_r(&t, &n);
  char hhmm[16];
  std::strftime(hhmm, sizeof hhmm, a.tm_sec ? "%H:%M:%S" : "%H:%M", &a);
  std::string day;
  if (a.tm_year == n.tm_year && a.tm_yday == n.tm_yday) {
    day = "today";
  } else {
    std::tm next = n;
    next.tm_mday += 1;
    next.tm_isdst = -1;
    std::mktime(&next);
    if (a.tm_year == next.tm_year && a.tm_yday == next.tm_yday) {
      day = "tomorrow";
    } else {
      char date[16];
      std::strftime(date, sizeof date, "%Y-%m-%d", &a);
      day = date;
    }
  }
  return "stops at " + std::string(hhmm) + " " + day + " (" + d.why + ")";
}

}  // namespace onboard
