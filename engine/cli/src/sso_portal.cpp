#include "sso_portal.hpp"

#include <onboard/cli/aws_settings.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

namespace onboard::detail {

namespace {

namespace json = boost::json;

signing::resolve_result failed(std::string message) {
  signing::resolve_result r;
  r.error = std::move(message);
  return r;
}

std::string sha1_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha1(), nullptr);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(digits[md[i] >> 4]);
    out.push_back(digits[md[i] & 15]);
  }
  return out;
}

// sso_config: what the profile (and its sso-session section) say.
struct sso_config {
  std::string start_url, region, account_id, role_name;
  std::optional<std::string> session;  // the sso-session name; nullopt in the legacy form
};

std::optional<std::string> text_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().as_string());
}

struct cached_token {
  std::string access_token;
  std::string error;
};

// read_token: the cached access token, or why there is none usable.
cached_token read_token(const sso_config& c, const std::string& profile,
                        const signing::environment& env) {
  const std::string file = sso_cache_file(c.session ? *c.session : c.start_url, env);
  const std::string login = "run `aws sso login --profile " + profile + "`";
  const std::string of = c.session ? "sso-session '" + *c.session + "'" : c.start_url;
  cached_token t;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    t.error = "no SSO token cached for " + of + " (" + file + "): " + login;
    return t;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  OPENSSL_cleanse(text.data(), text.size());
  if (ec || !v.is_object()) {
    t.error = file + ": not a JSON object; " + login;
    return t;
  }
  auto token = text_field(v.as_object(), "accessToken");
  auto expires = text_field(v.as_object(), "expiresAt");
  if (!token || !expires) {
    t.error = file + ": lacks " + std::string(token ? "expiresAt" : "accessToken") + "; " + login;
    return t;
  }
  auto at = signing::parse_iso8601(*expires);
  if (!at) {
    t.error = file + ": expiresAt '" + expires->substr(0, 40) + "' is not ISO 8601; " + login;
    return t;
  }
  if (*at <= std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())) {
    t.error = "the SSO token for " + of + " expired at " + *expires + ": " + login;
    return t;
  }
  t.access_token = std::move(*token);
  return t;
}

// fetch: GetRoleCredentials with the token cached now.
signing::resolve_result fetch(const sso_config& c, const std::string& profile,
                              const std::string& portal, const service_client& client) {
  cached_token t = read_token(c, profile, client.env);
  if (!t.error.empty()) return failed("profile '" + profile + "': " + t.error);
  const std::string where = "profile '" + profile + "': SSO GetRoleCredentials (role " +
                            c.role_name + ", account " + c.account_id + ") at " + portal;
  const std::string host = service_host_header(portal);
  if (host.empty()) return failed(where + ": the portal endpoint is not an http(s):// URL");
  std::string url = portal;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/federation/credentials?account_id=" + signing::uri_encode(c.account_id, false) +
         "&role_name=" + signing::uri_encode(c.role_name, false);
  auto reply = service_request(
      "GET", url, {{"Host", host}, {"x-amz-sso_bearer_token", t.access_token}}, {}, client);
  OPENSSL_cleanse(t.access_token.data(), t.access_token.size());
  if (!reply.answered()) return failed(where + ": no answer (" + reply.error + ")");
  if (reply.status == 401 || reply.status == 403)
    return failed(where + ": HTTP " + std::to_string(reply.status) +
                  ": the portal refused the SSO token; run `aws sso login --profile " + profile +
                  "`");
  if (reply.status != 200) return failed(where + ": HTTP " + std::to_string(reply.status));
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  OPENSSL_cleanse(reply.body.data(), reply.body.size());
  const json::object* rc = nullptr;
  if (!ec && v.is_object())
    if (auto it = v.as_object().find("roleCredentials");
        it != v.as_object().end() && it->value().is_object())
      rc = &it->value().as_object();
  if (!rc) return failed(where + ": the answer has no roleCredentials object");
  auto akid = text_field(*rc, "accessKeyId");
  auto secret = text_field(*rc, "secretAccessKey");
  auto token = text_field(*rc, "sessionToken");
  auto exp = rc->find("expiration");
  if (!akid || !secret || !token || exp == rc->end() || !exp->value().is_number())
    return failed(where +
                  ": roleCredentials lack accessKeyId, secretAccessKey, sessionToken or "
                  "expiration");
  signing::credentials creds;
  creds.access_key_id = *akid;
  creds.secret_access_key = signing::secret_string(std::move(*secret));
  creds.session_token = signing::secret_string(std::move(*token));
  // As botocore: expiration is milliseconds since the epoch.
  creds.expiration = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(exp->value().to_number<std::int64_t>()));
  creds.source =
      "sso (profile " + profile + ", role " + c.role_name + " in account " + c.account_id + ")";
  signing::resolve_result r;
  r.value = std::move(creds);
  return r;
}

}  // namespace

std::string sso_cache_file(const std::string& key, const signing::environment& env) {
  const auto home = env("HOME");
  return (home ? *home : std::string("~")) + "/.aws/sso/cache/" + sha1_hex(key) + ".json";
}

std::optional<signing::resolve_result> sso_credentials(const std::string& profile,
                                                       const signing::profile_settings& settings,
                                                       const service_client& client) {
  if (!settings.get("sso_account_id") && !settings.get("sso_role_name")) return std::nullopt;
  const signing::environment& env = client.env;
  const std::string named = "profile '" + profile + "' (" + settings.where + ")";
  sso_config c;
  std::vector<std::string> missing;
  auto take = [&](const char* key, std::string& into, const std::optional<std::string>& v) {
    if (v)
      into = *v;
    else
      missing.emplace_back(key);
  };
  if (auto session = settings.get("sso_session")) {
    c.session = *session;
    const std::string section = "sso-session " + *session;
    auto url = signing::config_section_value(section, "sso_start_url", env);
    auto region = signing::config_section_value(section, "sso_region", env);
    if (!url && !region && !signing::config_section_value(section, "sso_registration_scopes", env))
      return failed(named + " names sso_session '" + *session + "', but there is no [" + section +
                    "] section with sso_start_url and sso_region");
    // As botocore: a value set in both the profile and the session must agree.
    for (auto [key, value] : {std::pair{"sso_start_url", url}, std::pair{"sso_region", region}})
      if (auto own = settings.get(key); own && value && *own != *value)
        return failed(named + ": " + key + " differs from the one in [" + section + "]");
    take("sso_start_url", c.start_url, url);
    take("sso_region", c.region, region);
  } else {
    take("sso_start_url", c.start_url, settings.get("sso_start_url"));
    take("sso_region", c.region, settings.get("sso_region"));
  }
  take("sso_account_id", c.account_id, settings.get("sso_account_id"));
  take("sso_role_name", c.role_name, settings.get("sso_role_name"));
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return failed(named + " is configured for SSO but lacks " + list);
  }
  std::string portal = configured_endpoint_url("sso", "", profile, env).value;
  if (portal.empty()) portal = "https://portal.sso." + c.region + ".amazonaws.com";
  signing::resolve_result r = fetch(c, profile, portal, client);
  if (r) r.refetch = [c, profile, portal, client] { return fetch(c, profile, portal, client); };
  return r;
}

}  // namespace onboard::detail
