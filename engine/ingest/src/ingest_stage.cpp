// ingest_stage.cpp: the read stage (framing, normalisation, validation, hashing) and the chunk
// hand-off between it and ingest::next_batch.
#include "ingest_stage.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace onboard::detail {

namespace {

// Background chunks are large so that the hand-off (a lock and a wake-up) is paid once per
// thousands of records. Sixteen of them bound the read-ahead to about 64k records (~6 MB): the
// two threads run at about the same speed, so each stalls whenever the other has a slow stretch,
// and a deeper pool absorbs more of that (waits measured 0.06-0.10 s a 10M-line run, against
// 0.08-0.17 s with four; 32 gained nothing more).
constexpr std::size_t background_chunk_records = 4096;
constexpr std::size_t background_pool = 16;
// On the caller's thread, read no further ahead than the batching needs, so that records typed
// into an interactive stdin are not held back.
constexpr std::size_t inline_chunk_records = 16;
// A chunk also ends when its text passes this size (long CSV rows), keeping memory bounded.
constexpr std::size_t chunk_text_budget = std::size_t(1) << 20;

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

csv_row& csv_row::cell(std::string_view v) {
  if (!first_) out_ += ',';
  out_ += report_cell(v);
  first_ = false;
  return *this;
}

csv_row& csv_row::number(std::uint64_t v) {
  if (!first_) out_ += ',';
  out_ += std::to_string(v);
  first_ = false;
  return *this;
}

char* text_arena::grow(std::size_t n) {
  std::size_t cap = std::max(cap_ * 2, used_ + n + 4096);
  auto grown = std::make_unique_for_overwrite<char[]>(cap);
  if (used_) std::memcpy(grown.get(), buf_.get(), used_);
  buf_ = std::move(grown);
  cap_ = cap;
  return buf_.get() + used_;
}

text_span text_arena::commit(std::size_t n) {
  text_span s{static_cast<std::uint32_t>(used_), static_cast<std::uint32_t>(n)};
  used_ += n;
  return s;
}

text_span text_arena::append(std::string_view v) {
  if (!v.empty()) std::memcpy(reserve(v.size()), v.data(), v.size());
  return commit(v.size());
}

void staged_chunk::clear() noexcept {
  records.clear();
  text.clear();
  skipped_lines = 0;
  filtered_lines = 0;
  end = false;
  error = nullptr;
  keys = key_state::done;
}

read_stage::read_stage(io::corpus_reader& reader, const ingest_options& options,
                       bool render_rejects)
    : reader_(reader), options_(options), render_rejects_(render_rejects) {}

void read_stage::fill(staged_chunk& c, std::size_t max_records) {
  c.clear();
  std::size_t complete = 0;
  try {
    while (complete < max_records && c.text.size() < chunk_text_budget) {
      if (!reader_.next(rec_)) {
        c.end = true;
        break;
      }
      read_one(c, rec_);
      complete = c.records.size();
    }
  } catch (const io::corpus_error& e) {
    c.error = std::make_exception_ptr(ingest_error(e.what()));
  } catch (...) {
    c.error = std::current_exception();
  }
  c.records.resize(complete);  // drops a record left half-made by an exception
  c.skipped_lines = reader_.skipped_lines();
  c.filtered_lines = reader_.filtered_lines();
}

void read_stage::add_keys(staged_chunk& c) const noexcept {
  // Keys are computed in a pass of their own: each hash is a chain of dependent multiplies, and
  // back to back the core overlaps consecutive chains instead of waiting on each in turn.
  const bool csl = options_.case_sensitive_local;
  for (staged_record& r : c.records)
    if (r.why == reason::none) r.key = key_of(c.text.view(r.text), csl);
}

void read_stage::read_one(staged_chunk& c, const io::corpus_record& rec) {
  // Built in place: a copied record would be reloaded in 16-byte pieces from smaller stores,
  // which cannot be store-forwarded.
  staged_record& r = c.records.emplace_back();
  r.source = rec.source;
  r.line = rec.line;
  if (rec.problem != io::line_problem::none) return reject(c, r, reason_of(rec.problem), rec.raw);
  std::size_t len = 0;
  reason why = normalize_email(rec.email, c.text.reserve(max_email_octets), len);
  if (why != reason::none) return reject(c, r, why, rec.email);
  r.text = c.text.commit(len);
  r.type = options_.type;
  if (!rec.user_type.empty() || !rec.username.empty() || !rec.account_id.empty()) {
    // CSV extras: validated only when present, so plain lists skip all of this.
    if (!rec.user_type.empty() && !trim_ascii(rec.user_type).empty()) {
      auto t = parse_user_type_lenient(rec.user_type);
      if (!t) return reject(c, r, reason::bad_user_type, rec.user_type);
      r.type = *t;
    }
    std::string_view user = trim_ascii(rec.username);
    std::string_view acct = trim_ascii(rec.account_id);
    if (has_control(user)) return reject(c, r, reason::control_char, rec.username);
    if (has_control(acct)) return reject(c, r, reason::control_char, rec.account_id);
    r.username = c.text.append(user);
    if (!acct.empty()) {
      r.account = c.text.append(acct);
      r.own_account = true;
    }
  }
}

void read_stage::reject(staged_chunk& c, staged_record& r, reason why, std::string_view value) {
  r.why = why;
  r.text = {};
  if (render_rejects_) {
    row_.clear();
    csv_row(row_)
        .cell(reader_.input_name(r.source))
        .number(r.line)
        .cell(value)
        .cell(to_string(why))
        .end();
    r.text = c.text.append(row_);
  }
}

chunk_source::chunk_source(read_stage& stage, bool background, std::function<void()> prelude)
    : stage_(stage), chunk_records_(background ? background_chunk_records : inline_chunk_records) {
  std::size_t n = background ? background_pool : 1;
  for (std::size_t i = 0; i < n; ++i) {
    pool_.push_back(std::make_unique<staged_chunk>());
    pool_.back()->records.reserve(chunk_records_);
  }
  if (!background) return;
  for (auto& c : pool_) free_.push_back(c.get());
  worker_ = std::thread([this, prelude = std::move(prelude)] { run(prelude); });
}

chunk_source::~chunk_source() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  has_free_.notify_all();
  worker_.join();
}

const staged_chunk& chunk_source::next() {
  if (!worker_.joinable()) {
    current_ = pool_.front().get();
    stage_.fill(*current_, chunk_records_);
    stage_.add_keys(*current_);
    return *current_;
  }
  std::unique_lock lk(mu_);
  if (current_) {
    free_.push_back(current_);
    current_ = nullptr;
    has_free_.notify_one();
  }
  has_full_.wait(lk, [this] { return !full_.empty(); });
  current_ = full_.front();
  full_.pop_front();
  if (current_->keys == key_state::pending) {
    current_->keys = key_state::done;
    lk.unlock();
    stage_.add_keys(*current_);
  } else {
    hashed_.wait(lk, [this] { return current_->keys == key_state::done; });
  }
  return *current_;
}

// claim_unhashed: the newest published chunk nobody is hashing yet, now the reader's; null when
// there is none. The newest, because the consumer takes the oldest next. Called with mu_ held.
staged_chunk* chunk_source::claim_unhashed() {
  for (auto it = full_.rbegin(); it != full_.rend(); ++it) {
    if ((*it)->keys != key_state::pending) continue;
    (*it)->keys = key_state::reader;
    return *it;
  }
  return nullptr;
}

std::uint64_t chunk_source::hashed_by_reader() const {
  std::lock_guard lk(mu_);
  return hashed_by_reader_;
}

void chunk_source::run(const std::function<void()>& prelude) noexcept {
  if (prelude) prelude();
  for (;;) {
    staged_chunk* c = nullptr;
    {
      std::unique_lock lk(mu_);
      while (!stop_ && free_.empty()) {
        // The pool is full, so the consumer is behind: take hashing off its hands.
        if (staged_chunk* h = claim_unhashed()) {
          lk.unlock();
          stage_.add_keys(*h);
          lk.lock();
          h->keys = key_state::done;
          ++hashed_by_reader_;
          hashed_.notify_one();
          continue;
        }
        has_free_.wait(lk);
      }
      if (stop_) return;
      c = free_.back();
      free_.pop_back();
    }
    stage_.fill(*c, chunk_records_);  // outside the lock: this is the work being overlapped
    const bool last = c->end || c->error;
    {
      std::lock_guard lk(mu_);
      c->keys = key_state::pending;
      full_.push_back(c);
    }
    has_full_.notify_one();
    if (last) return;
  }
}

}  // namespace onboard::detail
