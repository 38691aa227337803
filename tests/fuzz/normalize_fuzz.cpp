// fuzz_normalize: the address normaliser/validator. Checks the documented invariants: accepted
// addresses are <= 254 octets, ASCII, contain '@', and normalising is idempotent; the hot-path form
// and the std::string form agree, and so do every vectorised fast path the CPU has and the
// byte-wise passes; dedupe_text and the reason names are total.
#include "fuzz_common.hpp"

#include <onboard/ingest/normalize.hpp>

#include <cstdlib>
#include <string>

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto raw = onboard::fuzz::as_view(data, size);
  std::string out;
  const auto why = onboard::normalize_email(raw, out);

  char buf[onboard::max_email_octets];
  std::size_t len = 0;
  const auto why2 = onboard::normalize_email(raw, buf, len);
  check(why == why2);
  // Every vectorised fast path this CPU has must agree with the byte-wise passes.
  char ref[onboard::max_email_octets];
  std::size_t ref_len = 0;
  const auto ref_why = onboard::detail::normalize_email_bytewise(raw, ref, ref_len);
  check(ref_why == why);
  for (auto path : {onboard::detail::fast_path::sse2, onboard::detail::fast_path::avx512}) {
    if (!onboard::detail::fast_path_available(path)) continue;
    char via[onboard::max_email_octets];
    std::size_t via_len = 0;
    check(onboard::detail::normalize_email_via(path, raw, via, via_len) == ref_why);
    if (ref_why == onboard::reason::none)
      check(std::string_view(via, via_len) == std::string_view(ref, ref_len));
  }
  check(onboard::parse_reason(onboard::to_string(why)).value_or(onboard::reason::none) == why);

  if (why == onboard::reason::none) {
    check(std::string_view(buf, len) == out);
    check(!out.empty() && out.size() <= onboard::max_email_octets);
    check(out.find('@') != std::string::npos);
    for (unsigned char c : out) check(c > 0x20 && c < 0x7f);
    std::string again;
    check(onboard::normalize_email(out, again) == onboard::reason::none);
    check(again == out);
    const auto d1 = onboard::dedupe_text(out, false);
    const auto d2 = onboard::dedupe_text(out, true);
    check(d1.size() == out.size() && d2.size() == out.size());
  }
  (void)onboard::trim_ascii(raw);
  (void)onboard::parse_user_type_lenient(raw);
  return 0;
}
