// ingest_stage.hpp (internal to ingest.cpp): the read side of ingest as a stage that can run on a
// thread of its own. It reads and frames records, normalises and validates each address, and
// packs the results, in input order, into chunks of a few thousand records; each chunk's dedupe
// keys are hashed by whichever thread has time (chunk_source); the caller's thread dedupes and
// batches (ingest::next_batch). Everything that must happen in input order against shared state
// (dedupe, counters, report files, the already-done callback) stays on the consumer side, so the
// output is the same whichever thread did the reading or the hashing.
//
//   detail::read_stage stage(reader, options, /*render_rejects=*/true);
//   detail::chunk_source src(stage, /*background=*/true);
//   for (;;) {
//     const detail::staged_chunk& c = src.next();   // hashed; the previous chunk goes back
//     for (const auto& r : c.records) use(r, c.text.view(r.text));
//     if (c.error) std::rethrow_exception(c.error);
//     if (c.end) break;
//   }
#pragma once

#include <onboard/ingest/dedupe.hpp>
#include <onboard/ingest/ingest.hpp>
#include <onboard/ingest/normalize.hpp>
#include <onboard/io/corpus_reader.hpp>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace onboard::detail {

// csv_row: appends one row of a report file (rejects, duplicates) to `out`, cells escaped and
// quoted by report_cell.
class csv_row {
 public:
  explicit csv_row(std::string& out) : out_(out) {}
  csv_row& cell(std::string_view v);
  csv_row& number(std::uint64_t v);
  void end() { out_ += '\n'; }

 private:
  std::string& out_;
  bool first_ = true;
};

// text_span: a piece of a chunk's text.
struct text_span {
  std::uint32_t off = 0;
  std::uint32_t len = 0;
};

// text_arena: the bytes of a chunk's records, appended without zero-filling and reused from chunk
// to chunk.
class text_arena {
 public:
  // reserve: room for `n` more bytes at the returned pointer; commit() says how many were used.
  char* reserve(std::size_t n) { return cap_ - used_ >= n ? buf_.get() + used_ : grow(n); }
  text_span commit(std::size_t n);
  text_span append(std::string_view v);
  std::string_view view(text_span s) const noexcept { return {buf_.get() + s.off, s.len}; }
  void clear() noexcept { used_ = 0; }
  std::size_t size() const noexcept { return used_; }

 private:
  char* grow(std::size_t n);

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, used_ = 0;
};

// staged_record: one record after the read stage. An accepted address has why == reason::none,
// its normalised form in `text` and its dedupe key; a rejected one has its reason and, when the
// rejects file is wanted, its rendered rejects-file row in `text`.
struct staged_record {
  dedupe_key key;
  std::uint64_t line = 0;
  std::uint32_t source = 0;
  reason why = reason::none;
  user_type type = user_type::unspecified;
  bool own_account = false;  // `account` overrides the default account
  text_span text;
  text_span username;  // CSV only
  text_span account;   // CSV only
};

// key_state: whether a chunk's dedupe keys are computed yet, and by whom (see chunk_source).
enum class key_state : std::uint8_t { done, pending, reader };

// staged_chunk: consecutive records of the input and what happened after the last of them.
struct staged_chunk {
  std::vector<staged_record> records;
  text_arena text;
  std::uint64_t skipped_lines = 0;   // the reader's blank/comment count after these records
  std::uint64_t filtered_lines = 0;  // the reader's count of rows outside --where, likewise
  bool end = false;                  // the inputs are exhausted
  std::exception_ptr error;          // reading failed after these records (ingest_error or other)
  key_state keys = key_state::done;  // background mode: guarded by chunk_source's mutex

  void clear() noexcept;
};

// read_stage: fills chunks from a reader. Used by one thread at a time.
class read_stage {
 public:
  read_stage(io::corpus_reader& reader, const ingest_options& options, bool render_rejects);

  // fill: clears `c` and appends up to `max_records` records; at the end of input or on a fatal
  // input error, sets c.end or c.error (corpus errors become ingest_error) and stops. The accepted
  // records' keys are left to add_keys().
  void fill(staged_chunk& c, std::size_t max_records);

  // add_keys: computes the dedupe key of every accepted record of `c`. Touches nothing but `c`, so
  // it may run on either thread (chunk_source decides which).
  void add_keys(staged_chunk& c) const noexcept;

 private:
  void read_one(staged_chunk& c, const io::corpus_record& rec);
  void reject(staged_chunk& c, staged_record& r, reason why, std::string_view value);

  io::corpus_reader& reader_;
  const ingest_options& options_;
  bool render_rejects_;
  io::corpus_record rec_;
  std::string row_;
};

// chunk_source: hands out a read_stage's chunks in input order, either filled on demand on the
// caller's thread or read ahead on a background thread through a small pool of chunks (bounded
// memory, and a slow consumer stops the reading).
//
// In background mode the hashing (add_keys, a fifth of the read side's work) floats between the
// threads so that neither waits for the other: the reader publishes chunks unhashed; the consumer
// hashes a chunk when it takes it, unless the reader got there first, which it does instead of
// idling whenever the pool is full (the consumer is behind). Hashing goes to whichever thread has
// time, whatever the machine and the input make of the two sides' speeds.
class chunk_source {
 public:
  // chunk_source: in background mode, `prelude` runs first on the background thread (setup work
  // the caller wants done in parallel with its own); the inline mode ignores it.
  chunk_source(read_stage& stage, bool background, std::function<void()> prelude = {});
  ~chunk_source();  // stops and joins the background thread
  chunk_source(const chunk_source&) = delete;
  chunk_source& operator=(const chunk_source&) = delete;

  // next: the next chunk; the one returned before goes back to be refilled. Must not be called
  // again after a chunk with `end` or `error`.
  const staged_chunk& next();

  bool background() const noexcept { return worker_.joinable(); }

  // hashed_by_reader: chunks whose keys the background thread computed (tests, benchmarks).
  std::uint64_t hashed_by_reader() const;

 private:
  void run(const std::function<void()>& prelude) noexcept;
  staged_chunk* claim_unhashed();

  read_stage& stage_;
  std::vector<std::unique_ptr<staged_chunk>> pool_;
  staged_chunk* current_ = nullptr;
  std::size_t chunk_records_;

  // Background mode: chunks move free_ -> (filled by the worker) -> full_ -> current_ -> free_.
  mutable std::mutex mu_;
  std::condition_variable has_free_, has_full_, hashed_;
  std::vector<staged_chunk*> free_;
  std::deque<staged_chunk*> full_;
  bool stop_ = false;
  std::uint64_t hashed_by_reader_ = 0;
  std::thread worker_;
};

}  // namespace onboard::detail
