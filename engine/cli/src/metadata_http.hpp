// metadata_http.hpp (internal): one plain-HTTP request with a deadline, for the credential
// endpoints that live on the host or link-local network (the container agent, the instance
// metadata service) and speak HTTP only, and for an STS or SSO endpoint configured as http://
// (a local responder). Not for the Chime API (io's HTTPS connections are).
#pragma once

#include <onboard/io/endpoint.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard::detail {

struct http_reply {
  unsigned status = 0;
  std::string body;
  std::string error;  // why there is no reply (bad URL, refused, timed out); empty when answered
  bool answered() const { return error.empty(); }
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

// parsed_url: an http:// or https:// URL: its authority through io's endpoint parser (the same
// host, IPv6-bracket and port rules as the service's endpoint), its path and query kept as
// written (a metadata path's trailing '/' matters; "/" when there is none).
struct parsed_url {
  io::endpoint authority;
  std::string target;
};

// parse_url: nullopt for another scheme or a malformed authority.
std::optional<parsed_url> parse_url(std::string_view url);

// http_request: `method` `url` (http://HOST[:PORT]/PATH) with `headers` (a Host header given
// there replaces the default: the host without the port) and `body`; the whole exchange
// (resolve, connect, write, read) ends within `timeout`.
http_reply http_request(std::string_view method, std::string_view url, const http_headers& headers,
                        std::chrono::milliseconds timeout, std::string body = {});

// http_url_host: the host of an http:// URL (brackets of an IPv6 literal removed), or "" when the
// URL is not http://.
std::string http_url_host(std::string_view url);

}  // namespace onboard::detail
