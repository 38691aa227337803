#include <onboard/chime/suspend.hpp>

#include <onboard/core/text.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/json.hpp>

namespace onboard::chime {

namespace json = boost::json;

std::string suspend_target(std::string_view account_id) {
  return "/accounts/" + signing::uri_encode(account_id, /*keep_slash=*/false) +
         "/users?operation=suspend";
}

std::string suspend_body(std::span<const std::string> user_ids) {
  std::string out = "{\"UserIdList\":[";
  for (std::size_t i = 0; i < user_ids.size(); ++i) {
    if (i) out.push_back(',');
    json_string(out, user_ids[i]);
  }
  return out + "]}";
}

decoded<std::vector<user_error>> decode_user_errors(std::string_view body) {
  decoded<std::vector<user_error>> r;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    r.error = "BatchSuspendUser answer is not a JSON object";
    return r;
  }
  std::vector<user_error> out;
  if (auto it = v.get_object().find("UserErrors"); it != v.get_object().end()) {
    if (!it->value().is_array()) {
      r.error = "UserErrors is not an array";
      return r;
    }
    for (const auto& e : it->value().get_array()) {
      if (!e.is_object()) {
        r.error = "an element of UserErrors is not an object";
        return r;
      }
      auto str = [&](std::string_view k) {
        auto* m = e.get_object().if_contains(k);
        return m && m->is_string() ? std::string(m->get_string()) : std::string();
      };
      out.push_back({str("UserId"), str("ErrorCode"), str("ErrorMessage")});
    }
  }
  r.value = std::move(out);
  return r;
}

}  // namespace onboard::chime
