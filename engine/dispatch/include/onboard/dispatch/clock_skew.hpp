// onboard/dispatch/clock_skew.hpp: telling a refusal our clock explains from one of our
// credentials, and learning the service's time from its answer.
//
// A SigV4 signature dated outside the service's window (5 minutes) is refused before anything
// else is checked. Chime's front end answers 403 InvalidSignatureException "Signature expired:
// ..." or "Signature not yet current: ..."; other AWS front ends say RequestTimeTooSkewed,
// RequestExpired or RequestInTheFuture. Each answer carries the service's `Date`, from which the
// offset to sign with is learnt (as the AWS SDKs for Java and Go do; botocore has no correction).
//
// The run's dispatcher and the calls around it (pre-flight, export-users: service_get.hpp) mend
// a refused signature the same way, from signature_mend_for:
//
//   auto mend = onboard::engine::signature_mend_for(response, received, signer.clock_offset());
//   if (mend.clock_offset) { signer.set_clock_offset(*mend.clock_offset); /* resend once */ }
//   else if (mend.refresh_credentials) { /* refresh_after_refusal, then resend once */ }
#pragma once

#include <onboard/dispatch/transport.hpp>

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

// signature_mend: what would make the service take a request it refused for its signature, on
// one more try: our clock's offset corrected, else the credentials refreshed. Neither: nothing a
// new signature would change.
struct signature_mend {
  std::optional<std::chrono::milliseconds> clock_offset;  // sign with it from now on
  bool refresh_credentials = false;  // the service refused them as expired (expired_credentials)
};

// signature_mend_for: the mend answer `r` asks for, received at `received` for a request signed
// with `offset_used`. Our clock first (skew_correction): a signature dated outside the service's
// window is refused whatever its credentials. An answer that is evidently not the service's
// (classify_answer's `foreign`) asks for no new credentials, whatever its page says.
signature_mend signature_mend_for(const incoming_response& r,
                                  std::chrono::system_clock::time_point received,
                                  std::chrono::milliseconds offset_used);

// skew_warning: what to say, once, when a learnt offset is over a minute (a clock worth setting
// right); "" when it is smaller.
std::string skew_warning(std::chrono::milliseconds offset);

}  // namespace onboard::engine
