#include <onboard/dispatch/refusal_watch.hpp>

#include <charconv>
#include <cmath>

namespace onboard::engine {

bool failure_limit::reached(std::uint64_t failed, std::uint64_t settled) const {
  if (count > 0 && failed >= count) return true;
  return percent > 0 && settled >= sample &&
         static_cast<double>(failed) * 100 >= percent * static_cast<double>(settled);
}

std::optional<failure_limit> parse_failure_limit(std::string_view text, std::string& error) {
  const bool is_percent = !text.empty() && text.back() == '%';
  std::string_view digits = is_percent ? text.substr(0, text.size() - 1) : text;
  failure_limit limit;
  const char* end = digits.data() + digits.size();
  if (is_percent) {
    double p = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), end, p);
    if (ec == std::errc{} && ptr == end && !digits.empty() && std::isfinite(p) && p > 0 &&
        p <= 100) {
      limit.percent = p;
      return limit;
    }
    error = "--max-failures: expected a percentage above 0 and at most 100 (as 5%), got '" +
            std::string(text) + "'";
    return std::nullopt;
  }
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), end, n);
  if (ec == std::errc{} && ptr == end && !digits.empty() && n > 0) {
    limit.count = n;
    return limit;
  }
  error =
      "--max-failures: expected a number of addresses (1 or more) or a percentage (as 5%), "
      "got '" +
      std::string(text) + "'";
  return std::nullopt;
}

bool refusal_watch::on_refusal(std::string_view code, std::string_view message) {
  if (cleared_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lk(mu_);
  if (alike_ == 0) {
    code_.assign(code);
    message_.assign(message);
  } else if (code != code_ || message != message_) {
    cleared_.store(true, std::memory_order_relaxed);
    return false;
  }
  return ++alike_ >= systemic_after;
}

void refusal_watch::on_success() { cleared_.store(true, std::memory_order_relaxed); }

}  // namespace onboard::engine
