#include "sts_client.hpp"

#include <onboard/signing/sigv4.hpp>

#include <openssl/crypto.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace onboard::detail {

namespace {

signing::resolve_result failed(std::string message) {
  signing::resolve_result r;
  r.error = std::move(message);
  return r;
}

// xml_unescape: the five predefined entities and numeric references below 128, all STS puts in
// the fields we read.
std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const auto semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back(s[i]);
      continue;
    }
    const std::string_view name = s.substr(i + 1, semi - i - 1);
    char c = 0;
    if (name == "amp")
      c = '&';
    else if (name == "lt")
      c = '<';
    else if (name == "gt")
      c = '>';
    else if (name == "quot")
      c = '"';
    else if (name == "apos")
      c = '\'';
    else if (name.size() > 1 && name[0] == '#') {
      const int v = std::atoi(std::string(name.substr(1)).c_str());
      if (v > 0 && v < 128) c = static_cast<char>(v);
    }
    if (c == 0) {
      out.push_back(s[i]);
      continue;
    }
    out.push_back(c);
    i = semi;
  }
  return out;
}

// xml_field: the text of the first <tag>...</tag> inside `xml`; nullopt when absent.
std::optional<std::string> xml_field(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  const auto a = xml.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  return xml_unescape(xml.substr(a + open.size(), b - a - open.size()));
}

void wipe(std::string& s) { OPENSSL_cleanse(s.data(), s.size()); }

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [k, v] : fields) {
    if (!body.empty()) body += '&';
    body += signing::uri_encode(k, false) + "=" + signing::uri_encode(v, false);
  }
  return body;
}

std::vector<std::pair<std::string, std::string>> role_fields(const role_request& r,
                                                             std::string action) {
  std::vector<std::pair<std::string, std::string>> f{{"Action", std::move(action)},
                                                     {"Version", "2011-06-15"},
                                                     {"RoleArn", r.role_arn},
                                                     {"RoleSessionName", r.session_name}};
  if (r.external_id) f.emplace_back("ExternalId", *r.external_id);
  if (r.duration_seconds) f.emplace_back("DurationSeconds", std::to_string(*r.duration_seconds));
  return f;
}

// call: POSTs the form, signed by `caller` when given, and reads the credentials.
signing::resolve_result call(std::string_view action, const role_request& r, std::string body,
                             const signing::credentials* caller, const sts_endpoint& sts) {
  const std::string where = std::string(action) + " of " + r.role_arn + " at " + sts.url;
  const std::string host = service_host_header(sts.url);
  if (host.empty()) return failed(where + ": the STS endpoint is not an http(s):// URL");
  http_headers headers{{"Host", host},
                       {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  if (caller) {
    std::vector<signing::header_view> views;
    for (const auto& [k, v] : headers) views.push_back({k, v});
    const std::string target = "/";
    signing::request_view req{"POST", target, views, body};
    signing::signing_params p;
    p.region = sts.region;
    p.service = "sts";
    p.time = signing::clock::now();
    auto signed_parts = signing::sign_request(req, *caller, p);
    for (auto& h : signed_parts.added_headers) headers.emplace_back(h.name, h.value);
  }
  std::string url = sts.url;
  if (url.find('/', url.find("://") + 3) == std::string::npos) url += "/";
  auto reply = service_request("POST", url, std::move(headers), std::move(body), sts.client);
  if (!reply.answered()) return failed(where + ": no answer (" + reply.error + ")");
  if (reply.status != 200) {
    const auto code = xml_field(reply.body, "Code").value_or("no error code");
    const auto message = xml_field(reply.body, "Message").value_or("");
    return failed(where + ": HTTP " + std::to_string(reply.status) + " " + code +
                  (message.empty() ? "" : ": " + message));
  }
  auto out = parse_sts_credentials(reply.body, r.source, where);
  wipe(reply.body);
  return out;
}

}  // namespace

signing::resolve_result parse_sts_credentials(const std::string& xml, std::string source,
                                              const std::string& where) {
  auto creds = xml_field(xml, "Credentials");
  if (!creds) return failed(where + ": the answer has no Credentials element");
  auto akid = xml_field(*creds, "AccessKeyId");
  auto secret = xml_field(*creds, "SecretAccessKey");
  auto token = xml_field(*creds, "SessionToken");
  auto expiration = xml_field(*creds, "Expiration");
  signing::resolve_result r;
  if (!akid || akid->empty() || !secret || secret->empty() || !token || !expiration) {
    r = failed(where + ": the answer's Credentials lack " +
               (!akid || akid->empty()       ? "AccessKeyId"
                : !secret || secret->empty() ? "SecretAccessKey"
                : !token                     ? "SessionToken"
                                             : "Expiration"));
  } else if (auto at = signing::parse_iso8601(*expiration); !at) {
    r = failed(where + ": Expiration '" + expiration->substr(0, 40) + "' is not ISO 8601");
  } else {
    signing::credentials c;
    c.access_key_id = *akid;
    c.secret_access_key = signing::secret_string(*secret);
    c.session_token = signing::secret_string(*token);
    c.expiration = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*at);
    c.source = std::move(source);
    r.value = std::move(c);
  }
  wipe(*creds);
  if (secret) wipe(*secret);
  if (token) wipe(*token);
  return r;
}

signing::resolve_result assume_role(const role_request& r, const signing::credentials& caller,
                                    const sts_endpoint& sts) {
  return call("AssumeRole", r, form(role_fields(r, "AssumeRole")), &caller, sts);
}

signing::resolve_result assume_role_with_web_identity(const role_request& r,
                                                      const std::string& token_file,
                                                      const sts_endpoint& sts) {
  std::ifstream in(token_file, std::ios::binary);
  if (!in)
    return failed("AssumeRoleWithWebIdentity of " + r.role_arn + ": cannot read the token file " +
                  token_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty())
    return failed("AssumeRoleWithWebIdentity of " + r.role_arn + ": the token file " + token_file +
                  " is empty");
  auto fields = role_fields(r, "AssumeRoleWithWebIdentity");
  fields.emplace_back("WebIdentityToken", token);
  std::string body = form(fields);
  wipe(token);
  wipe(fields.back().second);
  return call("AssumeRoleWithWebIdentity", r, std::move(body), nullptr, sts);
}

}  // namespace onboard::detail
