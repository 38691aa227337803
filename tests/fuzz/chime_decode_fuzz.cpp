// fuzz_chime_decode: the Chime response decoders on arbitrary bodies. A decoder returns a value or
// an error, never both, never neither; decode_error is total (its code may be empty for a header
// like ":x" or a `__type` ending in '#', which callers treat as unknown). decode_invites, a
// streaming decoder, must agree exactly with the document-based reference in testkit.
#include "fuzz_common.hpp"

#include <onboard/chime/chime_api.hpp>
#include <onboard/chime/user_page.hpp>
#include <testkit/invites_reference.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
template <class T>
void check_decoded(const onboard::chime::decoded<T>& d) {
  check(d.value.has_value() != !d.error.empty());
}
bool same(const onboard::chime::invite& a, const onboard::chime::invite& b) {
  return a.invite_id == b.invite_id && a.status == b.status && a.email_address == b.email_address &&
         a.email_status == b.email_status;
}
bool same(const std::vector<onboard::chime::invite>& a,
          const std::vector<onboard::chime::invite>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}
void check_agrees(std::string_view body) {
  auto fast = onboard::chime::decode_invites(body);
  auto ref = onboard::testkit::reference_decode_invites(body);
  check_decoded(fast);
  check(fast.error == ref.error);
  // Also into a vector that keeps what earlier inputs left in it, as a sender's scratch does.
  static std::vector<onboard::chime::invite> reused;
  std::string error;
  const bool ok = onboard::chime::decode_invites(body, reused, error);
  check(ok == fast.value.has_value());
  if (!fast) {
    check(reused.empty() && error == ref.error);
    return;
  }
  check(same(*fast.value, *ref.value));
  check(same(reused, *ref.value));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto all = onboard::fuzz::as_view(data, size);
  // First line: the x-amzn-ErrorType header for decode_error; the rest: the body (also the whole
  // input goes through every decoder, so plain JSON seeds work as they are).
  auto rest = all;
  auto header = onboard::fuzz::take_line(rest);
  check_agrees(all);
  check_decoded(onboard::chime::decode_created_user(all));
  check_decoded(onboard::chime::decode_user_page(all));
  for (unsigned status : {400u, 429u, 500u, 503u}) {
    auto e = onboard::chime::decode_error(status, {}, all);
    check(e.message.size() <= all.size() + 1024 || !e.message.empty());
  }
  (void)onboard::chime::decode_error(403, header, rest);
  return 0;
}
