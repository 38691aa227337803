#include "metadata_http.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace onboard::detail {

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;

struct parsed_url {
  std::string host, port, target;
};

bool parse_http_url(std::string_view url, parsed_url& out) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return false;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  out.port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return false;
      out.port = std::string(authority.substr(1));
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  return !out.host.empty() && !out.port.empty();
}

}  // namespace

std::string http_url_host(std::string_view url) {
  parsed_url u;
  return parse_http_url(url, u) ? u.host : std::string();
}

http_reply http_request(std::string_view method, std::string_view url, const http_headers& headers,
                        std::chrono::milliseconds timeout) {
  http_reply reply;
  parsed_url u;
  if (!parse_http_url(url, u)) {
    reply.error = "'" + std::string(url) + "' is not an http://HOST[:PORT]/PATH URL";
    return reply;
  }
  net::io_context ioc;
  net::ip::tcp::resolver resolver(ioc);
  boost::beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::string_to_verb(method), u.target, 11};
  req.set(http::field::host, u.host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  http::response<http::string_body> resp;
  boost::beast::flat_buffer buf;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        auto results = co_await resolver.async_resolve(u.host, u.port, net::use_awaitable);
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
