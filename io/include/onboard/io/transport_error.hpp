// onboard/io/transport_error.hpp: how an HTTP exchange failed without a complete response, in
// the terms that decide whether a retry is safe. The one failure vocabulary of the program: the
// engine's transport interface carries it as it is, and its retry policy classifies it directly.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace onboard::io {

// transport_error_kind: why no response came back, classed by retry safety.
enum class transport_error_kind {
  // Not applied: the request was never completely written, a retry is safe.
  connect_failed,       // resolve or TCP connect failed (refused, unreachable, no address)
  tls_failed,           // TLS handshake failed: certificate verification, garbage, peer closed
  timeout_before_send,  // connect, handshake or write deadline passed before the request was out
  write_failed,         // the connection failed while the request was being written
  proxy_refused,        // the HTTPS proxy refused the CONNECT tunnel (407, 403, 502, ...): a
                        // configuration problem, not a flaky network; retrying will not help

  // In doubt: the whole request was written, so the server may have applied it.
  reset_after_send,  // EOF / reset / truncated TLS before a complete response (see stale_keepalive)
  timeout_after_send,  // the read deadline passed before a complete response
  bad_response,        // malformed, oversized or over-long response

  // cancel() or the awaiting coroutine's cancellation; in doubt when request_written.
  cancelled,
};

// to_string: "connect_failed", ... for logs and reports.
std::string_view to_string(transport_error_kind kind);

// transport_error: a failed request. `message` names the endpoint and the cause, e.g.
// "TLS handshake with 127.0.0.1:8443 failed: certificate verify failed: self-signed certificate".
struct transport_error {
  transport_error_kind kind = transport_error_kind::connect_failed;
  boost::system::error_code code;
  std::string message;
  bool request_written = false;      // every byte of the request was handed to the socket
  bool connection_reused = false;    // the request went on a connection that had served a response
  std::uint64_t response_bytes = 0;  // response bytes received before the failure

  // in_doubt: the server may have applied the request; check before re-sending. The one answer
  // to "may it have been applied" for the whole program.
  bool in_doubt() const;

  // certificate_refused: the TLS handshake failed because the server's certificate did not
  // verify. A configuration problem: retrying cannot fix it and must not be mistaken for a flaky
  // network (other handshake failures are retried).
  bool certificate_refused() const;

  // cancelled_before_send: cancelled before the whole request was written: nothing to settle.
  bool cancelled_before_send() const {
    return kind == transport_error_kind::cancelled && !request_written;
  }

  // stale_keepalive: the classic keep-alive race. The server closed an idle connection just as we
  // wrote on it, so the write succeeded locally and the read saw EOF/reset with no byte of
  // response. Still reported as reset_after_send (the server *might* have read the request first:
  // we cannot know), but a caller whose request is idempotent, or who checks before re-sending, may
  // treat it as probably-not-applied. A fresh connection never sets this.
  bool stale_keepalive() const {
    return kind == transport_error_kind::reset_after_send && connection_reused &&
           response_bytes == 0;
  }
};

}  // namespace onboard::io
