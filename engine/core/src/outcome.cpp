#include <onboard/core/outcome.hpp>

namespace onboard {

std::string_view to_string(operation op) { return op == operation::invite ? "invite" : "create"; }

std::string_view to_string(user_type t) {
  switch (t) {
    case user_type::private_user: return "PrivateUser";
    case user_type::shared_device: return "SharedDevice";
    case user_type::unspecified: break;
  }
  return "";
}

std::optional<user_type> parse_user_type(std::string_view s) {
  if (s.empty()) return user_type::unspecified;
  if (s == "PrivateUser") return user_type::private_user;
  if (s == "SharedDevice") return user_type::shared_device;
  return std::nullopt;
}

std::string_view to_string(outcome_kind k) {
  switch (k) {
    case outcome_kind::invited: return "invited";
    case outcome_kind::created: return "created";
    case outcome_kind::exists: return "exists";
    case outcome_kind::not_sent: return "not_sent";
    case outcome_kind::failed: break;
  }
  return "failed";
}

std::optional<outcome_kind> parse_outcome_kind(std::string_view s) {
  if (s == "invited") return outcome_kind::invited;
  if (s == "created") return outcome_kind::created;
  if (s == "exists") return outcome_kind::exists;
  if (s == "failed") return outcome_kind::failed;
  if (s == "not_sent") return outcome_kind::not_sent;
  return std::nullopt;
}

}  // namespace onboard
