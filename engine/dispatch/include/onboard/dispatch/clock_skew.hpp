// onboard/dispatch/clock_skew.hpp: telling a refusal our clock explains from one of our
// credentials, and learning the service's time from its answer.
//
// A SigV4 signature dated outside the service's window (5 minutes) is refused before anything
// else is checked. Chime's front end answers 403 InvalidSignatureException "Signature expired:
// ..." or "Signature not yet current: ..."; other AWS front ends say RequestTimeTooSkewed,
// RequestExpired or RequestInTheFuture. Each answer carries the service's `Date`, from which the
// offset to sign with is learnt (as the AWS SDKs for Java and Go do; botocore has no correction).
//
//   auto fix = onboard::engine::skew_correction({status, error_type, body, date}, received,
//                                               signer.clock_offset());
//   if (fix) { signer.set_clock_offset(*fix); /* sign again and resend once */ }
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::engine {

// refusal: what skew detection reads of an answer.
struct refusal {
  int status = 0;
  std::string_view error_type;  // x-amzn-ErrorType (the part before ':' is the code)
  std::string_view body;
  std::string_view date;  // the Date header
};

// signing_time_refused: the answer says, by its code or its message, that the request's signing
// time is outside the service's window. Such a refusal never counts against the credentials.
bool signing_time_refused(const refusal& r);

// skew_correction: the clock offset (service minus local) to sign with from now on, when `r`
// refuses the request in a way our clock explains and its Date says the time we signed at
// (`received` + `offset_used`) was off: by more than the Date's one-second resolution for a
// signing-time refusal; by more than `generic_skew` for a bare 401/403 (a smaller error cannot
// have caused it: the service's window is 5 minutes). nullopt otherwise, and when Date is
// missing or unreadable.
inline constexpr std::chrono::minutes generic_skew{4};
std::optional<std::chrono::milliseconds> skew_correction(
    const refusal& r, std::chrono::system_clock::time_point received,
    std::chrono::milliseconds offset_used);

// skew_warning: what to say, once, when a learnt offset is over a minute (a clock worth setting
// right); "" when it is smaller.
std::string skew_warning(std::chrono::milliseconds offset);

}  // namespace onboard::engine
