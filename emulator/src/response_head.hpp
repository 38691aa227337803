// response_head.hpp: the status line and headers of an emulator response, written straight into
// a reused buffer. They are byte for byte what Beast's serializer writes for the same
// http::response (tests/emulator/internals_test.cpp compares the two), without its per-header
// allocations, which were a visible part of a small request's cost.
//
//   head.clear();
//   append_response_head(head, {.status = 201, .version = 11, .keep_alive = true,
//                               .request_id = id, .date = http_date(), .content_length = n});
//   co_await net::async_write(stream, std::array{net::buffer(head), net::buffer(body)});
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::emulator::detail {

// response_head: what varies between responses. Chime always sends a request id and JSON; the
// answer modes that imitate a proxy (server_options) send neither, hence the optional fields.
struct response_head {
  unsigned status = 200;
  unsigned version = 11;  // 10 * major + minor, as Beast's parser reports it
  bool keep_alive = true;
  std::string_view request_id;  // x-amzn-RequestId when not empty
  std::string_view date;        // Date
  std::string_view content_type = "application/json";
  std::string_view location;       // Location when not empty
  std::string_view error_type;     // x-amzn-ErrorType when not empty
  std::optional<int> retry_after;  // Retry-After seconds when set
  std::size_t content_length = 0;
};

// append_response_head: appends the head, ending with the blank line. Headers come in the order
// the server always set them: x-amzn-RequestId, Date, Content-Type, Location, x-amzn-ErrorType,
// Retry-After, then Connection as Beast's keep_alive() leaves it (HTTP/1.1: "close" when not
// keeping alive; HTTP/1.0: "keep-alive" when keeping alive), then Content-Length.
void append_response_head(std::string& out, const response_head& h);

}  // namespace onboard::emulator::detail
