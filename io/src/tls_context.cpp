#include "onboard/io/tls_context.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace onboard::io {

namespace net = boost::asio;

namespace {

std::string openssl_reason(unsigned long err) {
  const char* r = ERR_reason_error_string(err);
  return r ? r : "error " + std::to_string(err);
}

}  // namespace

ssl::context make_client_tls_context(const tls_options& opts) {
  ssl::context ctx(ssl::context::tls_client);
  // TLS 1.2 as the floor: 1.0/1.1 are deprecated (RFC 8996) and AWS endpoints require 1.2+.
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);

  if (opts.ca_bundle.empty()) {
    boost::system::error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) throw tls_config_error("cannot load the system CA store: " + ec.message());
  } else {
    // Checked up front: OpenSSL's own message for a missing file is "system lib".
    std::ifstream probe(opts.ca_bundle, std::ios::binary);
    if (!probe) {
      throw tls_config_error("CA bundle '" + opts.ca_bundle +
                             "' cannot be read: " + std::strerror(errno));
    }
    boost::system::error_code ec;
    ctx.load_verify_file(opts.ca_bundle, ec);
    if (ec) {
      throw tls_config_error("CA bundle '" + opts.ca_bundle +
                             "' holds no usable PEM certificate: " + ec.message());
    }
  }
  ctx.set_verify_mode(opts.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

bool verifies_peer(ssl::context& ctx) {
  return (SSL_CTX_get_verify_mode(ctx.native_handle()) & SSL_VERIFY_PEER) != 0;
}

void tls_session_cache::deleter::operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }

void tls_session_cache::store(SSL* ssl) {
  SSL_SESSION* s = SSL_get1_session(ssl);
  if (!s) return;
  // A copy, not the connection's own object: when a connection is freed without a close_notify
  // exchange (the usual end of an HTTPS keep-alive connection), OpenSSL marks its session
  // not-resumable, which would silently disable resumption for the next connection.
  SSL_SESSION* copy = SSL_SESSION_is_resumable(s) == 1 ? SSL_SESSION_dup(s) : nullptr;
  SSL_SESSION_free(s);
  if (copy) session_.reset(copy);
}

bool tls_session_cache::apply(SSL* ssl) const {
  return session_ && SSL_set_session(ssl, session_.get()) == 1;
}

bool prepare_client_tls(SSL* ssl, const endpoint& ep, const tls_session_cache* cache,
                        std::string& error) {
  ERR_clear_error();
  if (!ep.ip_literal && SSL_set_tlsext_host_name(ssl, ep.host.c_str()) != 1) {
    error = "cannot set SNI '" + ep.host + "': " + openssl_reason(ERR_get_error());
    return false;
  }
  if ((SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) != 0) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    int ok = 0;
    if (ep.ip_literal) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), ep.host.size());
    }
    if (ok != 1) {
      error = "cannot set the name to verify '" + ep.host + "': " + openssl_reason(ERR_get_error());
      return false;
    }
  }
  if (cache) cache->apply(ssl);
  return true;
}

std::string describe_tls_error(const boost::system::error_code& ec, SSL* ssl, const endpoint& ep) {
  std::string msg = "TLS handshake with " + ep.host_header + " failed: ";
  if (ec == net::ssl::error::stream_truncated || ec == net::error::eof ||
      ec == net::error::connection_reset) {
    return msg + "connection closed by the peer during the handshake (" + ec.message() + ")";
  }
  if (ec.category() == net::error::get_ssl_category()) {
    const auto err = static_cast<unsigned long>(ec.value());
    const auto reason = ERR_GET_REASON(err);
    msg += openssl_reason(err);  // asio's message appends "(SSL routines)", noise for users
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl) {
      const long v = SSL_get_verify_result(ssl);
      if (v != X509_V_OK) {
        msg += ": ";
        msg += X509_verify_cert_error_string(v);
      }
    }
    return msg;
  }
  return msg + ec.message();
}

}  // namespace onboard::io
