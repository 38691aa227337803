// onboard/io/endpoint.hpp: the service endpoint URL, parsed once into the pieces the TLS client
// needs (host to connect to, port, SNI/verification name) and the exact `Host` header value that
// is sent and signed. The Host rule matches botocore's `_host_from_url`: lowercase host, IPv6
// literals in brackets, `:port` only when the port is not the scheme's default.
//
//   // given: int fail(const std::string& message)
//   auto r = onboard::io::try_parse_endpoint("https://chime.example.com:8443/base");
//   if (!r) return fail(r.error);
//   r.value->host;                          // "chime.example.com"
//   r.value->port;                          // 8443
//   r.value->host_header;                   // "chime.example.com:8443"
//   r.value->target("/accounts/1/users");   // "/base/accounts/1/users"
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::io {

// endpoint: a parsed, validated endpoint URL. Only produced by the parse functions below.
struct endpoint {
  std::string scheme;        // "https" (or "http" when explicitly allowed)
  std::string host;          // lowercase; IPv6 without brackets ("::1")
  std::uint16_t port = 443;  // explicit or the scheme's default
  std::string base_path;     // "" or "/prefix" (never a trailing '/')
  std::string host_header;   // the `Host` value to send and sign: "host", "host:8443", "[::1]:8443"
  bool ip_literal = false;   // host is an IPv4/IPv6 address (no SNI, verified by IP SAN)

  // target: the request target for `path` (which starts with '/') under the base path.
  std::string target(std::string_view path) const;

  // url: the canonical form, e.g. "https://[::1]:8443/base".
  std::string url() const;

  bool operator==(const endpoint&) const = default;
};

// endpoint_options: what the parser accepts beyond the TLS-only default.
struct endpoint_options {
  // allow_http: accept `http://` (default port 80). The engine itself is TLS-only; this exists for
  // tools that talk to a plain local peer. https_connection still refuses such an endpoint.
  bool allow_http = false;
};

// endpoint_result: either a value or a message naming what is wrong with the URL.
struct endpoint_result {
  std::optional<endpoint> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

// try_parse_endpoint: parses `https://host[:port][/base-path]`. Refuses, with a message quoting the
// URL: other schemes, `http://` unless allowed, user info, query or fragment, empty or invalid
// hosts, malformed IPv6 literals, ports outside 1..65535.
endpoint_result try_parse_endpoint(std::string_view url, const endpoint_options& opts = {});

// parse_endpoint: as try_parse_endpoint, throwing std::invalid_argument with the message.
endpoint parse_endpoint(std::string_view url, const endpoint_options& opts = {});

}  // namespace onboard::io
