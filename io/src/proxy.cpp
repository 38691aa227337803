#include "onboard/io/proxy.hpp"

#include "ascii.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace onboard::io {

namespace {

using detail::lower;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// first_set: the first of the names with a non-empty value, and that name.
std::pair<std::string, std::string> first_set(const env_lookup& env,
                                              std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (auto v = env(n); v && !trim(*v).empty()) return {n, std::string(trim(*v))};
  return {};
}

}  // namespace

proxy_result parse_proxy_url(std::string_view url, std::string_view variable) {
  const auto bad = [&](std::string_view why) {
    proxy_result r;
    r.error = std::string(variable) + ": proxy URL is not usable: " + std::string(why);
    return r;
  };
  std::string_view rest = url;
  if (const auto sep = url.find("://"); sep != std::string_view::npos) {
    const std::string scheme = lower(url.substr(0, sep));
    if (scheme == "https")
      return bad("an https:// proxy (TLS to the proxy itself) is not supported; use http://");
    if (scheme != "http")
      return bad("unsupported scheme '" + scheme + "' (expected http://host:port)");
    rest = url.substr(sep + 3);
  }
  // Keep only the authority: a trailing '/' (or any path) means nothing for a proxy.
  rest = rest.substr(0, rest.find_first_of("/?#"));
  std::string authorization;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view{}
                                                                   : userinfo.substr(colon + 1));
    if (!user || !password) return bad("bad percent-encoding in the user or password");
    authorization = "Basic " + base64(*user + ":" + *password);
  }
  // The proxy's own address, parsed as an endpoint would be (validation, IPv6 brackets, port).
  auto ep = try_parse_endpoint("http://" + std::string(rest), {.allow_http = true});
  if (!ep) return bad(ep.error);
  proxy p;
  p.host = ep.value->host;
  p.port = ep.value->port;
  p.ip_literal = ep.value->ip_literal;
  p.authorization = std::move(authorization);
  p.display = "http://" + ep.value->host_header;
  proxy_result r;
  r.value = std::move(p);
  return r;
}

bool bypasses_proxy(std::string_view no_proxy, const endpoint& target) {
  const std::string host = lower(target.host);
  while (!no_proxy.empty()) {
    const auto comma = no_proxy.find(',');
    std::string entry = lower(trim(no_proxy.substr(0, comma)));
    no_proxy = comma == std::string_view::npos ? std::string_view{} : no_proxy.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // An optional port: after "]:" for a bracketed IPv6 literal, else after the only ':' (a bare
    // IPv6 literal has several, and no port).
    std::optional<std::string> port;
    if (entry.front() == '[') {
      const auto close = entry.find(']');
      if (close == std::string::npos) continue;
      if (close + 1 < entry.size() && entry[close + 1] == ':') port = entry.substr(close + 2);
      entry = entry.substr(1, close - 1);
    } else if (const auto colon = entry.find(':');
               colon != std::string::npos && entry.find(':', colon + 1) == std::string::npos) {
      port = entry.substr(colon + 1);
      entry.resize(colon);
    }
    if (port && *port != std::to_string(target.port)) continue;
    if (!entry.empty() && entry.front() == '.') entry.erase(0, 1);
    if (entry.empty()) continue;
    if (host == entry) return true;
    if (host.size() > entry.size() && host.ends_with(entry) &&
        host[host.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

proxy_result proxy_from_environment(const endpoint& target, const env_lookup& env) {
  auto [name, url] = first_set(env, {"https_proxy", "HTTPS_PROXY"});
  if (url.empty()) return {};
  auto [no_name, no_proxy] = first_set(env, {"no_proxy", "NO_PROXY"});
  if (bypasses_proxy(no_proxy, target)) return {};
  return parse_proxy_url(url, name);
}

}  // namespace onboard::io
