// onboard/cli/report_writer.hpp: per-address result rows as CSV or JSON Lines, shared by
// `chime-onboard report` (from a journal) and `invite --report` (live, with source columns).
//
// CSV cells that a spreadsheet would run as a formula are neutralised by core's csv_cell. The first
// columns are `email` and `account_id`, so a CSV report (e.g. --failed-only) can be fed back as
// input and each address goes back to its own account.
//
//   #include <onboard/io/durable_file.hpp>
//   // given: io::atomic_file& file, const address_outcome& outcome
//   onboard::report_writer w([&](std::string_view b) { file.append(b); },
//                            onboard::report_format::csv, /*with_source=*/true);
//   w.write(onboard::report_row::from(outcome).with_source("users.csv", 42));
//   w.finish();   // writes what is buffered (and the CSV header even with no rows)
#pragma once

#include <onboard/core/outcome.hpp>
#include <onboard/core/text.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

// report_format: csv (RFC 4180, header line) or jsonl (one JSON object a line).
enum class report_format : std::uint8_t { csv, jsonl };
std::optional<report_format> parse_report_format(std::string_view s);

// report_row: one address's result; views, so the source strings must outlive write().
struct report_row {
  // account_id: the account the address belongs to: a run may span several, and a report fed
  // back as input (`--failed-only`) must send each address to its own.
  std::string_view email, account_id, outcome, id, status, email_status, error_code, message,
      request_id;
  std::uint32_t attempts = 0;
  std::string_view source;  // written only by a writer with source columns
  std::uint64_t line = 0;

  // from: the row of an outcome; `outcome` is its kind ("invited", ..., "failed").
  static report_row from(const address_outcome& o);
  // in_doubt: a row for an address whose request may or may not have reached the service.
  static report_row in_doubt(std::string_view email);
  report_row& with_source(std::string_view src, std::uint64_t line_no) {
    source = src;
    line = line_no;
    return *this;
  }
};

// report_columns: the column names, in order (without the source columns).
inline constexpr std::string_view report_columns[] = {
    "email",        "account_id", "outcome", "id",       "status",
    "email_status", "error_code", "message", "attempts", "request_id"};

// report_writer: buffers rows and hands ~64 KiB chunks to the sink. Not thread-safe.
class report_writer {
 public:
  using sink = std::function<void(std::string_view)>;

  report_writer(sink out, report_format format, bool with_source = false);
  report_writer(const report_writer&) = delete;
  report_writer& operator=(const report_writer&) = delete;

  void write(const report_row& row);
  void write(const address_outcome& o) { write(report_row::from(o)); }
  // finish: flushes to the sink; call once at the end (the destructor does not, it may throw).
  void finish();
  std::uint64_t rows() const { return rows_; }

 private:
  void header();
  sink sink_;
  report_format format_;
  bool with_source_;
  bool header_done_ = false;
  std::uint64_t rows_ = 0;
  std::string buf_;
};

}  // namespace onboard
