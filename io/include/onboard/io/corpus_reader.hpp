// onboard/io/corpus_reader.hpp: streaming reader for the address corpus (plain lists, CSV, gzip,
// stdin, several inputs in one run). It frames records and checks their encoding; deciding whether
// an address is acceptable is the engine's job (onboard/ingest/normalize.hpp).
//
// Memory does not grow with the input: one 4 MiB buffer (plus 1 MiB of compressed input) per
// reader, records are string_views into it, valid until the next call to next().
//
//   onboard::io::corpus_reader r({"users.csv.gz", "-"}, {});
//   onboard::io::corpus_record rec;
//   while (r.next(rec)) {
//     if (rec.problem != onboard::io::line_problem::none) { /* rec.detail says why */ continue; }
//     use(rec.email, rec.user_type, rec.username, rec.account_id);
//   }
//
// Formats, per input:
//   - gzip: detected by its magic bytes (not by name); concatenated members are read in order.
//   - xz, zstd, bzip2 and zip (one file inside): detected by their magic bytes and decoded by
//     libarchive, from files and streams alike.
//   - CSV: a name ending in .csv (.csv.gz, .csv.xz, .csv.zst, .csv.bz2; for a zip, the name of the
//     file inside), or a first line that parses as a CSV header naming the
//     email column. RFC 4180: quoted fields may hold commas, newlines and "" escapes. Header names
//     match case-insensitively ignoring surrounding blanks, '_', '-' and spaces ("User Type" ==
//     "user_type"). Columns: email (or corpus_options::email_column), optional user_type, username,
//     account_id; others are ignored. Blank lines are skipped.
//   - plain: one address a line; blank lines and lines whose first non-blank byte is '#' skipped.
//   A UTF-8 BOM at the start of an input and a '\r' before '\n' are removed.
//
// Hostile input never crashes or stalls the reader; the record carries a problem instead:
//   - too_long: a record longer than max_line bytes; the rest of it is skipped at full speed.
//   - bad_utf8: the record is not valid UTF-8 (overlongs, surrogates, truncated sequences).
//   - bad_csv: a stray quote inside an unquoted field, text after a closing quote, a row without
//     the email column, or a quoted field still open after max_line bytes or at end of input.
//     Recovery for an unterminated quote: only the line where the record started is rejected;
//     reading resumes at the next physical line, so one stray quote costs one line, not the file.
// Fatal problems throw corpus_error naming the input: missing/unreadable file, a directory, a CSV
// without the email column, corrupt or truncated compressed data, a zip holding more than one
// file, 7-Zip (it cannot be read as a stream: recognised by its magic bytes), read errors.
//
// Streams: an input that is not a regular file (stdin, a FIFO, a process substitution /dev/fd/N,
// /dev/stdin, a terminal or another device) is opened and read once, when its turn comes: its
// bytes cannot be read again, so the preflight only checks that it exists and may be read. A read
// waiting on a stream can be ended from another thread with cancel().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard::io {

// corpus_error: a fatal input problem; what() names the input (and column or line).
class corpus_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// line_problem: why a record could not be framed; the engine maps these to reason codes.
enum class line_problem : std::uint8_t { none, too_long, bad_utf8, bad_csv };

// corpus_format: how an input is parsed.
enum class corpus_format : std::uint8_t { plain, csv };

// corpus_options: reader settings.
struct corpus_options {
  std::string email_column = "email";         // CSV column holding the address
  char delimiter = ',';                       // CSV field separator (';' for many HR exports)
  std::size_t max_line = 64 * 1024;           // longest record accepted, in bytes
  std::size_t buffer_size = 4 * 1024 * 1024;  // read() chunk and line buffer size
  int stdin_fd = 0;                           // what "-" reads (tests pass a pipe)
  bool preflight = true;  // open every named file (and read CSV headers) up front
  // where: keep only the CSV rows whose column `first` holds `second`, every pair (AND). Column
  // names match as header names do; values compare with surrounding blanks trimmed and ASCII
  // case folded. Rows left out produce no record (filtered_lines counts them). An input that is
  // not a CSV with a header, or lacks one of the columns, is a corpus_error naming it.
  std::vector<std::pair<std::string, std::string>> where;
};

// corpus_record: one record. Views point into the reader and die at the next call to next().
struct corpus_record {
  std::uint32_t source = 0;     // index into the inputs
  std::uint64_t line = 0;       // 1-based physical line where the record starts
  std::string_view email;       // raw field: not trimmed, not validated
  std::string_view user_type;   // CSV only; empty when the column is absent or blank
  std::string_view username;    // CSV only
  std::string_view account_id;  // CSV only
  line_problem problem = line_problem::none;
  std::string_view raw;     // the record as read (first bytes only for too_long)
  std::string_view detail;  // for problems: "FILE:LINE: what went wrong"
};

// corpus_reader: pulls records from the inputs in order. Not thread-safe; one reader per thread.
class corpus_reader {
 public:
  // corpus_reader: `inputs` are paths, "-" for stdin. Throws corpus_error when a named input is
  // missing or unreadable, or (with preflight) when a CSV input that is a regular file lacks the
  // email column.
  corpus_reader(std::vector<std::string> inputs, corpus_options options);
  ~corpus_reader();
  corpus_reader(const corpus_reader&) = delete;
  corpus_reader& operator=(const corpus_reader&) = delete;

  // next: the next record, false at the end of the last input. Throws corpus_error on fatal
  // problems (unreadable data, corrupt gzip, CSV without the email column).
  bool next(corpus_record& out);

  // input_name: how reports name input `source` ("<stdin>" for "-").
  const std::string& input_name(std::uint32_t source) const;
  std::size_t input_count() const;

  // format: the detected format of an input already opened (plain before that).
  corpus_format format(std::uint32_t source) const;

  // skipped_lines: blank and comment lines seen so far (they produce no records).
  std::uint64_t skipped_lines() const;

  // filtered_lines: CSV rows left out by corpus_options::where so far (no records either).
  std::uint64_t filtered_lines() const;

  // regular_file_bytes: total size of the named regular-file inputs (a sizing hint; 0 if unknown).
  std::uint64_t regular_file_bytes() const;

  // all_regular_files: whether every input is a named regular file (no stdin, pipe or device), so
  // reading is certain to reach the end without waiting on a writer.
  bool all_regular_files() const;

  // cancel: the one call that may come from another thread. The reader stops: a next() waiting
  // for a stream's data, or any later one, throws corpus_error ("reading stopped"). For a run
  // that stops while its stdin or pipe has nothing to say.
  void cancel() noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// regular_file_input: whether `input` names a regular file (after symlinks), which can be read
// twice, e.g. once to count its addresses; false for "-", streams and missing paths.
bool regular_file_input(const std::string& input);

// valid_utf8: whether `s` is well-formed UTF-8 (no overlongs, surrogates or code points >
// U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

// normalise_header_name: the form header names are compared in (lowercase, no blanks, '_' or '-').
std::string normalise_header_name(std::string_view name);

}  // namespace onboard::io
