// durations.cpp: see durations.hpp.
#include <onboard/cli/durations.hpp>

#include <charconv>
#include <cmath>
#include <iterator>

namespace onboard {

namespace {

// number: the digits, and the decimal part if any, at the front of `s`; its length in `used`.
std::optional<double> number(std::string_view s, std::size_t& used) {
  auto digits = [&](std::size_t from) {
    std::size_t i = from;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - from;
  };
  std::size_t n = digits(0);
  if (n == 0) return std::nullopt;
  if (n < s.size() && s[n] == '.') {
    const std::size_t fraction = digits(n + 1);
    if (fraction == 0) return std::nullopt;
    n += 1 + fraction;
  }
  // Digits and one point only: from_chars cannot meet a sign, an exponent, "inf" or "nan" here.
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + n, v);
  if (ec != std::errc{} || end != s.data() + n || !std::isfinite(v)) return std::nullopt;
  used = n;
  return v;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        const duration_rules& rules) {
  // In the order a duration must follow: each unit at most once, larger ones first.
  static constexpr struct {
    std::string_view unit;
    double ms;
  } units[] = {{"d", 86400e3}, {"h", 3600e3}, {"m", 60e3}, {"s", 1e3}, {"ms", 1}};
  if (text.empty()) return std::nullopt;
  double total = 0;
  std::size_t next_unit = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::size_t used = 0;
    const auto v = number(rest, used);
    if (!v) return std::nullopt;
    rest.remove_prefix(used);
    if (rest.empty()) {
      // A bare number: seconds, where the flag says so, and only as the whole value.
      if (!rules.bare_seconds || used != text.size()) return std::nullopt;
      total = *v * 1e3;
      break;
    }
    // The longest unit that fits: "5ms" is milliseconds, not minutes followed by an 's'.
    std::size_t u = std::size(units);
    for (std::size_t i = 0; i < std::size(units); ++i)
      if (rest.starts_with(units[i].unit) &&
          (u == std::size(units) || units[i].unit.size() > units[u].unit.size()))
        u = i;
    // Out of order or repeated ("30m1h", "5m5m"): likely a typo, refused.
    if (u == std::size(units) || u < next_unit) return std::nullopt;
    next_unit = u + 1;
    total += *v * units[u].ms;
    rest.remove_prefix(units[u].unit.size());
  }
  // Far past any bound: refused before the conversion, which it would overflow.
  if (!(total < 1e15)) return std::nullopt;
  const std::chrono::milliseconds d(std::llround(total));
  if (d < rules.min || d > rules.max) return std::nullopt;
  return d;
}

}  // namespace onboard
