#include <onboard/chime/user_page.hpp>

#include <onboard/signing/sigv4.hpp>

#include <boost/json.hpp>

namespace onboard::chime {

namespace json = boost::json;

std::string user_page_target(std::string_view account_id, int max_results,
                             std::string_view next_token) {
  std::string t = "/accounts/" + signing::uri_encode(account_id, /*keep_slash=*/false) +
                  "/users?max-results=" + std::to_string(max_results);
  if (!next_token.empty())
    t += "&next-token=" + signing::uri_encode(next_token, /*keep_slash=*/false);
  return t;
}

namespace {

std::string member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

}  // namespace

decoded<user_page> decode_user_page(std::string_view body) {
  decoded<user_page> r;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    r.error = "response is not JSON: " + ec.message();
    return r;
  }
  if (!v.is_object()) {
    r.error = "response is not a JSON object";
    return r;
  }
  const auto& o = v.get_object();
  user_page page;
  if (auto it = o.find("Users"); it != o.end()) {
    if (!it->value().is_array()) {
      r.error = "Users is not an array";
      return r;
    }
    page.has_users = true;
    for (const auto& e : it->value().get_array()) {
      if (!e.is_object()) {
        r.error = "an element of Users is not an object";
        return r;
      }
      const auto& u = e.get_object();
      page.users.push_back({.user_id = member(u, "UserId"),
                            .primary_email = member(u, "PrimaryEmail"),
                            .user_type = member(u, "UserType"),
                            .license_type = member(u, "LicenseType"),
                            .invitation_status = member(u, "UserInvitationStatus"),
                            .registration_status = member(u, "UserRegistrationStatus"),
                            .invited_on = member(u, "InvitedOn")});
    }
  }
  if (auto it = o.find("NextToken"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_string()) {
      r.error = "NextToken is not a string";
      return r;
    }
    page.next_token = std::string(it->value().get_string());
  }
  r.value = std::move(page);
  return r;
}

}  // namespace onboard::chime
