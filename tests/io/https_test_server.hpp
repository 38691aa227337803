// https_test_server.hpp: an in-process loopback TLS server for the HTTPS client tests, with a
// self-signed certificate generated in memory and scripted per-request behaviour (answer, stall,
// send raw bytes, drop the connection), so that every hostile peer is one lambda. It listens on
// 127.0.0.1:0 only and runs on its own thread; it counts accepts, handshakes (and resumed ones)
// and requests so a test can prove keep-alive reuse and session resumption.
//
//   test_identity id = make_test_identity({"localhost"}, {"127.0.0.1"});
//   test_https_server server(id, [](const server_request& r) { return reply::ok("hello"); });
//   auto ep = onboard::io::parse_endpoint("https://127.0.0.1:" + std::to_string(server.port()));
//   ... server.accepts() == 1
//
// Client coroutines are run with testkit's run_bounded (onboard/testkit/run_bounded.hpp).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace onboard::io::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// test_identity: a PEM certificate (self-signed, CA:TRUE, so it is its own trust anchor) and key.
struct test_identity {
  std::string cert_pem;
  std::string key_pem;
};

namespace detail {
template <class T, void (*F)(T*)>
struct free_with {
  void operator()(T* p) const { F(p); }
};
inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}
inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}
}  // namespace detail

// make_test_identity: an EC P-256 certificate whose subjectAltName lists `dns` names and `ips`.
inline test_identity make_test_identity(const std::vector<std::string>& dns,
                                        const std::vector<std::string>& ips) {
  using pkey_ptr = std::unique_ptr<EVP_PKEY, detail::free_with<EVP_PKEY, EVP_PKEY_free>>;
  using x509_ptr = std::unique_ptr<X509, detail::free_with<X509, X509_free>>;
  using bio_ptr = std::unique_ptr<BIO, detail::free_with<BIO, BIO_free_all>>;

  pkey_ptr key(EVP_EC_gen("P-256"));
  detail::check(key != nullptr, "EVP_EC_gen");
  x509_ptr cert(X509_new());
  detail::check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  detail::check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = dns.empty() ? ips.at(0) : dns.front();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  std::string san;
  for (const auto& d : dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : ips) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> exts[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"},
      {NID_subject_alt_name, san},
  };
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
    detail::check(ext != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  detail::check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  test_identity id;
  bio_ptr cbio(BIO_new(BIO_s_mem()));
  detail::check(PEM_write_bio_X509(cbio.get(), cert.get()) == 1, "PEM_write_bio_X509");
  id.cert_pem = detail::bio_text(cbio.get());
  bio_ptr kbio(BIO_new(BIO_s_mem()));
  detail::check(
      PEM_write_bio_PrivateKey(kbio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
      "PEM_write_bio_PrivateKey");
  id.key_pem = detail::bio_text(kbio.get());
  return id;
}

// server_request: what the handler sees.
struct server_request {
  std::string method;
  std::string target;
  std::string host;  // the Host header as received
  std::string body;
  std::size_t connection = 0;  // 0-based accept index
  std::size_t index = 0;       // 0-based request index on that connection
};

// reply: what the server does with one request.
struct reply {
  enum class action {
    respond,            // an HTTP response (Connection: close when `close`)
    respond_then_drop,  // a keep-alive response, then the TCP connection is closed (idle close)
    raw_then_drop,      // `raw` bytes over TLS, then TCP close without close_notify
    raw_then_stall,     // `raw` bytes over TLS, then nothing, connection kept open
    stall,              // nothing at all, connection kept open
    drop,               // TCP close without any answer
  };
  action what = action::respond;
  unsigned status = 200;
  std::string body;
  bool close = false;
  std::string raw;

  static reply ok(std::string body) { return {action::respond, 200, std::move(body), false, {}}; }
  static reply closing(std::string body) {
    return {action::respond, 200, std::move(body), true, {}};
  }
  static reply raw_drop(std::string raw) {
    return {action::raw_then_drop, 0, {}, false, std::move(raw)};
  }
  static reply raw_stall(std::string raw) {
    return {action::raw_then_stall, 0, {}, false, std::move(raw)};
  }
  static reply of(action a) { return {a, 200, {}, false, {}}; }
};

using request_handler = std::function<reply(const server_request&)>;

// test_https_server: see the file comment. `plain_garbage` makes it answer every connection with
// plaintext HTTP bytes instead of a TLS handshake.
class test_https_server {
 public:
  test_https_server(const test_identity& id, request_handler handler, bool plain_garbage = false)
      : ctx_(ssl::context::tls_server), handler_(std::move(handler)), plain_garbage_(plain_garbage),
        acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain(net::buffer(id.cert_pem));
    ctx_.use_private_key(net::buffer(id.key_pem), ssl::context::pem);
    net::co_spawn(ioc_, async_accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~test_https_server() {
    ioc_.stop();
    thread_.join();
  }
  test_https_server(const test_https_server&) = delete;
  test_https_server& operator=(const test_https_server&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::size_t accepts() const { return accepts_; }
  std::size_t handshakes() const { return handshakes_; }
  std::size_t resumed() const { return resumed_; }
  std::size_t requests() const { return requests_; }

  // wait_closed: waits (bounded) until the server has closed `n` connections itself.
  bool wait_closed(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return closed_ >= n; });
  }

 private:
  using stream_type = ssl::stream<beast::tcp_stream>;

  void note_closed() {
    {
      std::lock_guard lock(mutex_);
      ++closed_;
    }
    cv_.notify_all();
  }

  net::awaitable<void> async_accept_loop() {
    for (std::size_t index = 0;; ++index) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      ++accepts_;
      net::co_spawn(ioc_, async_session(std::move(socket), index), net::detached);
    }
  }

  static net::awaitable<void> async_stall(net::any_io_executor ex) {
    net::steady_timer forever(ex, net::steady_timer::time_point::max());
    co_await forever.async_wait(net::as_tuple(net::use_awaitable));
  }

  net::awaitable<void> async_session(tcp::socket socket, std::size_t connection) {
    constexpr auto tuple = net::as_tuple(net::use_awaitable);
    auto ex = socket.get_executor();
    if (plain_garbage_) {
      std::string junk = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      co_await net::async_write(socket, net::buffer(junk), tuple);
      socket.close();
      note_closed();
      co_return;
    }
    stream_type stream(beast::tcp_stream(std::move(socket)), ctx_);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, tuple);
    if (hec) co_return;
    ++handshakes_;
    if (SSL_session_reused(stream.native_handle()) == 1) ++resumed_;
    beast::get_lowest_layer(stream).expires_never();

    auto drop = [&] {
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(stream).socket().close(ignored);
      note_closed();
    };
    beast::flat_buffer buffer;
    for (std::size_t index = 0;; ++index) {
      http::request<http::string_body> req;
      auto [rec, n] = co_await http::async_read(stream, buffer, req, tuple);
      if (rec) co_return;  // client went away
      ++requests_;
      server_request sr{std::string(req.method_string()),
                        std::string(req.target()),
                        std::string(req[http::field::host]),
                        req.body(),
                        connection,
                        index};
      reply r = handler_(sr);
      switch (r.what) {
        case reply::action::respond:
        case reply::action::respond_then_drop: {
          http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
          res.set(http::field::content_type, "application/json");
          res.keep_alive(!r.close);
          res.body() = std::move(r.body);
          res.prepare_payload();
          auto [wec, wn] = co_await http::async_write(stream, res, tuple);
          if (wec) co_return;
          if (r.close) {
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
            co_await stream.async_shutdown(tuple);
            drop();
            co_return;
          }
          if (r.what == reply::action::respond_then_drop) {
            drop();
            co_return;
          }
          break;
        }
        case reply::action::raw_then_drop:
        case reply::action::raw_then_stall: {
          co_await net::async_write(stream, net::buffer(r.raw), tuple);
          if (r.what == reply::action::raw_then_drop) {
            drop();
            co_return;
          }
          co_await async_stall(ex);
          co_return;
        }
        case reply::action::stall: co_await async_stall(ex); co_return;
        case reply::action::drop: drop(); co_return;
      }
    }
  }

  // Declared before ioc_: the io_context's destructor frees pending session frames, which use them.
  ssl::context ctx_;
  request_handler handler_;
  bool plain_garbage_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<std::size_t> accepts_{0}, handshakes_{0}, resumed_{0}, requests_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::size_t closed_ = 0;
};

}  // namespace onboard::io::test
