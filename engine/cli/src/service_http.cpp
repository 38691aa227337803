#include "service_http.hpp"

#include <onboard/dispatch/https_transport.hpp>
#include <onboard/io/endpoint.hpp>
#include <onboard/io/proxy.hpp>
#include <onboard/io/tls_context.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>

namespace onboard::detail {

namespace net = boost::asio;

std::string service_host_header(std::string_view url) {
  auto u = parse_url(url);
  return u ? u->authority.host_header : std::string();
}

http_reply service_request(std::string_view method, std::string_view url, http_headers headers,
                           std::string body, const service_client& client) {
  http_reply reply;
  auto u = parse_url(url);
  if (!u) {
    reply.error = "'" + std::string(url) + "' is not an https://HOST[:PORT][/PATH] URL";
    return reply;
  }
  if (u->authority.scheme == "http")
    return http_request(method, url, headers, client.timeout, std::move(body));

  auto px = io::proxy_from_environment(u->authority, client.env);
  if (!px) {
    reply.error = px.error;
    return reply;
  }
  std::optional<net::ssl::context> tls;
  try {
    tls.emplace(io::make_client_tls_context({client.ca_bundle, client.verify_ssl}));
  } catch (const std::exception& e) {
    reply.error = e.what();
    return reply;
  }
  io::connection_options opts;
  opts.proxy = px.value;
  opts.connect_timeout = opts.handshake_timeout = opts.write_timeout = opts.read_timeout =
      client.timeout;
  net::io_context ioc;
  https_transport t(ioc.get_executor(), u->authority, *tls, opts);
  outgoing_request req{std::string(method), u->target, std::move(headers), std::move(body)};
  exchange_result result;
  net::co_spawn(ioc, t.async_exchange(std::move(req)),
                [&](std::exception_ptr e, exchange_result r) {
                  if (e) {
                    result.failure = io::transport_error{};
                    result.failure->message = "the request failed unexpectedly";
                  } else {
                    result = std::move(r);
                  }
                });
  ioc.run();
  if (!result.ok()) {
    reply.error = std::string(io::to_string(result.failure->kind)) + ": " + result.failure->message;
    return reply;
  }
  reply.status = result.response.status;
  reply.body = std::move(result.response.body);
  return reply;
}

}  // namespace onboard::detail
