// onboard/io/tls_context.hpp: the client side of TLS: a verified `ssl::context` factory
// (TLS 1.2+, system CAs or a CA bundle file, peer verification on unless explicitly disabled),
// the per-connection setup (SNI, hostname or IP check), readable handshake errors, and a
// one-slot session cache so reconnects resume the previous TLS session.
//
//   #include <boost/asio/as_tuple.hpp>
//   #include <boost/asio/ssl/stream.hpp>
//   #include <boost/asio/use_awaitable.hpp>
//   #include <boost/beast/core/tcp_stream.hpp>
//   // given: boost::asio::any_io_executor ex, const endpoint& ep, tls_session_cache& cache
//   // given: void log_error(const std::string&)
//   using boost::asio::as_tuple, boost::asio::use_awaitable;
//   auto ctx = make_client_tls_context({.ca_bundle = "/etc/ca.pem"});  // throws tls_config_error
//   ssl::stream<boost::beast::tcp_stream> s(ex, ctx);
//   std::string error;
//   if (!prepare_client_tls(s.native_handle(), ep, &cache, error)) {
//     log_error(error);
//     co_return;
//   }
//   auto [ec] = co_await s.async_handshake(ssl::stream_base::client, as_tuple(use_awaitable));
//   if (ec) log_error(describe_tls_error(ec, s.native_handle(), ep));
//   else cache.store(s.native_handle());
#pragma once

#include "onboard/io/endpoint.hpp"

#include <boost/asio/ssl/context.hpp>  // also the OpenSSL types (SSL, SSL_SESSION)
#include <boost/system/error_code.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace onboard::io {

namespace ssl = boost::asio::ssl;

// tls_options: how the client trusts servers.
struct tls_options {
  // ca_bundle: a PEM file of trusted CAs (`--ca-bundle` / AWS_CA_BUNDLE); empty: the system store.
  std::string ca_bundle;
  // verify: false only for `--no-verify-ssl`; the caller logs the warning.
  bool verify = true;
};

// tls_config_error: the context could not be built (unreadable bundle, no certificates in it).
class tls_config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// make_client_tls_context: a client context with TLS 1.2 as the floor, the trust store chosen by
// `opts`, and peer verification on unless `opts.verify` is false. Throws tls_config_error naming
// the bundle file when it is missing, unreadable or holds no certificate.
ssl::context make_client_tls_context(const tls_options& opts);

// verifies_peer: whether connections made from `ctx` verify the server certificate.
bool verifies_peer(ssl::context& ctx);

// tls_session_cache: the last resumable TLS session of one connection's endpoint. Not thread-safe:
// one connection (one coroutine at a time) owns it. In TLS 1.3 the ticket arrives after the
// handshake, so `store` is also called after each response: by then OpenSSL has read it.
class tls_session_cache {
 public:
  tls_session_cache() = default;
  tls_session_cache(const tls_session_cache&) = delete;
  tls_session_cache& operator=(const tls_session_cache&) = delete;

  // store: keeps `ssl`'s current session when it can be resumed.
  void store(SSL* ssl);
  // apply: offers the cached session for the next handshake on `ssl`; false when there is none.
  bool apply(SSL* ssl) const;
  // clear: forgets the session (after a failed handshake, so a bad session is not retried).
  void clear() { session_.reset(); }
  bool empty() const { return !session_; }

 private:
  struct deleter {
    void operator()(SSL_SESSION* s) const;
  };
  std::unique_ptr<SSL_SESSION, deleter> session_;
};

// prepare_client_tls: per-connection setup before the handshake: SNI for DNS names (RFC 6066 has
// none for IP literals) and, when the context verifies peers, the name OpenSSL must check:
// X509_VERIFY_PARAM_set1_host for DNS names, set1_ip_asc for IP literals. Done through the verify
// parameters rather than a verify callback (asio's host_name_verification) so that a mismatch is
// recorded as X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH and can be reported by name.
// Offers the cached session when `cache` holds one. Returns false with `error` set on failure.
bool prepare_client_tls(SSL* ssl, const endpoint& ep, const tls_session_cache* cache,
                        std::string& error);

// describe_tls_error: "TLS handshake with host:port failed: certificate verify failed:
// self-signed certificate" (OpenSSL's reason plus the X509 verify result when verification failed).
std::string describe_tls_error(const boost::system::error_code& ec, SSL* ssl, const endpoint& ep);

}  // namespace onboard::io
