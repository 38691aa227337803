// onboard/cli/run_window.hpp: the time a run may take. `--max-duration 2h` and `--stop-at 18:00`
// end a run by themselves, as Ctrl-C does (no new requests, the journal consistent, exit 5 and the
// command to resume), so that a migration can be spread over evenings or kept out of office hours.
//
//   auto d = onboard::parse_duration("1h30m", onboard::max_duration_rules);  // 5400 s
//   auto t = onboard::next_stop_at("18:00", system_clock::now());
//   if (t) use(t->at, t->tomorrow);                       // the next 18:00, local time
#pragma once

#include <onboard/cli/durations.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

// max_duration_rules: --max-duration: a duration (durations.hpp: "90s", "1.5h", "1h30m") from
// one second to 366 days; a bare number is refused (seconds or minutes? a run is not the place
// to guess).
inline constexpr duration_rules max_duration_rules{
    .min = std::chrono::seconds(1), .max = std::chrono::days(366), .bare_seconds = false};

// stop_time: the next moment a wall-clock time occurs.
struct stop_time {
  std::chrono::system_clock::time_point at;
  bool tomorrow = false;  // false: later today
};

// next_stop_at: the next "HH:MM" (00:00 to 23:59, local time, the process's TZ) after `now`:
// today when it is still to come, else tomorrow. nullopt when `hhmm` is not such a time.
std::optional<stop_time> next_stop_at(std::string_view hhmm,
                                      std::chrono::system_clock::time_point now);

// run_deadline: when a run must stop by itself, and why, for its messages.
struct run_deadline {
  std::chrono::system_clock::time_point at;
  std::string why;  // "--max-duration 2h", "--stop-at 18:00"
};

// earliest_deadline: the earlier of the two windows (either may be absent); nullopt when neither.
// `started` is when the run began (--max-duration counts from there).
std::optional<run_deadline> earliest_deadline(std::chrono::milliseconds max_duration,
                                              std::string_view max_duration_text,
                                              const std::optional<stop_time>& stop_at,
                                              std::string_view stop_at_text,
                                              std::chrono::system_clock::time_point started);

// window_text: the deadline for the banner, in local time: "stops at 18:00 tomorrow
// (--stop-at 18:00)", "stops at 14:35 today (--max-duration 2h)".
std::string window_text(const run_deadline& d, std::chrono::system_clock::time_point now);

}  // namespace onboard
