#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/retry_policy.hpp>

#include <onboard/core/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <array>

namespace onboard::engine {

namespace {

constexpr std::array<std::string_view, 3> skew_codes{"RequestTimeTooSkewed", "RequestExpired",
                                                     "RequestInTheFuture"};
// The front end's messages, whatever code carries them (InvalidSignatureException for Chime).
constexpr std::array<std::string_view, 2> skew_messages{"Signature expired",
                                                        "Signature not yet current"};

}  // namespace

bool signing_time_refused(const refusal& r) {
  if (r.status < 400 || r.status >= 500) return false;
  const std::string_view code = r.error_type.substr(0, r.error_type.find(':'));
  if (std::any_of(skew_codes.begin(), skew_codes.end(),
                  [&](std::string_view c) { return iequals(c, code); }))
    return true;
  return std::any_of(skew_messages.begin(), skew_messages.end(),
                     [&](std::string_view m) { return r.body.find(m) != std::string_view::npos; });
}

std::optional<std::chrono::milliseconds> skew_correction(
    const refusal& r, std::chrono::system_clock::time_point received,
    std::chrono::milliseconds offset_used) {
  using namespace std::chrono;
  const bool explicit_refusal = signing_time_refused(r);
  if (!explicit_refusal && r.status != 401 && r.status != 403) return std::nullopt;
  const auto server = parse_http_date(r.date);
  if (!server) return std::nullopt;
  // Date has whole seconds: the local time is truncated alike, so that a correct clock measures
  // an offset of 0 (not -0.4 s), and a corrected one is not corrected again.
  const auto local = floor<seconds>(received);
  const auto measured = duration_cast<milliseconds>(*server - local);
  const auto error = measured > offset_used ? measured - offset_used : offset_used - measured;
  const milliseconds tolerance = explicit_refusal ? milliseconds(seconds(1)) : generic_skew;
  if (error <= tolerance) return std::nullopt;
  return measured;
}

signature_mend signature_mend_for(const incoming_response& r,
                                  std::chrono::system_clock::time_point received,
                                  std::chrono::milliseconds offset_used) {
  signature_mend m;
  const int status = static_cast<int>(r.status);
  const std::string_view error_type = r.header("x-amzn-ErrorType");
  m.clock_offset =
      skew_correction({status, error_type, r.body, r.header("Date")}, received, offset_used);
  if (m.clock_offset) return m;
  const answer a{status, error_type, r.header("x-amzn-RequestId"), r.body};
  m.refresh_credentials = !foreign_answer(a) && expired_credentials(a);
  return m;
}

std::string skew_warning(std::chrono::milliseconds offset) {
  const double seconds = std::chrono::duration<double>(offset).count();
  if (std::abs(seconds) <= 60.0) return {};
  return fmt::format(
      "this machine's clock is {:.0f} s {} the service's (its Date header), so the service "
      "refused our signatures as {}; signing with the service's time from now on. Set the "
      "clock right (NTP) to avoid this",
      std::abs(seconds), seconds > 0 ? "behind" : "ahead of", seconds > 0 ? "too old" : "too new");
}

}  // namespace onboard::engine
