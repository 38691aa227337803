#include "metadata_http.hpp"

#include <onboard/io/endpoint.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <optional>

namespace onboard::detail {

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;

// parse_http_url: parse_url for http:// only.
std::optional<parsed_url> parse_http_url(std::string_view url) {
  auto u = parse_url(url);
  if (!u || u->authority.scheme != "http") return std::nullopt;
  return u;
}

}  // namespace

std::optional<parsed_url> parse_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  const auto slash = url.find('/', scheme_end + 3);
  auto ep = io::try_parse_endpoint(url.substr(0, slash), {.allow_http = true});
  if (!ep) return std::nullopt;
  return parsed_url{std::move(*ep.value),
                    slash == std::string_view::npos ? "/" : std::string(url.substr(slash))};
}

std::string http_url_host(std::string_view url) {
  auto u = parse_http_url(url);
  return u ? u->authority.host : std::string();
}

http_reply http_request(std::string_view method, std::string_view url, const http_headers& headers,
                        std::chrono::milliseconds timeout, std::string body) {
  http_reply reply;
  auto u = parse_http_url(url);
  if (!u) {
    reply.error = "'" + std::string(url) + "' is not an http://HOST[:PORT]/PATH URL";
    return reply;
  }
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  boost::beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::string_to_verb(method), u->target, 11};
  req.set(http::field::host, u->authority.host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  http::response<http::string_body> resp;
  boost::beast::flat_buffer buf;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        auto results = co_await resolver.async_resolve(
            u->authority.host, std::to_string(u->authority.port), net::use_awaitable);
        stream.expires_after(timeout);
        co_await stream.async_connect(results, net::use_awaitable);
        co_await http::async_write(stream, req, net::use_awaitable);
        co_await http::async_read(stream, buf, resp, net::use_awaitable);
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          reply.error = ex.what();
        }
      });
  // The resolver has no deadline of its own: the bound on the whole run covers it.
  ioc.run_for(timeout);
  if (!ioc.stopped()) {
    stream.close();
    resolver.cancel();
    ioc.run();  // lets the coroutine end (aborted) before its locals go
    reply.error = "no answer within " + std::to_string(timeout.count()) + " ms";
  }
  if (!reply.error.empty()) return reply;
  reply.status = resp.result_int();
  reply.body = std::move(resp.body());
  return reply;
}

}  // namespace onboard::detail
