// onboard/io/proxy.hpp: the HTTPS proxy to reach an endpoint through, from the environment as
// curl, Python's urllib and botocore read it: https_proxy (else HTTPS_PROXY) names the proxy,
// no_proxy (else NO_PROXY) the hosts reached directly. The lower-case names win, as in urllib.
//
// The proxy is an `http://[user:password@]host[:port]` URL (port 80 by default; user and password
// percent-decoded, sent as Basic Proxy-Authorization). https_connection opens an HTTP CONNECT
// tunnel through it and runs TLS to the service inside, so the service's certificate is checked
// exactly as without a proxy and the proxy sees only the host and port.
//
// no_proxy: comma-separated entries; `*` bypasses every host; an entry matches the host itself
// and any name under it (`example.com` and `.example.com` both match `api.example.com`); an entry
// with `:port` matches that port only. IP addresses match literally (no CIDR ranges).
//
//   auto p = onboard::io::proxy_from_environment(ep, [](std::string_view n) {
//     const char* v = std::getenv(std::string(n).c_str());
//     return v ? std::optional<std::string>(v) : std::nullopt;
//   });
//   if (!p) return fail(p.error);
//   connection_options o;
//   o.proxy = p.value;  // nullopt: direct
#pragma once

#include "onboard/io/endpoint.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::io {

// proxy: where to open the tunnel, and what to say to the proxy.
struct proxy {
  std::string host;  // lowercase; IPv6 without brackets
  std::uint16_t port = 80;
  bool ip_literal = false;
  std::string authorization;  // the Proxy-Authorization value ("Basic ..."), empty without user
  std::string display;        // "http://host:port" for messages: never the password

  bool operator==(const proxy&) const = default;
};

// proxy_result: the proxy (or none: go direct) or a message naming the variable and what is
// wrong with its value.
struct proxy_result {
  std::optional<proxy> value;
  std::string error;
  explicit operator bool() const { return error.empty(); }
};

using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

// parse_proxy_url: `http://[user:password@]host[:port][/]`. https:// proxies (TLS to the proxy
// itself) and other schemes are refused by name; a bare `host:port` is read as http://, as curl
// and urllib do.
proxy_result parse_proxy_url(std::string_view url, std::string_view variable);

// bypasses_proxy: `target` is reached directly under the no_proxy list `no_proxy`.
bool bypasses_proxy(std::string_view no_proxy, const endpoint& target);

// proxy_from_environment: the proxy for `target`, or none (value empty, no error).
proxy_result proxy_from_environment(const endpoint& target, const env_lookup& env);

}  // namespace onboard::io
