// testkit/invites_reference.hpp: a document-based decoder of InviteUsers responses, the obvious
// way (parse to boost::json::value, look members up). The engine's decode_invites is a streaming
// decoder written for speed; tests and the chime_decode fuzzer hold it to this reference.
#pragma once

#include <onboard/chime/chime_api.hpp>

#include <boost/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace onboard::testkit {

inline chime::decoded<std::vector<chime::invite>> reference_decode_invites(std::string_view body) {
  namespace json = boost::json;
  chime::decoded<std::vector<chime::invite>> r;
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
  auto it = v.get_object().find("Invites");
  if (it == v.get_object().end() || !it->value().is_array()) {
    r.error = "response has no Invites array";
    return r;
  }
  auto member = [](const json::object& o, std::string_view key) {
    auto m = o.find(key);
    return m == o.end() || !m->value().is_string() ? std::string()
                                                   : std::string(m->value().get_string());
  };
  std::vector<chime::invite> out;
  for (const auto& e : it->value().get_array()) {
    if (!e.is_object()) {
      r.error = "an element of Invites is not an object";
      return r;
    }
    const auto& o = e.get_object();
    out.push_back({member(o, "InviteId"), member(o, "Status"), member(o, "EmailAddress"),
                   member(o, "EmailStatus")});
  }
  r.value = std::move(out);
  return r;
}

}  // namespace onboard::testkit
