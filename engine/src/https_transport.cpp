#include <onboard/engine/https_transport.hpp>

#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace onboard {

https_transport::https_transport(io::https_connection::executor_type ex, const io::endpoint& ep,
                                 io::ssl::context& ctx, io::connection_options opts)
    : conn_(std::move(ex), ep, ctx, opts) {}

transport_error classify_transport_error(const io::transport_error& e) {
  using k = io::transport_error_kind;
  switch (e.kind) {
    case k::tls_failed:
      // A certificate that does not verify is a configuration problem: retrying cannot fix it and
      // must not be mistaken for a flaky network. Other handshake failures are retried.
      if (e.code.category() == boost::asio::error::get_ssl_category() &&
          ERR_GET_REASON(static_cast<unsigned long>(e.code.value())) ==
              SSL_R_CERTIFICATE_VERIFY_FAILED)
        return transport_error::tls_rejected;
      return transport_error::not_sent;
    case k::connect_failed:
    case k::timeout_before_send:
    case k::write_failed: return transport_error::not_sent;
    case k::reset_after_send:
    case k::timeout_after_send:
    case k::bad_response: return transport_error::in_doubt;
    case k::cancelled: return e.request_written ? transport_error::in_doubt : transport_error::cancelled;
  }
  return transport_error::in_doubt;
}

boost::asio::awaitable<exchange_result> https_transport::async_exchange(outgoing_request req) {
  io::http_request r;
  r.method = req.method == "GET" ? io::http::verb::get : io::http::verb::post;
  r.target = std::move(req.target);
  r.headers = std::move(req.headers);
  r.body = std::move(req.body);
  auto res = co_await conn_.async_request(std::move(r));
  exchange_result out;
  if (res.ok()) {
    auto& resp = res.response();
    out.response.status = resp.status;
    out.response.headers = std::move(resp.headers);
    out.response.body = std::move(resp.body);
  } else {
    out.error = classify_transport_error(res.error());
    out.detail = res.error().message;
  }
  co_return out;
}

}  // namespace onboard
