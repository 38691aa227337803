#include "onboard/io/endpoint.hpp"

#include "ascii.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace onboard::io {

namespace net = boost::asio;

namespace {

using detail::lower;

endpoint_result fail(std::string_view url, std::string_view why) {
  endpoint_result r;
  r.error = "invalid endpoint URL '" + std::string(url) + "': " + std::string(why);
  return r;
}

// A DNS name as it may appear in a URL we send to: letters, digits, '-', '_', '.' (no IDN here;
// the caller converts internationalised names before, so the signed Host is plain ASCII).
bool valid_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.front() == '-') return false;
  std::size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;  // empty label ("a..b")
      label = 0;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return true;
}

}  // namespace

std::string endpoint::target(std::string_view path) const {
  std::string t = base_path;
  if (path.empty() || path.front() != '/') t += '/';
  t += path;
  return t;
}

std::string endpoint::url() const {
  // host_header omits a default port; the URL form keeps that too, which round-trips.
  return scheme + "://" + host_header + base_path;
}

endpoint_result try_parse_endpoint(std::string_view url, const endpoint_options& opts) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return fail(url, "expected https://host[:port][/path]");
  const std::string scheme = lower(url.substr(0, sep));
  std::uint16_t default_port = 443;
  if (scheme == "http") {
    if (!opts.allow_http) {
      return fail(url, "plain http:// is refused; the client only speaks TLS (use https://)");
    }
    default_port = 80;
  } else if (scheme != "https") {
    return fail(url, "unsupported scheme '" + scheme + "' (expected https)");
  }

  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail(url, "a query or fragment is not allowed in an endpoint");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return fail(url, "user information (user@host) is not allowed");
  }
  if (authority.empty()) return fail(url, "missing host");

  endpoint ep;
  ep.scheme = scheme;
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return fail(url, "unterminated IPv6 literal (missing ']')");
    const std::string_view literal = authority.substr(1, close - 1);
    boost::system::error_code ec;
    const auto addr = net::ip::make_address_v6(std::string(literal), ec);
    if (ec) return fail(url, "'" + std::string(literal) + "' is not a valid IPv6 address");
    ep.host = addr.to_string();
    ep.ip_literal = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(url, "unexpected text after the IPv6 literal");
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = authority.rfind(':');
    std::string_view host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      if (host.find(':') != std::string_view::npos) {
        return fail(url, "IPv6 addresses must be written in brackets, e.g. https://[::1]:8443");
      }
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return fail(url, "missing host");
    ep.host = lower(host);
    boost::system::error_code ec;
    net::ip::make_address_v4(ep.host, ec);
    ep.ip_literal = !ec;
    if (!ep.ip_literal && !valid_dns_name(ep.host)) {
      return fail(url, "'" + std::string(host) + "' is not a valid host name");
    }
  }

  ep.port = default_port;
  if (has_port) {
    unsigned value = 0;
    const auto* first = port_text.data();
    const auto* last = port_text.data() + port_text.size();
    const auto [end, err] = std::from_chars(first, last, value);
    if (port_text.empty() || err != std::errc{} || end != last || value == 0 || value > 65535) {
      return fail(url, "port '" + std::string(port_text) + "' is not a number in 1..65535");
    }
    ep.port = static_cast<std::uint16_t>(value);
  }

  // Trailing slashes would double up when joined with request paths ("/base" + "/accounts").
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  ep.base_path = std::string(path);

  ep.host_header = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  if (ep.port != default_port) ep.host_header += ":" + std::to_string(ep.port);

  endpoint_result r;
  r.value = std::move(ep);
  return r;
}

endpoint parse_endpoint(std::string_view url, const endpoint_options& opts) {
  auto r = try_parse_endpoint(url, opts);
  if (!r) throw std::invalid_argument(r.error);
  return std::move(*r.value);
}

}  // namespace onboard::io
