// onboard/cli/durations.hpp: the one grammar of the flags that take a length of time
// (--max-duration, --stats).
//
// A duration is one or more terms, each a number and a unit, larger units first and each at most
// once: "90s", "45m", "1.5m", "500ms", "1h30m", "2h05m10s", "1d". Units: d, h, m, s, ms. A
// number is digits with an optional decimal part ("1.5"); no sign, exponent or spaces. A bare
// number is seconds only for a flag that documents it so (duration_rules::bare_seconds).
//
//   auto d = onboard::parse_duration("1h30m", {.min = 1s, .max = 24h, .bare_seconds = false});
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace onboard {

// duration_rules: what one flag accepts.
struct duration_rules {
  std::chrono::milliseconds min{1};
  std::chrono::milliseconds max{std::chrono::hours(24)};
  bool bare_seconds = false;  // a number without a unit is a number of seconds
};

// parse_duration: `text` in the grammar above, rounded to the millisecond, within `rules`' bounds
// (both included); nullopt for anything else.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        const duration_rules& rules);

}  // namespace onboard
