#include <onboard/engine/report_writer.hpp>

namespace onboard {

namespace {

constexpr std::size_t chunk = 64 * 1024;

// utf8_length: length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (c >= 0xF5 || n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  // Overlong 3/4-byte forms, surrogates and code points past U+10FFFF.
  if (c == 0xE0 && b(i + 1) < 0xA0) return 0;
  if (c == 0xED && b(i + 1) >= 0xA0) return 0;
  if (c == 0xF0 && b(i + 1) < 0x90) return 0;
  if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
  return n;
}

// is_plain_json_char: printable ASCII that a JSON string holds as is.
constexpr bool is_plain_json_char(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

std::optional<report_format> parse_report_format(std::string_view s) {
  if (s == "csv") return report_format::csv;
  if (s == "jsonl") return report_format::jsonl;
  return std::nullopt;
}

report_row report_row::from(const address_outcome& o) {
  report_row r;
  r.email = o.email;
  r.outcome = to_string(o.kind);
  r.id = o.id;
  r.status = o.status;
  r.email_status = o.email_status;
  r.error_code = o.error_code;
  r.message = o.message;
  r.request_id = o.request_id;
  r.attempts = o.attempts;
  return r;
}

report_row report_row::in_doubt(std::string_view email) {
  report_row r;
  r.email = email;
  r.outcome = "in_doubt";
  return r;
}

void csv_cell(std::string& out, std::string_view cell) {
  bool neutralise = !cell.empty() && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' ||
                                      cell[0] == '@' || cell[0] == '\t' || cell[0] == '\r');
  bool quote = cell.find_first_of(",\"\r\n") != std::string_view::npos;
  if (quote) out.push_back('"');
  if (neutralise) out.push_back('\'');
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  if (quote) out.push_back('"');
}

void json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    // Addresses are plain printable ASCII almost always: copy such runs in one append.
    std::size_t run = i;
    while (run < s.size() && is_plain_json_char(static_cast<unsigned char>(s[run]))) ++run;
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (std::size_t n = utf8_length(s, i)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out.append("\xEF\xBF\xBD");
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out.append("\\u00");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

report_writer::report_writer(sink out, report_format format, bool with_source)
    : sink_(std::move(out)), format_(format), with_source_(with_source) {
  buf_.reserve(chunk + 4096);
}

void report_writer::header() {
  header_done_ = true;
  if (format_ != report_format::csv) return;
  for (auto c : report_columns) {
    buf_.append(c);
    buf_.push_back(',');
  }
  buf_.pop_back();
  if (with_source_) buf_.append(",source,line");
  buf_.push_back('\n');
}

void report_writer::write(const report_row& r) {
  if (!header_done_) header();
  if (format_ == report_format::csv) {
    const std::string_view cells[] = {r.email,      r.outcome, r.id, r.status, r.email_status,
                                      r.error_code, r.message};
    for (auto c : cells) {
      csv_cell(buf_, c);
      buf_.push_back(',');
    }
    buf_.append(std::to_string(r.attempts));
    buf_.push_back(',');
    csv_cell(buf_, r.request_id);
    if (with_source_) {
      buf_.push_back(',');
      csv_cell(buf_, r.source);
      buf_.push_back(',');
      buf_.append(std::to_string(r.line));
    }
    buf_.push_back('\n');
  } else {
    auto field = [this](std::string_view name, std::string_view v, bool first = false) {
      if (!first) buf_.push_back(',');
      buf_.push_back('"');
      buf_.append(name);
      buf_.append("\":");
      json_string(buf_, v);
    };
    buf_.push_back('{');
    field("email", r.email, true);
    field("outcome", r.outcome);
    field("id", r.id);
    field("status", r.status);
    field("email_status", r.email_status);
    field("error_code", r.error_code);
    field("message", r.message);
    buf_.append(",\"attempts\":");
    buf_.append(std::to_string(r.attempts));
    field("request_id", r.request_id);
    if (with_source_) {
      field("source", r.source);
      buf_.append(",\"line\":");
      buf_.append(std::to_string(r.line));
    }
    buf_.append("}\n");
  }
  ++rows_;
  if (buf_.size() >= chunk) {
    sink_(buf_);
    buf_.clear();
  }
}

void report_writer::finish() {
  if (!header_done_) header();
  if (!buf_.empty()) sink_(buf_);
  buf_.clear();
}

}  // namespace onboard
