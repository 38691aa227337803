// ingest.cpp: the consumer side of ingest: dedupe, report files, counters and batching, over the
// chunks of staged records the read stage (ingest_stage.cpp) produces on this thread or a second
// one. Each record's dedupe slot is prefetched a few records ahead, so the table's cache misses
// overlap instead of queueing (the table is ~200 MB at 10M).
#include <onboard/ingest/ingest.hpp>

#include "ingest_stage.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace onboard {

namespace {

// How many records ahead of the insert a dedupe slot is prefetched: enough to cover a memory
// access (a TLB miss too: the table is far beyond the TLB's reach) while the records in between
// are processed, and no more: on AMD Zen 4 under KVM, 10M lines in alternating runs took median
// 0.79-0.83 s at 8, 0.83 at 12, 0.87 at 4, 0.92-0.93 at 16 and 1.03 at 32 (more prefetches in
// flight than the core can walk pages for just queue). Issuing them in runs was slower too.
constexpr std::size_t prefetch_distance = 8;

}  // namespace

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
  // row: a row to fill; call row_done() after its end().
  detail::csv_row row() { return detail::csv_row(buf_); }
  void row_done() {
    if (buf_.size() >= (1 << 16)) flush();
  }
  // rendered_row: a row already rendered by the read stage.
  void rendered_row(std::string_view text) {
    buf_ += text;
    row_done();
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
};

ingest::ingest(ingest_options options)
    : options_(std::move(options)), seen_(!options_.duplicates_path.empty()),
      batcher_(options_.op, options_.batch_limit) {
  io::corpus_options ro = options_.reader;
  ro.email_column = options_.email_column.empty() ? std::string("email") : options_.email_column;
  ro.delimiter = options_.delimiter;
  ro.where = options_.where;
  try {
    reader_ = std::make_unique<io::corpus_reader>(options_.inputs, ro);
  } catch (const io::corpus_error& e) {
    throw ingest_error(e.what());
  }
  if (options_.already_done_keys && !options_.already_done_keys->empty())
    done_keys_ = options_.already_done_keys.get();
  if (!options_.rejects_path.empty())
    rejects_ = std::make_unique<csv_file>(options_.rejects_path, "source,line,raw_value,reason");
  if (!options_.duplicates_path.empty())
    duplicates_ = std::make_unique<csv_file>(options_.duplicates_path,
                                             "source,line,email,first_source,first_line");
  // Only regular files are certain to reach their end, so the destructor can always join the
  // read thread. (On a single core the thread costs two context switches per 4096 records.)
  const bool background =
      reader_->all_regular_files() && reader_->regular_file_bytes() >= options_.parallel_min_bytes;
  stage_ = std::make_unique<detail::read_stage>(*reader_, options_, rejects_ != nullptr);
  // Size the table from the input size (assuming >= 32 bytes a line, so lists of long CSV rows
  // under-reserve and grow rather than over-reserve); growth would otherwise rehash ~2x. Its
  // memory (~190 MB at 10M lines, 0.2-0.5 s to fault in for a fresh process) is faulted in by both
  // threads at once, half each: the read thread's half before it starts reading.
  seen_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(reader_->regular_file_bytes() / 32,
                                                                 std::uint64_t(64) << 20)),
                /*fault_in=*/false);
  chunks_ =
      std::make_unique<detail::chunk_source>(*stage_, background, [this] { seen_.prefault(1, 2); });
  seen_.prefault(0, chunks_->background() ? 2 : 1);
}

ingest::~ingest() {
  chunks_.reset();  // joins the read thread before the reader and options it uses go away
}

bool ingest::parallel() const noexcept { return chunks_ && chunks_->background(); }

void ingest::cancel() noexcept { reader_->cancel(); }

std::uint64_t ingest::chunks_hashed_by_reader() const { return chunks_->hashed_by_reader(); }

const std::string& ingest::input_name(std::uint32_t source) const {
  return reader_->input_name(source);
}

// next_chunk: moves to the next chunk of records; false at the end of input. Rethrows (and
// remembers) a fatal input error once the records before it are done.
bool ingest::next_chunk() {
  if (chunk_) {
    if (chunk_->error) {
      error_ = chunk_->error;
      std::rethrow_exception(error_);
    }
    if (chunk_->end) return false;
  }
  chunk_ = &chunks_->next();
  pos_ = 0;
  stats_.skipped = chunk_->skipped_lines;
  stats_.outside_where = chunk_->filtered_lines;
  for (std::size_t i = 0; i < prefetch_distance; ++i) prefetch(i);
  return true;
}

// prefetch: prefetches the dedupe slots of record i of the current chunk, if it has any.
void ingest::prefetch(std::size_t i) const noexcept {
  const auto& recs = chunk_->records;
  if (i >= recs.size() || recs[i].why != reason::none) return;
  seen_.prefetch(recs[i].key);
  if (done_keys_) done_keys_->prefetch(recs[i].key);
}

// take: one record, in input order; true when it completed a batch (then in `out`).
bool ingest::take(const detail::staged_record& r, batch& out) {
  ++stats_.lines;
  if (r.why != reason::none) {
    ++by_reason_[static_cast<std::size_t>(r.why)];
    ++stats_.rejected;
    if (rejects_) rejects_->rendered_row(chunk_->text.view(r.text));
    return false;
  }
  const std::string_view email = chunk_->text.view(r.text);
  // The identity is (account, address): a row of another account than the default is keyed
  // with its account (dedupe.hpp's in_account).
  const std::string_view row_account =
      r.own_account ? chunk_->text.view(r.account) : std::string_view(options_.account_id);
  const bool other_account = r.own_account && row_account != options_.account_id;
  const dedupe_key key =
      other_account ? in_account(r.key, hash128(row_account.data(), row_account.size())) : r.key;
  std::uint64_t first = 0;
  std::uint64_t tag = (static_cast<std::uint64_t>(r.source) << 48) | (r.line & 0xFFFFFFFFFFFFull);
  if (!seen_.insert(key, tag, duplicates_ ? &first : nullptr)) {
    ++stats_.duplicates;
    if (duplicates_) {
      duplicates_->row()
          .cell(reader_->input_name(r.source))
          .number(r.line)
          .cell(email)
          .cell(reader_->input_name(static_cast<std::uint32_t>(first >> 48)))
          .number(first & 0xFFFFFFFFFFFFull)
          .end();
      duplicates_->row_done();
    }
    return false;
  }
  if ((done_keys_ && done_keys_->contains(key)) ||
      (options_.already_done && options_.already_done(email))) {
    ++stats_.already_done;
    return false;
  }
  ++stats_.accepted;
  if (other_account) {
    auto it = stats_.accepted_by_account.find(row_account);
    if (it == stats_.accepted_by_account.end())
      it = stats_.accepted_by_account.emplace(std::string(row_account), 0).first;
    ++it->second;
  } else {
    ++default_accepted_;
  }
  batcher::group_id group;
  if (other_account || r.type != options_.type) {
    group = batcher_.group_of(row_account, r.type);
  } else {
    // Most records go to the run's default group: look it up once.
    if (!default_group_) default_group_ = batcher_.group_of(options_.account_id, options_.type);
    group = *default_group_;
  }
  if (!batcher_.add(group, email, r.source, r.line, chunk_->text.view(r.username))) return false;
  batcher_.take(out);
  ++stats_.batches;
  ++stats_.requests;
  return true;
}

bool ingest::next_batch(batch& out) {
  if (error_) std::rethrow_exception(error_);
  for (;;) {
    if (chunk_ && pos_ < chunk_->records.size()) {
      prefetch(pos_ + prefetch_distance);
      if (take(chunk_->records[pos_++], out)) return true;
      continue;
    }
    if (!eof_) {
      if (!next_chunk()) eof_ = true;
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
    if (by_reason_[i])
      stats_.rejected_by_reason[std::string(to_string(static_cast<reason>(i)))] = by_reason_[i];
  if (default_accepted_) stats_.accepted_by_account[options_.account_id] = default_accepted_;
  return stats_;
}

}  // namespace onboard
