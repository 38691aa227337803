#include <onboard/dispatch/transport.hpp>

#include <onboard/core/text.hpp>

namespace onboard {

std::string_view incoming_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

}  // namespace onboard
