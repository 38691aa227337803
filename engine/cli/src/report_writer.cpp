#include <onboard/cli/report_writer.hpp>

namespace onboard {

namespace {

constexpr std::size_t chunk = 64 * 1024;

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
    const std::string_view cells[] = {r.email,  r.account_id,   r.outcome,    r.id,
                                      r.status, r.email_status, r.error_code, r.message};
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
    field("account_id", r.account_id);
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
