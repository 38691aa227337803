#include "onboard/io/https_connection.hpp"

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (its operator
// new/delete pair is matched; GCC bug 109224). Silenced here rather than in the build for everyone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <poll.h>

#include <stdexcept>

namespace onboard::io {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// An end of the connection (as opposed to bytes that are wrong): reported as reset_after_send.
bool is_connection_end(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == net::error::eof || ec == net::ssl::error::stream_truncated ||
         ec == net::error::connection_reset || ec == net::error::connection_aborted ||
         ec == net::error::broken_pipe || ec == net::error::not_connected;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

reconnect_backoff::reconnect_backoff(backoff_options opts)
    : opts_(opts), base_(opts.initial), rng_(std::random_device{}()) {}

std::chrono::milliseconds reconnect_backoff::next_delay() {
  const auto base = base_;
  base_ = std::min(opts_.max, base_ * 2);
  const auto half = base.count() / 2;
  std::uniform_int_distribution<std::chrono::milliseconds::rep> jitter(0, half);
  return std::chrono::milliseconds(base.count() - half + jitter(rng_));
}

net::any_io_executor connection_executor(net::io_context& ioc, int threads) {
  if (threads > 1) return net::make_strand(ioc);
  return ioc.get_executor();
}

std::optional<std::string_view> http_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

connection_stats& connection_stats::operator+=(const connection_stats& o) {
  connects += o.connects;
  reconnects += o.reconnects;
  connect_failures += o.connect_failures;
  handshakes_resumed += o.handshakes_resumed;
  stale_closed += o.stale_closed;
  requests += o.requests;
  responses += o.responses;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  return *this;
}

// ---------------------------------------------------------------------------------------------

https_connection::https_connection(executor_type ex, endpoint ep, ssl::context& ctx,
                                   connection_options opts)
    : executor_(std::move(ex)), endpoint_(std::move(ep)), ctx_(ctx), opts_(opts),
      backoff_timer_(executor_), backoff_(opts.backoff) {
  if (endpoint_.scheme != "https") {
    throw std::invalid_argument("https_connection: endpoint '" + endpoint_.url() +
                                "' is not https; the client only speaks TLS");
  }
}

https_connection::~https_connection() = default;

connection_stats https_connection::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  connection_stats s;
  s.connects = stats_.connects.load(r);
  s.reconnects = stats_.reconnects.load(r);
  s.connect_failures = stats_.connect_failures.load(r);
  s.handshakes_resumed = stats_.handshakes_resumed.load(r);
  s.stale_closed = stats_.stale_closed.load(r);
  s.requests = stats_.requests.load(r);
  s.responses = stats_.responses.load(r);
  s.bytes_sent = stats_.bytes_sent.load(r);
  s.bytes_received = stats_.bytes_received.load(r);
  return s;
}

transport_error https_connection::make_error(transport_error_kind kind, error_code ec,
                                             std::string message) const {
  transport_error e;
  e.kind = kind;
  e.code = ec;
  e.message = std::move(message);
  return e;
}

void https_connection::close_stream() {
  if (stream_) {
    error_code ignored;
    beast::get_lowest_layer(*stream_).socket().close(ignored);
    stream_.reset();
  }
  buffer_.clear();
  responses_on_connection_ = 0;
}

void https_connection::cancel() {
  backoff_timer_.cancel();
  if (resolver_) resolver_->cancel();
  if (stream_) beast::get_lowest_layer(*stream_).cancel();
}

// A keep-alive connection the server closed while we were idle shows as a read-hangup on the
// socket. Checking before writing avoids most of the keep-alive race without any I/O; the race
// that remains (close arriving after this check) is reported as stale_keepalive().
bool https_connection::peer_closed_while_idle() {
  pollfd p{};
  p.fd = beast::get_lowest_layer(*stream_).socket().native_handle();
  p.events = POLLRDHUP;
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

net::awaitable<std::optional<transport_error>> https_connection::async_connect() {
  using kind = transport_error_kind;
  close_stream();

  if (last_connect_failed_) {
    backoff_timer_.expires_after(backoff_.next_delay());
    auto [ec] = co_await backoff_timer_.async_wait(use_tuple);
    if (ec) co_return make_error(kind::cancelled, ec, "cancelled while waiting to reconnect");
  }

  // Any failure below counts as a failed attempt (for the backoff) until the handshake succeeds.
  last_connect_failed_ = true;
  const auto fail = [this](kind k, error_code ec, std::string message) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    close_stream();
    return make_error(k, ec, std::move(message));
  };
  // Through a proxy, the TCP connection goes to the proxy, which the messages then name.
  const proxy* via = opts_.proxy ? &*opts_.proxy : nullptr;
  const std::string& host = via ? via->host : endpoint_.host;
  const std::uint16_t port = via ? via->port : endpoint_.port;
  const bool ip_literal = via ? via->ip_literal : endpoint_.ip_literal;
  const std::string where = endpoint_.host_header;  // TLS: always with the endpoint
  const std::string peer = via ? "the proxy " + via->display : where;  // TCP: the proxy if any

  // Resolve. getaddrinfo cannot be interrupted, so a hung lookup ends when the system resolver
  // gives up; its time is then charged against the connect deadline.
  const auto deadline = std::chrono::steady_clock::now() + opts_.connect_timeout;
  std::vector<tcp::endpoint> addresses;
  if (ip_literal) {
    addresses.emplace_back(net::ip::make_address(host), port);
  } else {
    resolver_.emplace(executor_);
    auto [ec, results] = co_await resolver_->async_resolve(host, std::to_string(port), use_tuple);
    resolver_.reset();
    if (ec == net::error::operation_aborted) {
      co_return fail(kind::cancelled, ec, "cancelled while resolving " + host);
    }
    if (ec)
      co_return fail(kind::connect_failed, ec, "cannot resolve " + host + ": " + ec.message());
    for (const auto& r : results) addresses.push_back(r.endpoint());
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    co_return fail(kind::timeout_before_send, beast::error::timeout,
                   "resolving " + host + " took longer than the connect timeout (" +
                       ms(opts_.connect_timeout) + ")");
  }

  stream_.emplace(executor_, ctx_);
  auto& tcp_layer = beast::get_lowest_layer(*stream_);
  tcp_layer.expires_after(remaining);
  {
    auto [ec, ep] = co_await tcp_layer.async_connect(addresses, use_tuple);
    if (ec == beast::error::timeout) {
      co_return fail(kind::timeout_before_send, ec,
                     "connecting to " + peer + " timed out after " + ms(opts_.connect_timeout));
    }
    if (ec == net::error::operation_aborted && !tcp_layer.socket().is_open()) {
      // Asio's range connect reports a socket it could not even create (no descriptor left) as
      // aborted. Creating one here tells the two apart, and names the real cause.
      error_code why;
      tcp::socket probe(executor_);
      probe.open(addresses.front().protocol(), why);
      if (why) {
        co_return fail(kind::connect_failed, why,
                       "cannot open a socket to connect to " + peer + ": " + why.message());
      }
    }
    if (ec == net::error::operation_aborted)
      co_return fail(kind::cancelled, ec, "cancelled while connecting to " + peer);
    if (ec)
      co_return fail(kind::connect_failed, ec, "cannot connect to " + peer + ": " + ec.message());
  }
  {
    error_code ignored;  // small signed requests: do not let Nagle hold back the last segment
    tcp_layer.socket().set_option(tcp::no_delay(true), ignored);
  }

  if (via) {
    tcp_layer.expires_after(remaining);
    if (auto refused = co_await async_open_tunnel(*via)) {
      stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
      close_stream();
      co_return std::move(*refused);
    }
  }

  std::string setup_error;
  if (!prepare_client_tls(stream_->native_handle(), endpoint_, &session_cache_, setup_error)) {
    co_return fail(kind::tls_failed, {}, "TLS setup for " + where + " failed: " + setup_error);
  }
  tcp_layer.expires_after(opts_.handshake_timeout);
  {
    auto [ec] = co_await stream_->async_handshake(ssl::stream_base::client, use_tuple);
    if (ec == beast::error::timeout) {
      co_return fail(
          kind::timeout_before_send, ec,
          "TLS handshake with " + where + " timed out after " + ms(opts_.handshake_timeout));
    }
    if (ec == net::error::operation_aborted)
      co_return fail(kind::cancelled, ec, "cancelled during the TLS handshake with " + where);
    if (ec) {
      auto message = describe_tls_error(ec, stream_->native_handle(), endpoint_);
      session_cache_.clear();  // do not offer a session the server may have choked on
      co_return fail(kind::tls_failed, ec, std::move(message));
    }
  }
  tcp_layer.expires_never();

  SSL* ssl_handle = stream_->native_handle();
  if (SSL_session_reused(ssl_handle) == 1)
    stats_.handshakes_resumed.fetch_add(1, std::memory_order_relaxed);
  session_cache_.store(ssl_handle);
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  if (ever_connected_) stats_.reconnects.fetch_add(1, std::memory_order_relaxed);
  ever_connected_ = true;
  last_connect_failed_ = false;
  backoff_.reset();
  co_return std::nullopt;
}

// async_open_tunnel: CONNECT host:port through the proxy on the freshly connected socket, under
// the connect deadline already set on it. Nothing but the proxy's answer may arrive before our
// TLS ClientHello, so the read buffer must end with the answer's header.
net::awaitable<std::optional<transport_error>> https_connection::async_open_tunnel(
    const proxy& via) {
  using kind = transport_error_kind;
  auto& tcp_layer = beast::get_lowest_layer(*stream_);
  const std::string authority =
      (endpoint_.host.find(':') != std::string::npos ? "[" + endpoint_.host + "]"
                                                     : endpoint_.host) +
      ":" + std::to_string(endpoint_.port);
  const std::string what = "a tunnel to " + authority + " through the proxy " + via.display;
  http::request<http::empty_body> req{http::verb::connect, authority, 11};
  req.set(http::field::host, authority);
  if (!via.authorization.empty()) req.set(http::field::proxy_authorization, via.authorization);
  {
    auto [ec, n] = co_await http::async_write(tcp_layer, req, use_tuple);
    if (ec == beast::error::timeout)
      co_return make_error(kind::timeout_before_send, ec, "opening " + what + " timed out");
    if (ec == net::error::operation_aborted)
      co_return make_error(kind::cancelled, ec, "cancelled while opening " + what);
    if (ec) co_return make_error(kind::connect_failed, ec, "opening " + what + ": " + ec.message());
  }
  beast::flat_buffer buf;
  http::response_parser<http::empty_body> parser;
  parser.skip(true);  // a 2xx to CONNECT has no body, whatever its headers say
  parser.header_limit(opts_.header_limit);
  {
    auto [ec, n] = co_await http::async_read(tcp_layer, buf, parser, use_tuple);
    if (ec == beast::error::timeout)
      co_return make_error(kind::timeout_before_send, ec,
                           "the proxy " + via.display + " did not answer CONNECT in time");
    if (ec == net::error::operation_aborted)
      co_return make_error(kind::cancelled, ec, "cancelled while opening " + what);
    if (ec)
      co_return make_error(kind::connect_failed, ec,
                           "opening " + what + ": " + ec.message() + " (is it an HTTP proxy?)");
  }
  const unsigned status = parser.get().result_int();
  if (status / 100 != 2) {
    std::string hint;
    if (status == 407)
      hint =
          " (the proxy wants credentials: put them in the proxy URL, "
          "http://user:password@host:port)";
    co_return make_error(kind::proxy_refused, {},
                         "the proxy " + via.display + " refused a tunnel to " + authority + ": " +
                             std::to_string(status) + " " + std::string(parser.get().reason()) +
                             hint);
  }
  if (buf.size() != 0)
    co_return make_error(kind::proxy_refused, {},
                         "the proxy " + via.display + " sent data after its answer to CONNECT");
  co_return std::nullopt;
}

net::awaitable<request_result> https_connection::async_request(http_request req) {
  using kind = transport_error_kind;
  stats_.requests.fetch_add(1, std::memory_order_relaxed);

  if (stream_ && peer_closed_while_idle()) {
    stats_.stale_closed.fetch_add(1, std::memory_order_relaxed);
    close_stream();
  }
  if (!stream_) {
    if (auto err = co_await async_connect()) co_return std::move(*err);
  }
  const bool reused = responses_on_connection_ > 0;
  const std::string& where = endpoint_.host_header;

  http::request<http::string_body> msg{req.method, req.target, 11};
  for (auto& [name, value] : req.headers) msg.insert(name, value);
  msg.body() = std::move(req.body);
  msg.prepare_payload();

  auto& tcp_layer = beast::get_lowest_layer(*stream_);
  tcp_layer.expires_after(opts_.write_timeout);
  auto [wec, written] = co_await http::async_write(*stream_, msg, use_tuple);
  stats_.bytes_sent.fetch_add(written, std::memory_order_relaxed);
  if (wec) {
    kind k = kind::write_failed;
    std::string message = "writing the request to " + where + " failed: " + wec.message();
    if (wec == beast::error::timeout) {
      k = kind::timeout_before_send;
      message = "writing the request to " + where + " timed out after " + ms(opts_.write_timeout);
    } else if (wec == net::error::operation_aborted) {
      k = kind::cancelled;
      message = "cancelled while writing the request to " + where;
    }
    auto e = make_error(k, wec, std::move(message));
    e.connection_reused = reused;
    close_stream();
    co_return e;
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(opts_.body_limit);
  parser.header_limit(opts_.header_limit);
  tcp_layer.expires_after(opts_.read_timeout);
  auto [rec, read] = co_await http::async_read(*stream_, buffer_, parser, use_tuple);
  if (rec) {
    transport_error e;
    e.code = rec;
    e.request_written = true;
    e.connection_reused = reused;
    e.response_bytes = read + buffer_.size();
    const std::string got = " after " + std::to_string(e.response_bytes) + " response bytes";
    if (rec == beast::error::timeout) {
      e.kind = kind::timeout_after_send;
      e.message = "no complete response from " + where + " within " + ms(opts_.read_timeout) + got;
    } else if (rec == net::error::operation_aborted) {
      e.kind = kind::cancelled;
      e.message = "cancelled while reading the response from " + where;
    } else if (is_connection_end(rec)) {
      e.kind = kind::reset_after_send;
      e.message = "connection to " + where + " ended before a complete response (" + rec.message() +
                  ")" + got + (e.stale_keepalive() ? " on a reused keep-alive connection" : "");
    } else {
      // Parse errors, limits (body_limit, header_limit, buffer_overflow), TLS record garbage.
      e.kind = kind::bad_response;
      e.message = "bad response from " + where + ": " + rec.message() + got;
    }
    close_stream();
    co_return e;
  }

  auto& res = parser.get();
  http_response out;
  out.status = res.result_int();
  out.headers.reserve(static_cast<std::size_t>(std::distance(res.begin(), res.end())));
  for (const auto& field : res) out.headers.emplace_back(field.name_string(), field.value());
  out.body = std::move(res.body());
  out.bytes = read;
  stats_.responses.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_received.fetch_add(read, std::memory_order_relaxed);
  tcp_layer.expires_never();
  // TLS 1.3 tickets arrive after the handshake; by now OpenSSL has processed them.
  if (responses_on_connection_ == 0) session_cache_.store(stream_->native_handle());
  ++responses_on_connection_;

  // We never pipeline, so bytes beyond the response mean the server's framing is wrong (e.g. a
  // Content-Length shorter than the body): this response cannot be trusted.
  if (buffer_.size() > 0) {
    transport_error e;
    e.kind = kind::bad_response;
    e.request_written = true;
    e.connection_reused = reused;
    e.response_bytes = read + buffer_.size();
    e.message = "bad response from " + where + ": " + std::to_string(buffer_.size()) +
                " bytes beyond the declared message length";
    close_stream();
    co_return e;
  }
  if (!parser.keep_alive()) close_stream();
  co_return out;
}

net::awaitable<error_code> https_connection::async_shutdown() {
  backoff_timer_.cancel();
  if (!stream_) co_return error_code{};
  beast::get_lowest_layer(*stream_).expires_after(opts_.shutdown_timeout);
  auto [ec] = co_await stream_->async_shutdown(use_tuple);
  close_stream();
  // The peer closing TCP without its own close_notify is what most servers do.
  if (ec == net::ssl::error::stream_truncated || ec == net::error::eof ||
      ec == net::error::connection_reset) {
    co_return error_code{};
  }
  co_return ec;
}

}  // namespace onboard::io
