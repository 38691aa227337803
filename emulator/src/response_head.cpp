// response_head.cpp: see response_head.hpp.
#include "response_head.hpp"

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace onboard::emulator::detail {

namespace {

template <class Integer>
void append_number(std::string& out, Integer n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

}  // namespace

void append_response_head(std::string& out, const response_head& h) {
  namespace http = boost::beast::http;
  // The digits exactly as Beast computes them (its parser only produces one-digit versions).
  const char status_line[] = {'H',
                              'T',
                              'T',
                              'P',
                              '/',
                              static_cast<char>('0' + h.version / 10),
                              '.',
                              static_cast<char>('0' + h.version % 10),
                              ' ',
                              static_cast<char>('0' + h.status / 100),
                              static_cast<char>('0' + h.status / 10 % 10),
                              static_cast<char>('0' + h.status % 10),
                              ' '};
  out.append(status_line, sizeof status_line);
  const auto reason = http::obsolete_reason(static_cast<http::status>(h.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  if (!h.request_id.empty()) append_field(out, "x-amzn-RequestId", h.request_id);
  append_field(out, "Date", h.date);
  append_field(out, "Content-Type", h.content_type);
  if (!h.location.empty()) append_field(out, "Location", h.location);
  if (!h.error_type.empty()) append_field(out, "x-amzn-ErrorType", h.error_type);
  if (h.retry_after) {
    out += "Retry-After: ";
    append_number(out, *h.retry_after);
    out += "\r\n";
  }
  if (h.version >= 11 && !h.keep_alive) append_field(out, "Connection", "close");
  if (h.version < 11 && h.keep_alive) append_field(out, "Connection", "keep-alive");
  out += "Content-Length: ";
  append_number(out, h.content_length);
  out += "\r\n\r\n";
}

}  // namespace onboard::emulator::detail
