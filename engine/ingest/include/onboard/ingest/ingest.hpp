// onboard/ingest/ingest.hpp: the whole input side of a run as one pull stream: read the corpus,
// normalise and validate each address, drop duplicates and addresses already done, and hand out
// request batches. Rejected lines and duplicates are counted and optionally written to CSV files.
//
//   onboard::ingest_options o;
//   o.inputs = {"users.csv", "-"};
//   o.account_id = "1234-...";
//   o.rejects_path = "rejects.csv";
//   onboard::ingest in(std::move(o));         // throws ingest_error: missing file, no email column
//   onboard::batch b;
//   while (in.next_batch(b)) send(b);         // b's storage is reused from call to call
//   auto& s = in.stats();                     // lines, accepted, rejected_by_reason, ...
//
// Commands declare the input flags with add_ingest_options() and read them back with
// ingest_options_from_flags(), so plan, invite and create-users spell and check them alike:
//   auto* flags = onboard::add_ingest_options(parser, onboard::operation::invite);
//   if (auto rc = parser.parse(args)) return *rc;
//   auto opts = onboard::ingest_options_from_flags(parser, *flags);  // nullopt: usage error
//   printed
//
// Streaming and bounded: memory is the reader's buffer, the dedupe table (~25 bytes per unique
// address), at most 49 pending addresses per (account, user type) group and the read-ahead below.
// Reading stops when the read-ahead is full, so a consumer that sends slowly is the backpressure.
//
// Two threads for large files: when every input is a named regular file (together at least
// ingest_options::parallel_min_bytes), a second thread reads, frames, normalises and validates
// records up to ~64k ahead, while the thread calling next_batch dedupes, writes the report files
// and batches, strictly in input order; hashing goes to whichever of the two has time. Results,
// counters and report files are identical to a single-threaded run; a fatal input error surfaces
// from next_batch after every record before it. Stdin and pipes are always read on the calling
// thread (16 records ahead), so destroying an ingest never waits for input that may never come.
//
// Every record ends in exactly one bucket: lines == accepted + rejected + duplicates +
// already_done. "First occurrence wins": a later copy of an address (same dedupe key, see
// dedupe.hpp) is a duplicate even if the first copy differed in case. An address found in
// `already_done` (the journal's set on resume) counts as already_done once; its later copies in
// the corpus count as duplicates.
#pragma once

#include <onboard/ingest/batcher.hpp>
#include <onboard/ingest/dedupe.hpp>
#include <onboard/ingest/normalize.hpp>
#include <onboard/core/outcome.hpp>
#include <onboard/io/corpus_reader.hpp>

#include <array>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace onboard {

namespace detail {
struct staged_record;
struct staged_chunk;
class read_stage;
class chunk_source;
}  // namespace detail

// ingest_error: the input cannot be read at all (missing/unreadable file, CSV without the email
// column, corrupt gzip, a report file that cannot be created). what() names the file.
class ingest_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ingest_options: what to read and how to turn it into batches.
struct ingest_options {
  std::vector<std::string> inputs;          // paths; "-" reads stdin
  std::string email_column = "email";       // CSV column with the address
  char delimiter = ',';                     // CSV field separator
  bool case_sensitive_local = false;        // dedupe key keeps the local part's case
  std::string account_id;                   // default; a CSV account_id cell overrides it per row
  user_type type = user_type::unspecified;  // default; a CSV user_type cell overrides it per row
  operation op = operation::invite;  // invite: batches of <= batch_limit; create: single items
  std::size_t batch_limit = max_invite_batch;
  // where: --where COLUMN=VALUE, repeatable (AND): only the CSV rows that match are read; the
  // others are outside this wave (counted in ingest_stats::outside_where), neither rejected nor
  // duplicates. See io::corpus_options::where.
  std::vector<std::pair<std::string, std::string>> where;
  std::string rejects_path;     // CSV source,line,raw_value,reason (0600); empty: none
  std::string duplicates_path;  // CSV source,line,email,first_source,first_line (0600)
  // already_done: whether a normalised address was finished by an earlier run (the journal).
  // Called once per unique accepted address; leave empty when there is nothing to skip.
  std::function<bool(std::string_view normalised_email)> already_done;
  // already_done_keys: the same as a key set (key_of(normalised, case_sensitive_local)): faster
  // and ~20 bytes per address instead of a string set. Either or both may be given.
  std::shared_ptr<const dedupe_set> already_done_keys;
  io::corpus_options reader;  // buffer sizes, line cap, stdin fd (tests)
  // parallel_min_bytes: read on a second thread when every input is a regular file and together
  // they hold at least this many bytes (see above); 0 whenever possible, UINT64_MAX never.
  std::uint64_t parallel_min_bytes = std::uint64_t(1) << 20;
};

// ingest_stats: counters, updated as batches are pulled; final once next_batch returned false.
struct ingest_stats {
  std::uint64_t lines = 0;          // records read (blank and comment lines excluded)
  std::uint64_t skipped = 0;        // blank and comment lines
  std::uint64_t outside_where = 0;  // CSV rows --where left out (not records: not in `lines`)
  std::uint64_t accepted = 0;       // unique addresses put into batches
  std::uint64_t rejected = 0;       // sum of rejected_by_reason
  std::map<std::string, std::uint64_t> rejected_by_reason;  // reason code -> count (nonzero only)
  std::uint64_t duplicates = 0;
  std::uint64_t already_done = 0;
  // accepted_by_account: accepted addresses per account, for every account that has one (the
  // default's counted under options.account_id): the accounts a run has to pre-flight.
  std::map<std::string, std::uint64_t, std::less<>> accepted_by_account;
  std::uint64_t batches = 0;
  std::uint64_t requests = 0;  // API calls the batches need (one per batch)
};

// ingest: see the header comment. Not thread-safe; one consumer.
class ingest {
 public:
  // ingest: opens the inputs (fail-fast) and the report files. Throws ingest_error.
  explicit ingest(ingest_options options);
  ~ingest();
  ingest(const ingest&) = delete;
  ingest& operator=(const ingest&) = delete;

  // next_batch: the next batch, false/nullopt at the end (report files are then flushed and
  // closed). The reusing form recycles `out`'s strings. Throws ingest_error on fatal input errors.
  bool next_batch(batch& out);
  std::optional<batch> next_batch();

  // stats: counters so far.
  const ingest_stats& stats() const;

  // input_name: how reports name input `source` ("<stdin>" for "-").
  const std::string& input_name(std::uint32_t source) const;

  const ingest_options& options() const noexcept { return options_; }

  // seen: the keys of this run so far (accepted and already-done addresses).
  const dedupe_set& seen() const noexcept { return seen_; }

  // parallel: whether the inputs are read on a second thread.
  bool parallel() const noexcept;

  // cancel: from any thread: reading stops, and a next_batch waiting for a stream (stdin, a pipe)
  // that has nothing to say, or any later one, throws ingest_error. For a run that is stopping.
  void cancel() noexcept;

  // chunks_hashed_by_reader: in parallel mode, the chunks of records (a few thousand each) whose
  // dedupe keys the read thread computed: it does so, instead of idling, while the consumer is
  // behind; the consumer hashes the rest. Benchmarks and tests look at the split.
  std::uint64_t chunks_hashed_by_reader() const;

 private:
  class csv_file;
  bool next_chunk();
  void prefetch(std::size_t i) const noexcept;
  bool take(const detail::staged_record& r, batch& out);
  void finish();

  ingest_options options_;
  std::unique_ptr<io::corpus_reader> reader_;
  dedupe_set seen_;
  const dedupe_set* done_keys_ = nullptr;  // options_.already_done_keys when not empty
  batcher batcher_;
  std::optional<batcher::group_id> default_group_;  // (options_.account_id, options_.type)
  std::unique_ptr<csv_file> rejects_, duplicates_;
  std::unique_ptr<detail::read_stage> stage_;
  std::unique_ptr<detail::chunk_source> chunks_;  // after stage_ and reader_: stopped first
  const detail::staged_chunk* chunk_ = nullptr;
  std::size_t pos_ = 0;  // next record of chunk_ to take
  bool eof_ = false, finished_ = false;
  std::exception_ptr error_;  // a fatal input error, rethrown by every later next_batch
  std::array<std::uint64_t, reason_count> by_reason_{};
  std::uint64_t default_accepted_ = 0;  // the default account's share of stats_.accepted
  mutable ingest_stats stats_;
};

}  // namespace onboard
