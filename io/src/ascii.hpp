// ascii.hpp (internal to io): the one lower-casing rule io's parsers share (URL schemes and
// hosts, NO_PROXY entries). ASCII only: hosts are already punycode here.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace onboard::io::detail {

inline std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace onboard::io::detail
