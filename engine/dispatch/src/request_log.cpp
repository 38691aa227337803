#include <onboard/dispatch/request_log.hpp>

#include <onboard/core/log.hpp>
#include <onboard/core/text.hpp>

#include <spdlog/spdlog.h>

#include <cstdio>

namespace onboard {

namespace {

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// credential_parameter: a presigned URL's query carries its signature and credentials.
bool credential_parameter(std::string_view name) {
  const std::string n = ascii_lower(name);
  return n == "x-amz-signature" || n == "x-amz-credential" || n == "x-amz-security-token";
}

}  // namespace

std::string loggable_target(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    out += first ? "" : "&";
    first = false;
    out += name;
    if (eq == std::string_view::npos) continue;
    const std::string value = percent_decode(pair.substr(eq + 1));
    out += '=';
    if (credential_parameter(name))
      out += "****";
    else if (value.find('@') != std::string::npos)
      out += log_email(value);
    else
      out += pair.substr(eq + 1);
  }
  return out;
}

std::string request_log_line(const request_log_entry& e) {
  std::string line = "request ";
  line += e.method;
  line += ' ';
  line += loggable_target(e.target);
  const exchange_result& r = e.result;
  if (r.ok()) {
    line += ' ' + std::to_string(r.response.status);
    std::string_view id = r.response.header("x-amzn-RequestId");
    line += " id=";
    line += id.empty() ? "-" : id;
  } else {
    line += " no answer (";
    line += r.failure->message;
    line += ')';
  }
  char tail[64];
  std::snprintf(tail, sizeof tail, " %.1f ms attempt %u",
                std::chrono::duration<double, std::milli>(e.latency).count(), e.attempt);
  line += tail;
  if (!e.retry_reason.empty()) {
    line += " retry: ";
    line += e.retry_reason;
  }
  return line;
}

void log_request(const request_log_entry& e) { spdlog::debug("{}", request_log_line(e)); }

}  // namespace onboard
