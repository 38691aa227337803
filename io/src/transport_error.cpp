#include <onboard/io/transport_error.hpp>

#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace onboard::io {

std::string_view to_string(transport_error_kind kind) {
  switch (kind) {
    case transport_error_kind::connect_failed: return "connect_failed";
    case transport_error_kind::tls_failed: return "tls_failed";
    case transport_error_kind::timeout_before_send: return "timeout_before_send";
    case transport_error_kind::write_failed: return "write_failed";
    case transport_error_kind::proxy_refused: return "proxy_refused";
    case transport_error_kind::reset_after_send: return "reset_after_send";
    case transport_error_kind::timeout_after_send: return "timeout_after_send";
    case transport_error_kind::bad_response: return "bad_response";
    case transport_error_kind::cancelled: return "cancelled";
  }
  return "unknown";
}

bool transport_error::in_doubt() const {
  switch (kind) {
    case transport_error_kind::reset_after_send:
    case transport_error_kind::timeout_after_send:
    case transport_error_kind::bad_response: return true;
    case transport_error_kind::cancelled: return request_written;
    default: return false;
  }
}

bool transport_error::certificate_refused() const {
  return kind == transport_error_kind::tls_failed &&
         code.category() == boost::asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(code.value())) ==
             SSL_R_CERTIFICATE_VERIFY_FAILED;
}

}  // namespace onboard::io
