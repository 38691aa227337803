// fuzz_http_response: HTTP/1.1 response parsing exactly as io/src/https_connection.cpp does it:
// http::response_parser<string_body> with connection_options' body_limit and header_limit, fed
// from a flat buffer in chunks (the split point comes from the input), then the same extraction
// (status, headers, body, keep_alive, bytes beyond the message).
#include "fuzz_common.hpp"

#include <onboard/io/https_connection.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace http = boost::beast::http;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;  // bytes handed to the parser per read
  auto bytes = onboard::fuzz::as_view(data + 1, size - 1);

  const onboard::io::connection_options opts;  // the limits the client uses
  http::response_parser<http::string_body> parser;
  parser.body_limit(opts.body_limit);
  parser.header_limit(opts.header_limit);
  // Small limits too, so the limit paths are reached by short inputs.
  if (data[0] & 0x80) {
    parser.body_limit(64);
    parser.header_limit(128);
  }

  boost::beast::flat_buffer buffer;
  std::size_t fed = 0;
  boost::beast::error_code ec;
  while (!parser.is_done()) {
    if (fed < bytes.size()) {
      const std::size_t n = std::min(chunk, bytes.size() - fed);
      auto mb = buffer.prepare(n);
      std::copy_n(bytes.data() + fed, n, static_cast<char*>(mb.data()));
      buffer.commit(n);
      fed += n;
    } else {
      parser.put_eof(ec);  // the server closed the connection
      break;
    }
    const auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) {
      ec = {};
      continue;
    }
    if (ec) break;
  }
  if (ec || !parser.is_done()) return 0;

  auto& res = parser.get();
  onboard::io::http_response out;
  out.status = res.result_int();
  for (const auto& field : res) out.headers.emplace_back(field.name_string(), field.value());
  out.body = std::move(res.body());
  check(out.body.size() <= opts.body_limit);
  (void)out.header("x-amzn-ErrorType");
  (void)out.header("retry-after");
  (void)parser.keep_alive();
  (void)buffer.size();  // bytes beyond the message: the client rejects the response
  return 0;
}
