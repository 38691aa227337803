#include <onboard/chime/chime_api.hpp>

#include <onboard/core/text.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/json.hpp>

namespace onboard::chime {

namespace json = boost::json;

namespace {

std::string string_member(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

// parse_json: `body` as a JSON object whose storage comes from `mr`.
std::optional<json::value> parse_json(std::string_view body, json::storage_ptr sp,
                                      std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, std::move(sp));
  if (ec) {
    error = "response is not JSON: " + ec.message();
    return std::nullopt;
  }
  if (!v.is_object()) {
    error = "response is not a JSON object";
    return std::nullopt;
  }
  return v;
}

// scratch_storage: arena for one response's parse tree. A 50-invite InviteUsers response
// (~6 KB) fits in the inline buffer, so decoding it calls malloc only for the strings it returns
// (the default storage would allocate every key, string and object separately).
class scratch_storage {
 public:
  json::storage_ptr get() { return json::storage_ptr(&arena_); }

 private:
  alignas(16) unsigned char buffer_[24 * 1024];
  json::monotonic_resource arena_{buffer_, sizeof buffer_};
};

user user_from(const json::object& o) {
  return {string_member(o, "UserId"), string_member(o, "PrimaryEmail"),
          string_member(o, "UserInvitationStatus"), string_member(o, "UserRegistrationStatus")};
}

}  // namespace

std::string users_target(std::string_view account_id, operation op) {
  // The account id is a URI label: every byte outside RFC 3986's unreserved set is %-encoded.
  std::string t = "/accounts/" + signing::uri_encode(account_id, /*keep_slash=*/false);
  t += op == operation::invite ? "/users?operation=add" : "/users?operation=create";
  return t;
}

std::string account_target(std::string_view account_id) {
  return "/accounts/" + signing::uri_encode(account_id, /*keep_slash=*/false);
}

std::string list_users_target(std::string_view account_id, std::string_view email) {
  return account_target(account_id) +
         "/users?user-email=" + signing::uri_encode(email, /*keep_slash=*/false);
}

std::string list_users_probe_target(std::string_view account_id) {
  return account_target(account_id) + "/users?max-results=1";
}

std::string invite_users_body(std::span<const std::string_view> emails, user_type type) {
  std::string body;
  std::size_t bytes = 40;
  for (auto e : emails) bytes += e.size() + 3;
  body.reserve(bytes);
  body += "{\"UserEmailList\":[";
  for (std::size_t i = 0; i < emails.size(); ++i) {
    if (i) body += ',';
    json_string(body, emails[i]);
  }
  body += ']';
  if (type != user_type::unspecified) {
    body += ",\"UserType\":";
    json_string(body, to_string(type));
  }
  body += '}';
  return body;
}

std::string invite_users_body(std::span<const std::string> emails, user_type type) {
  std::vector<std::string_view> views(emails.begin(), emails.end());
  return invite_users_body(views, type);
}

std::string create_user_body(std::string_view email, std::string_view username, user_type type) {
  std::string body = "{";
  auto member = [&](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    if (body.size() > 1) body += ',';
    json_string(body, name);
    body += ':';
    json_string(body, value);
  };
  member("Email", email);
  member("Username", username);
  member("UserType", to_string(type));
  body += '}';
  return body;
}

// decode_invites: chime_invites.cpp.

decoded<user> decode_created_user(std::string_view body) {
  decoded<user> r;
  scratch_storage scratch;
  auto v = parse_json(body, scratch.get(), r.error);
  if (!v) return r;
  auto it = v->get_object().find("User");
  if (it == v->get_object().end() || !it->value().is_object()) {
    r.error = "response has no User object";
    return r;
  }
  r.value = user_from(it->value().get_object());
  if (r.value->user_id.empty()) {
    r.value.reset();
    r.error = "User has no UserId";
  }
  return r;
}

decoded<account> decode_account(std::string_view body) {
  decoded<account> r;
  scratch_storage scratch;
  auto v = parse_json(body, scratch.get(), r.error);
  if (!v) return r;
  auto it = v->get_object().find("Account");
  if (it == v->get_object().end() || !it->value().is_object()) {
    r.error = "response has no Account object";
    return r;
  }
  const auto& o = it->value().get_object();
  account a{string_member(o, "AccountId"), string_member(o, "Name"),
            string_member(o, "AccountType"), string_member(o, "AccountStatus")};
  if (a.account_id.empty()) {
    r.error = "Account has no AccountId";
    return r;
  }
  r.value = std::move(a);
  return r;
}

service_error decode_error(unsigned status, std::string_view error_type_header,
                           std::string_view body) {
  service_error e;
  json::object obj;
  if (!body.empty()) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (!ec && v.is_object()) {
      obj = std::move(v.get_object());
    } else {
      e.message = std::string(body.substr(0, 512));
    }
  }
  if (e.message.empty()) {
    e.message = string_member(obj, "message");
    if (e.message.empty()) e.message = string_member(obj, "Message");
  }
  auto strip_namespace = [](std::string s) {
    if (auto p = s.find('#'); p != std::string::npos) s.erase(0, p + 1);
    return s;
  };
  if (!error_type_header.empty()) {
    e.code = strip_namespace(std::string(error_type_header.substr(0, error_type_header.find(':'))));
  } else if (auto c = string_member(obj, "code"); !c.empty()) {
    e.code = c;
  } else if (auto C = string_member(obj, "Code"); !C.empty()) {
    e.code = C;
  } else if (auto t = string_member(obj, "__type"); !t.empty()) {
    e.code = strip_namespace(t);
  } else {
    e.code = std::to_string(status);
  }
  return e;
}

}  // namespace onboard::chime
