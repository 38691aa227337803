// onboard/signing/raw_request.hpp: a raw HTTP/1.1 request file (the SigV4 suite's `request.txt`)
// parsed into owned parts, for `chime-onboard sign` and the suite tests.
//
//   #include <iostream>
//   // given: std::string_view file, std::string_view text
//   // given: const credentials& creds, const signing_params& params
//   auto parsed = onboard::signing::parse_raw_request(text);
//   if (!parsed) { std::cerr << file << ": " << parsed.error << "\n"; return 2; }
//   auto views = parsed->header_views();
//   auto a = sign_request(parsed->view(views), creds, params);
#pragma once

#include <onboard/signing/sigv4.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::signing {

// raw_request: the request line's parts, the headers in file order, and the body verbatim.
struct raw_request {
  std::string method;
  std::string target;   // as written: may hold raw spaces or UTF-8 (the suite does)
  std::string version;  // "HTTP/1.1"
  std::vector<header> headers;
  std::string body;

  // header_views: views of `headers` (keep them alive while the request_view is used).
  std::vector<header_view> header_views() const;
  // view: a request_view over this request with `views` from header_views().
  request_view view(const std::vector<header_view>& views) const;
};

// raw_request_result: the request or what is wrong with the text (with its line number).
struct raw_request_result {
  std::optional<raw_request> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
  const raw_request* operator->() const { return &*value; }
  const raw_request& operator*() const { return *value; }
};

// parse_raw_request: request line `METHOD SP target SP HTTP/x.y`, header lines `Name:value`
// (a line starting with whitespace continues the previous header and is folded into it with one
// space), a blank line, then the body. LF or CRLF line endings.
raw_request_result parse_raw_request(std::string_view text);

// format_raw_request: the request back as text with `extra` headers appended after its own
// (the suite's `*-signed-request.txt` layout: `Name:value` lines, LF endings).
std::string format_raw_request(const raw_request& req, const std::vector<header>& extra);

}  // namespace onboard::signing
