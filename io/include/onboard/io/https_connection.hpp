// onboard/io/https_connection.hpp: one persistent HTTPS/1.1 keep-alive connection to one endpoint,
// used by one coroutine at a time. It connects lazily, reconnects when the previous connection was
// closed (server `Connection: close`, EOF, any error) and resumes the TLS session when it does.
// Every phase has its own deadline. Failures come back as values whose *kind* says whether the
// request may have been applied by the server, which is what decides whether a retry is safe.
//
//   // given: net::io_context& ioc, int threads, const endpoint& ep, ssl::context& tls_ctx
//   // given: header_list signed_headers, std::string payload
//   onboard::io::https_connection conn(connection_executor(ioc, threads), ep, tls_ctx);
//   // run on conn.get_executor():
//   auto r = co_await conn.async_request({.method = http::verb::post, .target = ep.target("/x"),
//                                         .headers = signed_headers, .body = payload});
//   if (r.ok()) {
//     auto id = r.response().header("x-amzn-RequestId");  // and .status, .body
//   } else if (r.error().in_doubt()) {
//     // the server may have applied it: find out before sending it again
//   } else {
//     // it was not applied: safe to send again
//   }
//   co_await conn.async_shutdown();
#pragma once

#include "onboard/io/endpoint.hpp"
#include "onboard/io/proxy.hpp"
#include "onboard/io/tls_context.hpp"
#include "onboard/io/transport_error.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace onboard::io {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// backoff_options: delays between reconnect attempts after connect/handshake failures.
struct backoff_options {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{5000};
};

// reconnect_backoff: doubling delay with "equal jitter" (half fixed, half random) so that N
// connections that lost the server at the same moment do not reconnect in lock-step.
class reconnect_backoff {
 public:
  explicit reconnect_backoff(backoff_options opts = {});
  // next_delay: the delay before the next attempt; doubles the base up to the maximum.
  std::chrono::milliseconds next_delay();
  // reset: after a successful connect.
  void reset() { base_ = opts_.initial; }

 private:
  backoff_options opts_;
  std::chrono::milliseconds base_;
  std::minstd_rand rng_;
};

// connection_options: deadlines and limits. Each deadline bounds one phase.
struct connection_options {
  std::chrono::milliseconds connect_timeout{10'000};    // resolve + TCP connect
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS handshake
  std::chrono::milliseconds write_timeout{30'000};      // writing the whole request
  std::chrono::milliseconds read_timeout{60'000};       // from request written to response complete
  std::chrono::milliseconds shutdown_timeout{2'000};    // TLS close_notify exchange
  std::uint64_t body_limit = 8u << 20;                  // response body bytes
  std::uint32_t header_limit = 64u << 10;               // response status line + header bytes
  backoff_options backoff{};
  // proxy: reach the endpoint through this proxy's CONNECT tunnel (proxy_from_environment);
  // TLS, certificate checks and keep-alive run inside the tunnel exactly as without it.
  std::optional<io::proxy> proxy;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// http_request: a complete request. Headers are sent as given (already signed, including Host);
// Content-Length is set from the body.
struct http_request {
  http::verb method = http::verb::get;
  std::string target;  // "/accounts/1/users?operation=add" (see endpoint::target)
  header_list headers;
  std::string body;
};

// http_response: a complete response as received.
struct http_response {
  unsigned status = 0;
  header_list headers;
  std::string body;
  std::uint64_t bytes = 0;  // HTTP bytes of this response (status line, headers, body)

  // header: the first value of header `name` (case-insensitive), nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

// request_result: a response or a transport error.
class request_result {
 public:
  // request_result(): an empty response; exists because co_spawn needs default-constructible
  // results.
  request_result() = default;
  request_result(http_response r) : v_(std::move(r)) {}
  request_result(transport_error e) : v_(std::move(e)) {}
  bool ok() const { return v_.index() == 0; }
  http_response& response() { return std::get<0>(v_); }
  const http_response& response() const { return std::get<0>(v_); }
  const transport_error& error() const { return std::get<1>(v_); }

 private:
  std::variant<http_response, transport_error> v_;
};

// connection_stats: counters since construction. Readable from any thread.
struct connection_stats {
  std::uint64_t connects = 0;            // successful TCP+TLS establishments
  std::uint64_t reconnects = 0;          // connects after the first
  std::uint64_t connect_failures = 0;    // failed connect/handshake attempts
  std::uint64_t handshakes_resumed = 0;  // handshakes that resumed a cached TLS session
  std::uint64_t stale_closed = 0;        // idle connections found closed by the peer before a send
  std::uint64_t requests = 0;            // async_request calls
  std::uint64_t responses = 0;           // complete responses received
  std::uint64_t bytes_sent = 0;          // HTTP bytes written
  std::uint64_t bytes_received = 0;      // HTTP bytes of complete responses

  connection_stats& operator+=(const connection_stats& o);
};

// connection_executor: the executor for one connection's handlers on `ioc` run by `threads`
// threads: a strand of its own only when several threads could run its handlers at once (with one
// thread a strand only adds a queue to every completion).
net::any_io_executor connection_executor(net::io_context& ioc, int threads);

// https_connection: see the file comment. Not thread-safe: call it from one coroutine at a time,
// on get_executor() (a strand when the io_context runs on several threads). stats() excepted.
class https_connection {
 public:
  using executor_type = net::any_io_executor;
  using stream_type = ssl::stream<beast::tcp_stream>;

  // https_connection: `ctx` must outlive the connection. Throws std::invalid_argument for a
  // non-https endpoint: the client only speaks TLS.
  https_connection(executor_type ex, endpoint ep, ssl::context& ctx, connection_options opts = {});
  ~https_connection();
  https_connection(const https_connection&) = delete;
  https_connection& operator=(const https_connection&) = delete;

  executor_type get_executor() const { return executor_; }
  const endpoint& remote() const { return endpoint_; }
  const connection_options& options() const { return opts_; }

  // async_request: sends `req` and reads its response, connecting first when needed. Never throws
  // for network outcomes; every failure is a transport_error. After any error, and after a
  // response without keep-alive, the connection is closed and the next call reconnects (waiting
  // the reconnect backoff first when the previous connect attempt failed).
  net::awaitable<request_result> async_request(http_request req);

  // async_shutdown: sends close_notify and waits for the peer's, bounded by shutdown_timeout, then
  // closes. A peer that just drops the TCP connection (stream_truncated, EOF) is normal and
  // reported as success; the returned code is any other failure, for logging only.
  net::awaitable<boost::system::error_code> async_shutdown();

  // cancel: aborts the operation in progress (it completes with kind `cancelled`) and closes the
  // connection. Call on get_executor().
  void cancel();

  // is_open: a connection is established (it may still have been closed by the peer meanwhile).
  bool is_open() const { return stream_.has_value(); }

  connection_stats stats() const;

 private:
  struct atomic_stats {
    std::atomic<std::uint64_t> connects{0}, reconnects{0}, connect_failures{0},
        handshakes_resumed{0}, stale_closed{0}, requests{0}, responses{0}, bytes_sent{0},
        bytes_received{0};
  };

  net::awaitable<std::optional<transport_error>> async_connect();
  net::awaitable<std::optional<transport_error>> async_open_tunnel(const proxy& via);
  bool peer_closed_while_idle();
  void close_stream();
  transport_error make_error(transport_error_kind kind, boost::system::error_code ec,
                             std::string message) const;

  executor_type executor_;
  endpoint endpoint_;
  ssl::context& ctx_;
  connection_options opts_;
  std::optional<stream_type> stream_;
  beast::flat_buffer buffer_;
  net::steady_timer backoff_timer_;
  std::optional<net::ip::tcp::resolver> resolver_;
  tls_session_cache session_cache_;
  reconnect_backoff backoff_;
  bool ever_connected_ = false;
  bool last_connect_failed_ = false;
  std::uint64_t responses_on_connection_ = 0;
  atomic_stats stats_;
};

}  // namespace onboard::io
