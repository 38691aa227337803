// ingest.cpp: the pull loop. Records are processed in windows of 16: each accepted address is
// normalised and hashed first and its dedupe slot prefetched, then the window is inserted in
// order, so the table's cache misses overlap instead of queueing (the table is ~200 MB at 10M).
#include <onboard/engine/ingest.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace onboard {

namespace {

constexpr std::size_t window_size = 16;
constexpr std::size_t report_value_cap = 256;

bool has_control(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

reason reason_of(io::line_problem p) {
  switch (p) {
    case io::line_problem::too_long: return reason::too_long;
    case io::line_problem::bad_utf8: return reason::bad_utf8;
    case io::line_problem::bad_csv: return reason::bad_csv;
    case io::line_problem::none: break;
  }
  return reason::none;
}

}  // namespace

std::string report_cell(std::string_view v) {
  std::string e;
  bool utf8 = io::valid_utf8(v);
  std::size_t n = std::min(v.size(), report_value_cap);
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    auto u = static_cast<unsigned char>(v[i]);
    if (u < 0x20 || u == 0x7F || (u >= 0x80 && !utf8)) {
      e += "\\x";
      e += hex[u >> 4];
      e += hex[u & 15];
    } else if (u == '\\') {
      e += "\\\\";
    } else {
      e += static_cast<char>(u);
    }
  }
  if (v.size() > n) e += "...";
  // A spreadsheet would evaluate a cell starting with one of these as a formula.
  if (!e.empty() && (e[0] == '=' || e[0] == '+' || e[0] == '-' || e[0] == '@')) e.insert(0, 1, '\'');
  if (e.find_first_of(",\"") != std::string::npos || (!e.empty() && (e.front() == ' ' || e.back() == ' '))) {
    std::string q = "\"";
    for (char c : e) {
      if (c == '"') q += '"';
      q += c;
    }
    q += '"';
    return q;
  }
  return e;
}

// csv_file: an append-only report created 0600 (it holds addresses: PII).
class ingest::csv_file {
 public:
  csv_file(const std::string& path, std::string_view header) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd_ < 0) throw ingest_error(path + ": cannot create: " + std::strerror(errno));
    ::fchmod(fd_, 0600);  // O_CREAT's mode does not apply to an existing file
    buf_.reserve(1 << 16);
    buf_ += header;
    buf_ += '\n';
  }
  ~csv_file() {
    try {
      close();
    } catch (...) {
      // Destructors must not throw; next_batch's finish() reports write errors first.
    }
  }
  void cell(std::string_view v) {
    if (!row_start_) buf_ += ',';
    buf_ += report_cell(v);
    row_start_ = false;
  }
  void number(std::uint64_t v) {
    if (!row_start_) buf_ += ',';
    buf_ += std::to_string(v);
    row_start_ = false;
  }
  void end_row() {
    buf_ += '\n';
    row_start_ = true;
    if (buf_.size() >= (1 << 16)) flush();
  }
  void flush() {
    std::size_t off = 0;
    while (off < buf_.size()) {
      ssize_t w = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw ingest_error(path_ + ": write failed: " + std::strerror(errno));
      }
      off += static_cast<std::size_t>(w);
    }
    buf_.clear();
  }
  void close() {
    if (fd_ < 0) return;
    try {
      flush();
    } catch (...) {
      ::close(fd_);
      fd_ = -1;
      throw;
    }
    ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::string buf_;
  bool row_start_ = true;
};

// pending: an accepted address between normalisation and dedupe.
struct ingest::pending {
  dedupe_key key;
  std::uint32_t source = 0;
  std::uint64_t line = 0;
  std::size_t len = 0;
  user_type type = user_type::unspecified;
  bool own_account = false;  // account_id below overrides the default
  std::string account_id;
  std::string username;
  char email[max_email_octets];
};

ingest::ingest(ingest_options options)
    : options_(std::move(options)),
      seen_(!options_.duplicates_path.empty()),
      batcher_(options_.op, options_.batch_limit),
      window_(std::make_unique<pending[]>(window_size)) {
  io::corpus_options ro = options_.reader;
  ro.email_column = options_.email_column.empty() ? std::string("email") : options_.email_column;
  try {
    reader_ = std::make_unique<io::corpus_reader>(options_.inputs, ro);
  } catch (const io::corpus_error& e) {
    throw ingest_error(e.what());
  }
  // Size the table from the input size (assuming >= 32 bytes a line, so lists of long CSV rows
  // under-reserve and grow rather than over-reserve); growth would otherwise rehash ~2x.
  seen_.reserve(static_cast<std::size_t>(
      std::min<std::uint64_t>(reader_->regular_file_bytes() / 32, std::uint64_t(64) << 20)));
  if (!options_.rejects_path.empty())
    rejects_ = std::make_unique<csv_file>(options_.rejects_path, "source,line,raw_value,reason");
  if (!options_.duplicates_path.empty())
    duplicates_ = std::make_unique<csv_file>(options_.duplicates_path,
                                             "source,line,email,first_source,first_line");
}

ingest::~ingest() = default;

const std::string& ingest::input_name(std::uint32_t source) const {
  return reader_->input_name(source);
}

void ingest::reject(const io::corpus_record& rec, reason why, std::string_view value) {
  ++by_reason_[static_cast<std::size_t>(why)];
  ++stats_.rejected;
  if (!rejects_) return;
  rejects_->cell(reader_->input_name(rec.source));
  rejects_->number(rec.line);
  rejects_->cell(value);
  rejects_->cell(to_string(why));
  rejects_->end_row();
}

bool ingest::fill_window() {
  wpos_ = wlen_ = 0;
  const bool csl = options_.case_sensitive_local;
  const dedupe_set* done = options_.already_done_keys && !options_.already_done_keys->empty()
                               ? options_.already_done_keys.get()
                               : nullptr;
  io::corpus_record& rec = rec_;
  while (wlen_ < window_size) {
    bool got;
    try {
      got = reader_->next(rec);
    } catch (const io::corpus_error& e) {
      throw ingest_error(e.what());
    }
    if (!got) break;
    ++stats_.lines;
    if (rec.problem != io::line_problem::none) {
      reject(rec, reason_of(rec.problem), rec.raw);
      continue;
    }
    pending& p = window_[wlen_];
    reason r = normalize_email(rec.email, p.email, p.len);
    if (r != reason::none) {
      reject(rec, r, rec.email);
      continue;
    }
    p.type = options_.type;
    p.own_account = false;
    if (!rec.user_type.empty() || !rec.username.empty() || !rec.account_id.empty()) {
      // CSV extras: validated only when present, so plain lists skip all of this.
      if (!rec.user_type.empty() && !trim_ascii(rec.user_type).empty()) {
        auto t = parse_user_type_lenient(rec.user_type);
        if (!t) {
          reject(rec, reason::bad_user_type, rec.user_type);
          continue;
        }
        p.type = *t;
      }
      std::string_view user = trim_ascii(rec.username);
      std::string_view acct = trim_ascii(rec.account_id);
      if (has_control(user)) {
        reject(rec, reason::control_char, rec.username);
        continue;
      }
      if (has_control(acct)) {
        reject(rec, reason::control_char, rec.account_id);
        continue;
      }
      p.username.assign(user);
      if (!acct.empty()) {
        p.account_id.assign(acct);
        p.own_account = true;
      }
    } else {
      p.username.clear();
    }
    p.source = rec.source;
    p.line = rec.line;
    p.key = key_of(std::string_view(p.email, p.len), csl);
    seen_.prefetch(p.key);
    if (done) done->prefetch(p.key);
    ++wlen_;
  }
  stats_.skipped = reader_->skipped_lines();
  return wlen_ > 0;
}

bool ingest::next_batch(batch& out) {
  const dedupe_set* done = options_.already_done_keys && !options_.already_done_keys->empty()
                               ? options_.already_done_keys.get()
                               : nullptr;
  const auto& done_fn = options_.already_done;
  for (;;) {
    if (wpos_ < wlen_) {
      pending& p = window_[wpos_++];
      std::uint64_t first = 0;
      std::uint64_t tag = (static_cast<std::uint64_t>(p.source) << 48) | (p.line & 0xFFFFFFFFFFFFull);
      if (!seen_.insert(p.key, tag, duplicates_ ? &first : nullptr)) {
        ++stats_.duplicates;
        if (duplicates_) {
          duplicates_->cell(reader_->input_name(p.source));
          duplicates_->number(p.line);
          duplicates_->cell(std::string_view(p.email, p.len));
          duplicates_->cell(reader_->input_name(static_cast<std::uint32_t>(first >> 48)));
          duplicates_->number(first & 0xFFFFFFFFFFFFull);
          duplicates_->end_row();
        }
        continue;
      }
      if ((done && done->contains(p.key)) ||
          (done_fn && done_fn(std::string_view(p.email, p.len)))) {
        ++stats_.already_done;
        continue;
      }
      ++stats_.accepted;
      std::string_view acct = p.own_account ? std::string_view(p.account_id)
                                            : std::string_view(options_.account_id);
      if (batcher_.add(std::string_view(p.email, p.len), p.source, p.line, p.username, acct,
                       p.type)) {
        batcher_.take(out);
        ++stats_.batches;
        ++stats_.requests;
        return true;
      }
      continue;
    }
    if (!eof_) {
      if (!fill_window()) eof_ = true;
      continue;
    }
    if (batcher_.flush(out)) {
      ++stats_.batches;
      ++stats_.requests;
      return true;
    }
    finish();
    return false;
  }
}

std::optional<batch> ingest::next_batch() {
  batch b;
  if (!next_batch(b)) return std::nullopt;
  return b;
}

void ingest::finish() {
  if (finished_) return;
  finished_ = true;
  if (rejects_) rejects_->close();
  if (duplicates_) duplicates_->close();
}

const ingest_stats& ingest::stats() const {
  stats_.rejected_by_reason.clear();
  for (std::size_t i = 1; i < reason_count; ++i)
    if (by_reason_[i]) stats_.rejected_by_reason[std::string(to_string(static_cast<reason>(i)))] = by_reason_[i];
  return stats_;
}

}  // namespace onboard
