// raw_request.cpp: the request-file reader behind `chime-onboard sign` and the suite tests.
#include <onboard/signing/raw_request.hpp>

#include <algorithm>

namespace onboard::signing {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// is_token_char: RFC 9110 tchar, what a header name may contain.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

raw_request_result fail(std::size_t line_no, std::string what) {
  raw_request_result r;
  r.error = "line " + std::to_string(line_no) + ": " + std::move(what);
  return r;
}

}  // namespace

std::vector<header_view> raw_request::header_views() const {
  std::vector<header_view> v;
  v.reserve(headers.size());
  for (const auto& h : headers) v.push_back({h.name, h.value});
  return v;
}

request_view raw_request::view(const std::vector<header_view>& views) const {
  return request_view{method, target, views, body};
}

raw_request_result parse_raw_request(std::string_view text) {
  if (text.empty()) return fail(1, "the file is empty (expected a request line)");
  raw_request req;
  std::size_t line_no = 0;
  auto next_line = [&](std::string_view& line) {
    if (text.empty()) return false;
    std::size_t nl = text.find('\n');
    line = strip_cr(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    return true;
  };

  std::string_view line;
  next_line(line);
  std::size_t first = line.find(' '), last = line.rfind(' ');
  if (first == std::string_view::npos || first == last)
    return fail(line_no, "request line must be 'METHOD TARGET HTTP/1.1'");
  req.method = line.substr(0, first);
  req.target = line.substr(first + 1, last - first - 1);
  req.version = line.substr(last + 1);
  if (req.method.empty() || !std::all_of(req.method.begin(), req.method.end(), is_token_char))
    return fail(line_no, "bad method '" + req.method + "'");
  if (req.target.empty()) return fail(line_no, "empty request target");
  if (req.version.rfind("HTTP/", 0) != 0)
    return fail(line_no, "request line must end with the HTTP version (e.g. HTTP/1.1)");

  bool ended = false;
  while (next_line(line)) {
    if (line.empty()) {
      ended = true;
      break;
    }
    if (is_blank(line.front())) {
      if (req.headers.empty()) return fail(line_no, "continuation line before any header");
      std::string_view more = trim(line);
      if (!more.empty()) {
        std::string& v = req.headers.back().value;
        if (!v.empty()) v.push_back(' ');
        v.append(more);
      }
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(line_no, "header line has no ':'");
    std::string_view name = line.substr(0, colon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char))
      return fail(line_no, "bad header name '" + std::string(name) + "'");
    req.headers.push_back({std::string(name), std::string(trim(line.substr(colon + 1)))});
  }
  if (ended) req.body = text;
  raw_request_result r;
  r.value = std::move(req);
  return r;
}

std::string format_raw_request(const raw_request& req, const std::vector<header>& extra) {
  std::string out = req.method + " " + req.target + " " + req.version + "\n";
  for (const auto& h : req.headers) out += h.name + ":" + h.value + "\n";
  for (const auto& h : extra) out += h.name + ":" + h.value + "\n";
  out += "\n";
  out += req.body;
  return out;
}

}  // namespace onboard::signing
