// onboard/journal/journal.hpp: the write-ahead journal that makes an interrupted run resumable
// without losing or double-inviting anyone. Format and guarantees: docs/journal.md.
//
// Every request's *intent* (batch id + addresses) is appended before it is sent and its *outcomes*
// (one record per batch) after. Records are checksummed frames, so a tail torn by power loss is
// detected and dropped, never misread. Replaying the file gives, per normalised address, the
// latest outcome, plus the batches that were in flight ("in doubt") when the run stopped.
//
//   auto j = onboard::journal::open("run.journal", header, {.mode = onboard::durability::batched});
//   const onboard::replay_state& prior = j->prior();          // what earlier runs did
//   for (auto& n : j->notes()) std::cerr << n << "\n";        // e.g. a dropped torn tail
//   co_await j->async_record_intent(batch.id, emails);        // durable before the send
//   ... send ...
//   j->record_outcomes(batch.id, outcomes);                   // group-committed (<= max_delay)
//   j->close();                                               // flush + fdatasync
//
//   auto state = onboard::replay_journal("run.journal");      // read-only (status, report)
#pragma once

#include <onboard/core/outcome.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <unordered_map>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace onboard {

namespace io {
class durable_file;
}

// durability: how hard the journal works to keep records across a crash (docs/journal.md).
//   strict:  every record_* returns only once its record is on stable storage (fdatasync).
//   batched: group commit; intents are durable before on_durable fires (await it before sending),
//            outcomes within max_delay. The default.
//   off:     records reach the kernel (write(2)) before on_durable fires, never fdatasync'ed:
//            survives kill -9, not power loss.
enum class durability : std::uint8_t { strict, batched, off };

std::string_view to_string(durability d);  // "strict" | "batched" | "off"
std::optional<durability> parse_durability(std::string_view s);

// journal_error: the journal cannot be used (missing, not a journal, a different run, damaged,
// I/O failure); what() names the file and says what to do.
class journal_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// journal_damaged: journal::open found readable records after an unreadable one (damage, not a
// torn tail) and refused to append; repair_journal makes such a journal usable again.
class journal_damaged : public journal_error {
 public:
  using journal_error::journal_error;
};

// journal_header: what a run means. A journal written for one meaning is refused by another.
struct journal_header {
  operation op = operation::invite;
  std::string account_id;
  user_type type = user_type::unspecified;
  bool case_sensitive_local = false;  // normalisation option: local parts compared case-sensitively
  std::string tool_version;           // informational: a different version may resume
  std::int64_t created_unix_ms = 0;   // set when the journal is created
  std::uint16_t format = 0;           // the file's format version (set by replay and open)
};

// header_mismatch: "" when `on_disk` and `run` mean the same run; else one sentence per
// difference, e.g. "journal run.journal was written for account A, this run is for account B".
std::string header_mismatch(const std::filesystem::path& path, const journal_header& on_disk,
                            const journal_header& run);

// journal_crc32c: CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start). Uses SSE4.2
// when the CPU has it, else slice-by-8 tables.
std::uint32_t journal_crc32c(std::string_view data, std::uint32_t crc = 0);

// in_doubt_batch: an intent whose addresses (some or all) have no later outcome: the request may
// or may not have reached the service.
struct in_doubt_batch {
  std::uint64_t batch_id = 0;
  std::uint32_t attempt = 0;
  std::int64_t intent_unix_ms = 0;
  std::vector<std::string> emails;  // only the addresses still without an outcome
};

// journal_session: one process that opened the journal for writing.
struct journal_session {
  std::int64_t started_unix_ms = 0;
  std::int64_t last_unix_ms = 0;  // last intent or outcome recorded by it
  std::string tool_version;
  durability mode = durability::batched;
  std::uint32_t pid = 0;
};

// tail_state: how the readable part of the file ends.
enum class tail_state : std::uint8_t {
  clean,    // ends at a record boundary
  torn,     // ends inside an incomplete record (interrupted write): dropped, nothing confirmed lost
  damaged,  // a bad record is followed by readable ones: corruption, replay stopped there
};

class mapped_journal;  // the file's bytes, shared by a replay_state and its views

// replay_state: what a journal says, keyed by the normalised address. Memory: ~50 bytes per
// address plus the file mapping (page cache, not heap). Lookups fold case as the header says
// (all ASCII letters unless case_sensitive_local, else the domain only).
class replay_state {
 public:
  // address_state: one address: its latest outcome (if any) and whether a later intent for it
  // has no outcome (in doubt). A failed address retried and interrupted is both.
  struct address_state {
    std::string_view email;            // valid while the replay_state lives
    std::optional<outcome_kind> kind;  // latest outcome; nullopt when only intents exist
    bool in_doubt = false;
  };

  // totals: addresses by their latest outcome; in_doubt counts addresses whose latest event is an
  // intent (overlapping `failed` for a retried address).
  struct totals {
    std::uint64_t addresses = 0;
    std::uint64_t invited = 0, created = 0, exists = 0, failed = 0, not_sent = 0;
    std::uint64_t in_doubt = 0;
    std::uint64_t intent_records = 0, outcome_records = 0, release_records = 0;
    std::uint64_t outcomes_recorded = 0;  // per-address outcomes over all records (retries count)
  };

  replay_state();
  replay_state(replay_state&&) noexcept;
  replay_state& operator=(replay_state&&) noexcept;
  ~replay_state();

  const journal_header& header() const { return header_; }
  const std::filesystem::path& path() const { return path_; }

  // size / at: every address, in the order the journal first mentions it.
  std::size_t size() const;
  address_state at(std::size_t index) const;
  // find: the address's state, nullopt when the journal never mentions it.
  std::optional<address_state> find(std::string_view email) const;
  // outcome_at / outcome_of: the full latest outcome (decoded from the file), nullopt when none.
  std::optional<address_outcome> outcome_at(std::size_t index) const;
  std::optional<address_outcome> outcome_of(std::string_view email) const;

  const std::vector<in_doubt_batch>& in_doubt() const { return in_doubt_; }
  const totals& counts() const { return totals_; }
  const std::vector<journal_session>& sessions() const { return sessions_; }

  std::int64_t first_activity_unix_ms() const { return first_ms_; }  // 0 when none
  std::int64_t last_activity_unix_ms() const { return last_ms_; }    // 0 when none
  // active_seconds: time spent recording, summed per session (gaps between runs excluded).
  double active_seconds() const;
  // rate_per_second: per-address outcomes recorded per active second (0 when unknown).
  double rate_per_second() const;

  // The file's end: valid_bytes are replayed; bad_bytes after them were not (see tail()).
  std::uint64_t valid_bytes() const { return valid_bytes_; }
  std::uint64_t bad_bytes() const { return bad_bytes_; }
  tail_state tail() const { return tail_; }
  // tail_note: a one-line explanation for stderr when tail() != clean, else "".
  const std::string& tail_note() const { return tail_note_; }

 private:
  friend class replay_builder;
  // entry: one address, pointing into the mapping rather than copying its strings.
  struct entry {
    std::uint64_t email_off = 0;    // the address's bytes in the mapping
    std::uint64_t outcome_rec = 0;  // payload offset of its latest outcome record (0: none)
    std::uint32_t intent = 0;       // 1 + index of its latest intent during replay (0: none)
    std::uint32_t prev_intent = 0;  // `intent` before that one (what a release restores)
    std::uint16_t email_len = 0;
    std::uint16_t outcome_index = 0;  // its position inside that outcome record
    std::uint8_t kind = 0;
    bool in_doubt = false;
    bool prev_in_doubt = false;  // `in_doubt` before the latest intent
  };
  std::optional<std::size_t> index_of(std::string_view email) const;
  std::filesystem::path path_;
  journal_header header_;
  std::shared_ptr<const mapped_journal> map_;
  std::vector<entry> entries_;
  std::vector<std::uint64_t> slots_;  // open addressing: (hash high bits << 32) | (index + 1)
  std::vector<in_doubt_batch> in_doubt_;
  std::vector<journal_session> sessions_;
  totals totals_;
  std::int64_t first_ms_ = 0, last_ms_ = 0;
  std::uint64_t valid_bytes_ = 0, bad_bytes_ = 0;
  tail_state tail_ = tail_state::clean;
  std::string tail_note_;
};

// replay_journal: reads a journal without writing to it. Throws journal_error when the file is
// missing, unreadable, not a journal or has a damaged header; a torn or damaged tail is reported
// through replay_state::tail() instead (the readable prefix is returned).
replay_state replay_journal(const std::filesystem::path& path);

// replay_options: how replay_journal reads the file.
struct replay_options {
  // drop_behind: 0 keeps the whole file in memory (mapped and read in at once: a run's prior, whose
  // addresses lookups touch throughout). Else the file is read in order and every `drop_behind`
  // bytes what lies behind is let go of: the memory is then the address table's (~48 bytes per
  // address) and not also the file's; an address or outcome asked for later is read back from the
  // page cache. For one pass over a large journal (the run's picture).
  std::size_t drop_behind = 0;
};
replay_state replay_journal(const std::filesystem::path& path, replay_options options);

// journal_file_name: the default journal's name for an (operation, account), e.g.
// "invite-12a3456b-7c89.journal" or "create-users-acct.journal". The account id keeps its ASCII
// letters, digits, '.', '-' and '_' and its first 64 bytes; when anything else had to change
// (another byte became '_', the id was cut, or it was empty), '-' and 8 hex digits of the id's
// CRC-32C follow, so ids that differ only there get different names. Ids that still collided
// could not share a journal: its header names the account, and open() refuses another.
std::string journal_file_name(operation op, std::string_view account_id);

// set_aside_journal: renames the journal at `path` to "<stem>.old-<UTC time>.journal" beside it,
// never replacing a file and never deleting one, and fsyncs the folder. nullopt when nothing is
// at `path`. Throws journal_error when another process is writing it or the rename fails.
std::optional<std::filesystem::path> set_aside_journal(const std::filesystem::path& path);

// journal_repair: what repair_journal did.
struct journal_repair {
  // lost_bytes: one stretch of the damaged file that could not be read as records.
  struct lost_bytes {
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::size_t addresses = 0;  // addresses still readable in those bytes
  };
  bool repaired = false;           // false: nothing was wrong and no file was touched
  std::filesystem::path original;  // the damaged file, kept under this name
  std::uint64_t records_kept = 0;  // records after the header, copied unchanged
  // records_corrected: records with one flipped bit, written back as they were (CRC-32C tells
  // which bit: docs/journal.md)
  std::uint64_t records_corrected = 0;
  std::vector<lost_bytes> lost;
  std::vector<std::string> recovered;    // addresses read in the lost bytes, each once
  std::uint64_t recovered_in_doubt = 0;  // of those, in doubt in the repaired journal
  replay_state::totals totals;           // of the repaired journal
};

// repair_journal: rewrites a damaged (or torn) journal from what can be trusted. Every record
// that passes its checksum and parses is kept byte for byte, in order; in place of each stretch
// that cannot be read it writes an intent naming the addresses still legible in those bytes, so
// that they come back in doubt (verified with ListUsers before anything is re-sent) unless a
// later record settles them. The damaged file is kept as "<stem>.damaged-<UTC time>.journal";
// the repaired one is written 0600 under a temporary name, fsync'ed, replayed as a check, renamed
// over `path`, and the folder fsync'ed. Holds the journal's lock throughout. Throws journal_error
// (missing, not a journal, unreadable header, a record of a newer format, in use, I/O failure).
journal_repair repair_journal(const std::filesystem::path& path);

// is_repair_batch: whether an intent's batch id is one that repair_journal wrote.
bool is_repair_batch(std::uint64_t batch_id);

// journal_options: the durability knobs.
struct journal_options {
  durability mode = durability::batched;
  // max_delay: longest an outcome waits for its group commit (batched), or for write(2) (off).
  std::chrono::milliseconds max_delay{20};
  // ahead_delay: longest an intent recorded ahead (append_intent) waits for its commit when
  // nobody awaits it yet. Short enough to be durable before its batch is sent (a request round
  // trip later), long enough that one fdatasync covers the intents of many connections; a waiter
  // still starts the commit at once.
  std::chrono::microseconds ahead_delay{3000};
  // max_pending_bytes: a group commit starts early once this much is waiting.
  std::size_t max_pending_bytes = 1u << 20;
  // truncate_damaged: cut a damaged (not merely torn) journal at its first bad record instead of
  // refusing it. Loses what followed; for an operator who read the message (docs/journal.md).
  bool truncate_damaged = false;
  // format: the version a new journal is written in (docs/journal.md); 1 writes the old,
  // larger outcome records, for tests of reading old journals. An existing journal keeps its own.
  std::uint16_t format = 2;
};

// journal: the append side. Thread-safe: any thread may record; a background thread group-commits.
class journal {
 public:
  // ticket: a position in the journal; durable once everything before it is.
  using ticket = std::uint64_t;
  // durable_callback: gets {} once the ticket is durable (per the mode), or the error that stops
  // the journal (then: do not send). Runs on the journal's flusher thread, or inline when already
  // decided: keep it short (post to an executor).
  using durable_callback = std::function<void(std::error_code)>;

  // open: creates `path` (0600, header + session record, fsync'ed with its folder) or reopens it:
  // replays it (see prior()), refuses a different header (message says what differs), drops a torn
  // tail (see notes()), takes an exclusive lock (a second process is refused) and appends a
  // session record. Throws journal_error.
  static std::unique_ptr<journal> open(const std::filesystem::path& path, journal_header header,
                                       journal_options options = {});

  journal(const journal&) = delete;
  journal& operator=(const journal&) = delete;
  ~journal();  // close(), swallowing errors: call close() to see them

  // prior: the replay of what was in the file when it was opened (empty for a new journal).
  const replay_state& prior() const { return prior_; }
  // notes: lines for stderr about the open (a dropped torn tail, ...).
  const std::vector<std::string>& notes() const { return notes_; }

  // record_intent: appends "batch_id (attempt) is about to carry these addresses". In strict mode
  // returns once durable; otherwise wait with on_durable / wait_durable before sending.
  ticket record_intent(std::uint64_t batch_id, std::span<const std::string> emails,
                       std::uint32_t attempt = 1);
  ticket record_intent(std::uint64_t batch_id, std::span<const std::string_view> emails,
                       std::uint32_t attempt = 1);
  // record_outcomes: appends one record with the outcome of each address (one batch's response).
  // In strict mode returns once durable; otherwise durable within max_delay.
  ticket record_outcomes(std::uint64_t batch_id, std::span<const address_outcome> outcomes);

  // on_durable: calls `cb` once `t` is durable (see durable_callback). Asks for a prompt commit.
  void on_durable(ticket t, durable_callback cb);
  // wait_durable: blocks until `t` is durable; throws journal_error if the journal failed.
  void wait_durable(ticket t);
  // async_wait_durable: on_durable as an Asio async operation; completes on the handler's
  // associated executor with signature void(std::error_code).
  template <typename CompletionToken>
  auto async_wait_durable(ticket t, CompletionToken&& token);
  // async_record_intent: record_intent + await durability, for the dispatcher's coroutines.
  // Throws journal_error (the request must not be sent) when the journal has failed.
  boost::asio::awaitable<void> async_record_intent(std::uint64_t batch_id,
                                                   std::span<const std::string> emails,
                                                   std::uint32_t attempt = 1);
  // append_intent: record_intent ahead of time, never blocking, committed within ahead_delay: a
  // sender records the intent of its next batch while the current request is in flight, then
  // awaits async_durable() just before sending it, by when the fdatasync has usually finished.
  ticket append_intent(std::uint64_t batch_id, std::span<const std::string_view> emails,
                       std::uint32_t attempt = 1);
  // record_release: withdraws an intent recorded ahead whose request was never sent (the run
  // stopped first), so that the next run sends those addresses without verifying them.
  ticket record_release(std::uint64_t batch_id, std::span<const std::string_view> emails);
  // async_durable: completes once `t` is durable; throws journal_error when the journal failed.
  boost::asio::awaitable<void> async_durable(ticket t);
  boost::asio::awaitable<void> async_record_intent(std::uint64_t batch_id,
                                                   std::span<const std::string_view> emails,
                                                   std::uint32_t attempt = 1);

  // commit: makes everything recorded so far durable (blocking), e.g. on Ctrl-C before exiting.
  void commit();
  // close: commit, stop the flusher, close the file. Throws journal_error on an I/O failure.
  void close();

  bool is_durable(ticket t) const;
  // failure: the error that stopped the journal (empty message when healthy).
  std::string failure_message() const;
  durability mode() const { return options_.mode; }
  const std::filesystem::path& path() const { return path_; }

 private:
  journal(std::filesystem::path path, journal_options options);
  ticket append_record(std::string&& frame, bool wait);
  // append_intent_frame: an intent's frame appended, and tracked for compact outcomes.
  template <typename Emails>
  ticket append_intent_frame(std::uint64_t batch_id, std::uint32_t attempt, const Emails& emails,
                             bool wait);
  // encode_outcomes: a compact record when every outcome names an address of the batch's tracked
  // intent not yet settled, else a full (version-1) record.
  std::string encode_outcomes(std::uint64_t batch_id, std::span<const address_outcome> outcomes);
  void run_flusher();
  [[noreturn]] void throw_failure() const;

  std::filesystem::path path_;
  journal_options options_;
  replay_state prior_;
  std::vector<std::string> notes_;
  std::unique_ptr<io::durable_file> file_;
  std::uint16_t format_ = 0;  // of the file: 1 writes only full outcome records

  // tracked_intent: an intent of this session whose addresses do not all have an outcome yet;
  // the replay keeps the same (replay_builder::live_intent), keyed by batch id.
  struct tracked_intent {
    std::uint32_t crc = 0;
    std::vector<std::string> emails;
    std::vector<bool> settled;
    std::uint32_t remaining = 0;
  };
  std::mutex track_mu_;
  std::unordered_map<std::uint64_t, tracked_intent> tracked_;

  mutable std::mutex mu_;
  std::condition_variable flusher_cv_;  // work for the flusher
  std::condition_variable durable_cv_;  // durable_ advanced or the journal failed
  std::string pending_, spare_;         // encoded frames not yet handed to write(2)
  ticket appended_ = 0;                 // end of the last recorded frame (file offset)
  ticket durable_ = 0;                  // everything before this is durable
  bool urgent_ = false;                 // someone waits: commit without waiting for max_delay
  std::chrono::steady_clock::time_point soon_{};  // commit by then (intents ahead; {} = none)
  bool stopping_ = false;
  bool closed_ = false;
  std::chrono::steady_clock::time_point first_pending_{};
  std::multimap<ticket, durable_callback> waiters_;
  std::error_code failure_;
  std::string failure_message_;
  std::thread flusher_;
};

template <typename CompletionToken>
auto journal::async_wait_durable(ticket t, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::error_code)>(
      [this, t](auto handler) {
        auto ex = boost::asio::get_associated_executor(handler);
        // std::function needs a copyable target and completion handlers are move-only.
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        on_durable(t, [shared, ex](std::error_code ec) {
          boost::asio::post(ex, [shared, ec]() { std::move (*shared)(ec); });
        });
      },
      token);
}

}  // namespace onboard
