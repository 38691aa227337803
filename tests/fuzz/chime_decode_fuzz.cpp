// fuzz_chime_decode: the Chime response decoders on arbitrary bodies. A decoder returns a value or
// an error, never both, never neither; decode_error is total (its code may be empty for a header
// like ":x" or a `__type` ending in '#', which callers treat as unknown).
#include "fuzz_common.hpp"

#include <onboard/engine/chime_api.hpp>

#include <cstdlib>

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
template <class T>
void check_decoded(const onboard::chime::decoded<T>& d) {
  check(d.value.has_value() != !d.error.empty());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto all = onboard::fuzz::as_view(data, size);
  // First line: the x-amzn-ErrorType header for decode_error; the rest: the body (also the whole
  // input goes through every decoder, so plain JSON seeds work as they are).
  auto rest = all;
  auto header = onboard::fuzz::take_line(rest);
  check_decoded(onboard::chime::decode_invites(all));
  check_decoded(onboard::chime::decode_created_user(all));
  check_decoded(onboard::chime::decode_users(all));
  for (unsigned status : {400u, 429u, 500u, 503u}) {
    auto e = onboard::chime::decode_error(status, {}, all);
    check(e.message.size() <= all.size() + 1024 || !e.message.empty());
  }
  (void)onboard::chime::decode_error(403, header, rest);
  return 0;
}
