// onboard/engine/transport.hpp: the small interface through which the engine talks HTTP.
//
// The dispatcher only needs "send this request, give me a response or say how it failed"; the
// failure kind matters because it decides whether the request may have been applied. The real
// implementation is a pooled TLS connection (io/https_connection); tests use an in-memory fake.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard {

// transport_error: how an exchange failed, ordered by what it means for retry safety.
enum class transport_error {
  none,
  not_sent,       // connect/TLS failure, timeout or error before the request was fully written
  in_doubt,       // the request was written but no full response came back (may have been applied)
  tls_rejected,   // the server's certificate was refused: not retryable, a configuration problem
  cancelled,      // the run is stopping
};

// outgoing_request: a complete request; `headers` already include Host and the SigV4 headers.
struct outgoing_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// incoming_response: status, headers and body of a complete response.
struct incoming_response {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // header: the first value of `name` (case-insensitive), empty when absent.
  std::string_view header(std::string_view name) const;
};

// exchange_result: a response, or the failure kind with a human-readable detail.
struct exchange_result {
  transport_error error = transport_error::none;
  std::string detail;
  incoming_response response;
};

// transport: one connection's worth of request/response exchanges, used by one coroutine at a time.
class transport {
 public:
  virtual ~transport() = default;
  // async_exchange: sends `req` and reads the response (reconnecting first when needed). The
  // request is taken by value: a body is built for one attempt and moved, never copied.
  virtual boost::asio::awaitable<exchange_result> async_exchange(outgoing_request req) = 0;
  // host_header: the `Host` value requests must carry (and sign).
  virtual const std::string& host_header() const = 0;
  // target: the request-target for an API path (an endpoint URL may carry a base path).
  virtual std::string target(std::string_view path) const { return std::string(path); }
};

}  // namespace onboard
