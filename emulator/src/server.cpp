// server.cpp: the emulator's network side. One coroutine per connection on its own strand; all
// waits (handshake, idle, request, latency, write) are asynchronous and bounded by the stream's
// expiry, so no thread ever blocks and no client can hold a connection open for free.
#include <onboard/emulator/server.hpp>

#include "response_head.hpp"
#include "service.hpp"
#include "tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <condition_variable>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace onboard::emulator {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

using executor_t = net::any_io_executor;  // a session's strand, type-erased for the stream
using strand_t = net::strand<net::io_context::executor_type>;
using tcp_stream_t = beast::basic_stream<tcp, executor_t>;
using tls_stream_t = ssl::stream<tcp_stream_t>;
using acceptor_t = net::basic_socket_acceptor<tcp, strand_t>;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// http_date: the Date header value, formatted once per second per thread.
std::string_view http_date() {
  thread_local std::time_t cached_sec = 0;
  thread_local char buf[64];
  std::time_t now = std::time(nullptr);
  if (now != cached_sec) {
    cached_sec = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return buf;
}

bool is_parse_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

}  // namespace

namespace detail {
struct session {
  explicit session(tls_stream_t s, std::uint64_t idx) : stream(std::move(s)), index(idx) {}
  tls_stream_t stream;
  std::uint64_t index;
  bool idle = false;  // only touched on the session's strand
  std::string head;   // the response head, its capacity reused by every response
};
}  // namespace detail
using detail::session;

struct server::impl {
  explicit impl(server_options o)
      : opts(std::move(o)), svc(opts), ssl_ctx(ssl::context::tls_server) {}

  server_options opts;
  detail::service svc;
  detail::tls_identity identity;
  ssl::context ssl_ctx;
  std::uint64_t seed = 0;
  std::string host;
  std::uint16_t bound_port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> next_index{0};

  std::mutex mu;  // sessions, stopped
  std::condition_variable cv;
  std::unordered_set<std::shared_ptr<session>> sessions;
  bool started = false;
  bool stopped = false;
  std::vector<std::thread> threads;

  // Declared last so it is destroyed first: pending coroutine frames die while the members they
  // refer to (service, registry) still exist.
  net::io_context ioc;
  std::optional<acceptor_t> acceptor;

  net::awaitable<void> accept_loop();
  net::awaitable<void> run_session(std::shared_ptr<session> s);
  net::awaitable<void> flush_loop();
  net::awaitable<bool> write_reply(session& s, detail::reply r, unsigned version, bool keep_alive);
  void unregister(const std::shared_ptr<session>& s);
};

void server::impl::unregister(const std::shared_ptr<session>& s) {
  svc.stats().connections_active.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lk(mu);
  sessions.erase(s);
  cv.notify_all();
}

net::awaitable<bool> server::impl::write_reply(session& s, detail::reply r, unsigned version,
                                               bool keep_alive) {
  char request_id[detail::uuid_text_size];
  detail::format_uuid(detail::draw_uuid(), request_id);
  detail::response_head h;
  h.status = r.status;
  h.version = version;
  h.keep_alive = keep_alive;
  if (r.request_id) h.request_id = std::string_view(request_id, sizeof request_id);
  h.date = http_date();
  if (!r.content_type.empty()) h.content_type = r.content_type;
  h.location = r.location;
  // The shape with the suffix Chime's front end appends; clients keep the text before the ':'.
  std::string error_type;
  if (!r.error_type.empty()) {
    error_type.reserve(r.error_type.size() + detail::error_type_suffix.size());
    error_type.append(r.error_type).append(detail::error_type_suffix);
  }
  h.error_type = error_type;
  if (r.retry_after) h.retry_after = opts.retry_after_seconds;
  h.content_length = r.body.size();
  s.head.clear();
  detail::append_response_head(s.head, h);
  // Counted before writing, so a client that has its answer also sees it in the stats.
  if (r.count) svc.stats().count_status(r.status);
  beast::get_lowest_layer(s.stream).expires_after(opts.request_timeout);
  const std::array<net::const_buffer, 2> message{net::buffer(s.head), net::buffer(r.body)};
  auto [ec, n] = co_await net::async_write(s.stream, message, use_tuple);
  co_return !ec;
}

net::awaitable<void> server::impl::flush_loop() {
  net::steady_timer t(co_await net::this_coro::executor);
  while (!stopping.load()) {
    t.expires_after(opts.ledger_flush_interval);
    auto [ec] = co_await t.async_wait(use_tuple);
    if (ec) break;
    svc.flush_ledger();
  }
}

net::awaitable<void> server::impl::accept_loop() {
  net::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    auto [ec, sock] = co_await acceptor->async_accept(net::make_strand(ioc), use_tuple);
    if (stopping.load() || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors (EMFILE) and the like: keep serving the connections we have and try
      // again shortly rather than spinning or giving up.
      backoff.expires_after(std::chrono::milliseconds(20));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto idx = next_index.fetch_add(1);
    auto s = std::make_shared<session>(tls_stream_t(tcp_stream_t(std::move(sock)), ssl_ctx), idx);
    svc.stats().connections_opened.fetch_add(1, std::memory_order_relaxed);
    svc.stats().connections_active.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lk(mu);
      sessions.insert(s);
    }
    auto ex = s->stream.get_executor();
    net::co_spawn(ex, run_session(std::move(s)), net::detached);
  }
}

net::awaitable<void> server::impl::run_session(std::shared_ptr<session> s) {
  auto& stream = s->stream;
  auto& lowest = beast::get_lowest_layer(stream);
  detail::rng_t rng(seed + s->index);
  beast::flat_buffer buffer;
  std::vector<signing::header_view> headers;
  bool dropped = false;
  bool handshaken = false;

  lowest.expires_after(opts.request_timeout);
  {
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec == beast::error::timeout) svc.stats().timeouts.fetch_add(1, std::memory_order_relaxed);
    handshaken = !ec;
  }

  while (handshaken && !stopping.load()) {
    if (buffer.size() == 0) {
      // Between requests only the idle timeout applies; stop() may cancel this wait.
      s->idle = true;
      lowest.expires_after(opts.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      s->idle = false;
      if (ec) {
        if (ec == beast::error::timeout)
          svc.stats().timeouts.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      buffer.commit(n);
    }

    // Once a request has started it must arrive whole within request_timeout (slowloris).
    lowest.expires_after(opts.request_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    parser.body_limit(opts.max_body_bytes);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      if (ec == beast::error::timeout) {
        svc.stats().timeouts.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      detail::reply r;
      if (ec == http::error::body_limit) {
        r = detail::make_error(
            413, "BadRequestException",
            "Request body larger than " + std::to_string(opts.max_body_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        r = detail::make_error(
            431, "BadRequestException",
            "Request header larger than " + std::to_string(opts.max_header_bytes) + " bytes");
      } else if (is_parse_error(ec) && ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        r = detail::make_error(400, "BadRequestException",
                               "Malformed HTTP request: " + ec.message());
      } else {
        break;  // the peer went away (end_of_stream, truncated TLS, reset)
      }
      co_await write_reply(*s, std::move(r), 11, false);
      break;
    }

    auto& req = parser.get();
    headers.clear();
    for (const auto& f : req) headers.push_back({f.name_string(), f.value()});
    detail::request view{req.method_string(), req.target(), headers, req.body()};

    detail::call c = svc.prepare(view, signing::clock::now());
    detail::reply r;
    if (c.done) {
      r = std::move(c.result);
    } else {
      auto delay = svc.draw_latency(rng);
      if (delay.count() > 0) {
        net::steady_timer t(co_await net::this_coro::executor, delay);
        co_await t.async_wait(use_tuple);
      }
      r = svc.execute(c, view, rng);
    }
    if (r.drop) {
      dropped = true;
      break;
    }
    bool keep_alive = req.keep_alive() && !r.close && !stopping.load();
    if (!co_await write_reply(*s, std::move(r), req.version(), keep_alive) || !keep_alive) break;
  }

  if (dropped || !handshaken) {
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();
  } else {
    // close_notify, but never wait long for the peer's answer.
    lowest.expires_after(std::chrono::milliseconds(500));
    co_await stream.async_shutdown(use_tuple);
    lowest.close();
  }
  unregister(s);
}

server::server(server_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {
  auto& o = impl_->opts;
  if (o.threads < 1) throw std::runtime_error("--threads must be at least 1");
  if (!(o.latency_jitter >= 0 && o.latency_jitter < 1))
    throw std::runtime_error("--latency-jitter must be in [0, 1)");
  if (!o.rate_schedule.empty() && o.rate <= 0)
    throw std::runtime_error("--rate-schedule needs --rate (the rate its steps scale from)");
  for (std::size_t i = 0; i < o.rate_schedule.size(); ++i) {
    const auto [at, r] = o.rate_schedule[i];
    if (at < 0 || r < 0 || (i > 0 && at <= o.rate_schedule[i - 1].first))
      throw std::runtime_error("--rate-schedule: step " + std::to_string(i + 1) +
                               " is negative or not after the one before");
  }
  impl_->identity = detail::load_or_generate_identity(o.cert_file, o.key_file);
  try {
    auto& ctx = impl_->ssl_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain(net::buffer(impl_->identity.cert_pem));
    ctx.use_private_key(net::buffer(impl_->identity.key_pem), ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("TLS certificate/key rejected: " + std::string(e.what()));
  }
  impl_->seed = o.seed ? *o.seed : std::random_device{}();
}

server::~server() { stop(); }

void server::start() {
  auto& d = *impl_;
  std::lock_guard lk(d.mu);
  if (d.started) return;
  boost::system::error_code ec;
  auto addr = net::ip::make_address(d.opts.listen_host, ec);
  tcp::endpoint ep;
  if (ec) {
    tcp::resolver r(d.ioc);
    auto res = r.resolve(d.opts.listen_host, std::to_string(d.opts.listen_port), ec);
    if (ec || res.empty())
      throw std::runtime_error("--listen: cannot resolve host '" + d.opts.listen_host + "'");
    ep = res.begin()->endpoint();
  } else {
    ep = tcp::endpoint(addr, d.opts.listen_port);
  }
  d.acceptor.emplace(net::make_strand(d.ioc));
  auto check = [&](const char* what) {
    if (ec)
      throw std::runtime_error(std::string("--listen ") + d.opts.listen_host + ":" +
                               std::to_string(d.opts.listen_port) + ": " + what + ": " +
                               ec.message());
  };
  d.acceptor->open(ep.protocol(), ec);
  check("open");
  d.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  d.acceptor->bind(ep, ec);
  check("bind");
  d.acceptor->listen(net::socket_base::max_listen_connections, ec);
  check("listen");
  d.bound_port = d.acceptor->local_endpoint().port();
  auto a = d.acceptor->local_endpoint().address();
  d.host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  if (!d.opts.listen_host.empty() &&
      !std::isdigit(static_cast<unsigned char>(d.opts.listen_host[0])) &&
      d.opts.listen_host[0] != '[' && d.opts.listen_host.find(':') == std::string::npos)
    d.host = d.opts.listen_host;  // keep a name such as localhost: clients check the cert by it

  net::co_spawn(d.acceptor->get_executor(), d.accept_loop(), net::detached);
  net::co_spawn(net::make_strand(d.ioc), d.flush_loop(), net::detached);
  d.started = true;
  for (int i = 0; i < d.opts.threads; ++i) d.threads.emplace_back([&d] { d.ioc.run(); });
}

std::uint16_t server::port() const { return impl_->bound_port; }

std::string server::url() const {
  return "https://" + impl_->host + ":" + std::to_string(impl_->bound_port);
}

const std::string& server::ca_pem() const { return impl_->identity.cert_pem; }

server_stats server::stats() const { return impl_->svc.snapshot(); }

void server::stop() {
  auto& d = *impl_;
  {
    std::unique_lock lk(d.mu);
    if (!d.started || d.stopped) {
      d.stopped = true;
      d.cv.notify_all();
      return;
    }
    if (d.stopping.exchange(true)) {
      d.cv.wait(lk, [&] { return d.stopped; });
      return;
    }
    // Stop accepting; close connections waiting for a request; let busy ones finish.
    net::post(d.acceptor->get_executor(), [&d] {
      boost::system::error_code ignored;
      d.acceptor->close(ignored);
    });
    for (const auto& s : d.sessions) {
      net::post(s->stream.get_executor(), [s] {
        if (s->idle) beast::get_lowest_layer(s->stream).cancel();
      });
    }
    d.cv.wait_for(lk, d.opts.shutdown_grace, [&] { return d.sessions.empty(); });
  }
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  d.svc.flush_ledger();
  // Sessions still busy after the grace (an answer held back by --latency-ms for a client that is
  // gone) own sockets and timers of `ioc`. The set lets go of them here, while the io_context is
  // whole; the coroutines that still hold one release it when the io_context destroys them, also
  // before its services go. Left in the set, they would outlive those services.
  std::unordered_set<std::shared_ptr<session>> busy;
  std::lock_guard lk(d.mu);
  busy.swap(d.sessions);
  d.stopped = true;
  d.cv.notify_all();
}

void server::wait() {
  auto& d = *impl_;
  std::unique_lock lk(d.mu);
  d.cv.wait(lk, [&] { return d.stopped; });
}

}  // namespace onboard::emulator
