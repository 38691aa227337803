// onboard/dispatch/transport.hpp: the small interface through which the dispatcher talks HTTP.
//
// The dispatcher only needs "send this request, give me a response or say how it failed"; how it
// failed matters because it decides whether the request may have been applied, so a failure is
// io's own transport_error, unchanged (its in_doubt() is the one answer to that question). The
// real implementation is a pooled TLS connection (https_transport); the dispatcher's tests play a
// script instead (tests/testkit/include/onboard/testkit/scripted_transport.hpp).
#pragma once

#include <onboard/io/transport_error.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard {

namespace signing {
class signer;
}

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

// exchange_result: a complete response, or how the exchange failed.
struct exchange_result {
  std::optional<io::transport_error> failure;
  incoming_response response;

  bool ok() const { return !failure; }
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

// signed_request: `method` on the API `path` through `t`, with Host, a JSON Content-Type for a
// POST, the SigV4 headers signed now (every attempt afresh, so a retry minutes later does not
// carry a stale X-Amz-Date) and the User-Agent. `used` receives the credentials signed with.
outgoing_request signed_request(const transport& t, const signing::signer& signer,
                                std::string_view method, std::string_view path, std::string body,
                                signing::credentials_ptr* used = nullptr);

}  // namespace onboard
