// journal.cpp: the append side: open/resume, encoding, group commit on a flusher thread.
#include "journal_format.hpp"
#include "journal_replay.hpp"

#include <onboard/core/version.hpp>
#include <onboard/io/durable_file.hpp>

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

#include <unistd.h>

namespace onboard {

namespace fs = std::filesystem;

namespace {

template <typename Emails>
std::string encode_intent(std::uint64_t batch_id, std::uint32_t attempt, const Emails& emails,
                          jf::record_type type = jf::rec_intent) {
  std::string out;
  std::size_t bytes = 32;
  for (const auto& e : emails) bytes += e.size() + 2;
  out.reserve(bytes + jf::frame_header);
  auto at = jf::begin_frame(out);
  jf::put_u8(out, type);
  jf::put_u64(out, batch_id);
  jf::put_u32(out, attempt);
  jf::put_u64(out, static_cast<std::uint64_t>(jf::now_unix_ms()));
  jf::put_u32(out, static_cast<std::uint32_t>(emails.size()));
  for (const auto& e : emails) {
    if (e.empty() || e.size() > jf::max_field)
      throw std::invalid_argument("journal: bad address length in an intent");
    jf::put_str(out, e);
  }
  jf::end_frame(out, at);
  return out;
}

}  // namespace

journal::journal(fs::path path, journal_options options)
    : path_(std::move(path)), options_(options) {}

std::unique_ptr<journal> journal::open(const fs::path& path, journal_header header,
                                       journal_options options) {
  std::unique_ptr<journal> j(new journal(path, options));
  const std::string p = path.string();
  try {
    j->file_ = std::make_unique<io::durable_file>(io::durable_file::open(path));
  } catch (const std::system_error& e) {
    throw journal_error(std::string("cannot open journal: ") + e.what());
  }
  auto& f = *j->file_;
  if (!f.try_lock_exclusive())
    throw journal_error("journal " + p +
                        " is in use by another chime-onboard process; wait for "
                        "it to finish (or stop it) before resuming");
  if (header.tool_version.empty()) header.tool_version = version;

  std::string start;
  try {
    if (f.size_on_open() == 0) {
      // A new journal (or one created but never written: nothing can have been sent for it).
      header.created_unix_ms = jf::now_unix_ms();
      header.format = options.format;
      if (header.format < jf::oldest_format || header.format > jf::format_version)
        throw journal_error("journal " + p + ": no format version " +
                            std::to_string(header.format));
      start.append(jf::magic);
      jf::put_header(start, header);
      j->prior_ = replay_builder::empty(path, header);
    } else {
      auto prior = replay_builder::replay(path, std::make_shared<const mapped_journal>(path));
      if (auto diff = header_mismatch(path, prior.header(), header); !diff.empty())
        throw journal_error(diff + " (use another --journal, or the original options)");
      if (prior.tail() == tail_state::damaged && !options.truncate_damaged)
        throw journal_damaged(prior.tail_note() +
                              ". Refusing to append: the records after the damage would be lost "
                              "and their addresses sent again; repair the journal first");
      if (prior.tail() != tail_state::clean) {
        // Appending after unreadable bytes would hide everything we write behind them.
        f.truncate(prior.valid_bytes());
        f.sync();
        j->notes_.push_back(prior.tail_note() + "; cut off before appending");
      }
      j->prior_ = std::move(prior);
    }
    j->format_ = j->prior_.header().format;
    jf::put_session(start, jf::now_unix_ms(), options.mode, static_cast<std::uint32_t>(::getpid()),
                    version);
    f.append(start);
    f.flush();
    // The header is synced even with durability off: it is once per run and gives the file meaning.
    f.sync();
  } catch (const std::system_error& e) {
    throw journal_error(std::string("cannot write journal: ") + e.what());
  }
  j->appended_ = j->durable_ = (f.size_on_open() ? j->prior_.valid_bytes() : 0) + start.size();
  j->pending_.reserve(options.max_pending_bytes + (64u << 10));
  j->flusher_ = std::thread([jp = j.get()] { jp->run_flusher(); });
  return j;
}

journal::~journal() {
  try {
    close();
  } catch (...) {
    // The caller did not call close(); the failure is visible through failure_message() only.
  }
}

journal::ticket journal::append_record(std::string&& frame, bool wait) {
  std::unique_lock lk(mu_);
  if (closed_ || stopping_) throw journal_error("journal " + path_.string() + " is closed");
  if (failure_) throw_failure();
  if (pending_.empty()) first_pending_ = std::chrono::steady_clock::now();
  pending_.append(frame);
  appended_ += frame.size();
  ticket t = appended_;
  bool strict = options_.mode == durability::strict;
  if (strict || pending_.size() >= options_.max_pending_bytes) urgent_ = true;
  // Wake the flusher for the first pending record (it arms the max_delay timer) or when urgent.
  if (urgent_ || pending_.size() == frame.size()) flusher_cv_.notify_one();
  if (strict && wait) {
    durable_cv_.wait(lk, [&] { return durable_ >= t || failure_; });
    if (durable_ < t) throw_failure();
  }
  return t;
}

template <typename Emails>
journal::ticket journal::append_intent_frame(std::uint64_t batch_id, std::uint32_t attempt,
                                             const Emails& emails, bool wait) {
  std::string frame = encode_intent(batch_id, attempt, emails);
  if (format_ >= 2) {
    // Tracked before it is appended: its outcome can only be recorded after it is durable.
    tracked_intent t;
    t.crc = jf::load_u32(frame.data() + 4);
    t.emails.assign(emails.begin(), emails.end());
    t.settled.assign(t.emails.size(), false);
    t.remaining = static_cast<std::uint32_t>(t.emails.size());
    std::lock_guard lk(track_mu_);
    tracked_[batch_id] = std::move(t);
  }
  return append_record(std::move(frame), wait);
}

std::string journal::encode_outcomes(std::uint64_t batch_id,
                                     std::span<const address_outcome> outcomes) {
  std::string out;
  out.reserve(64 + outcomes.size() * 96);
  const auto now = jf::now_unix_ms();
  if (format_ >= 2 && !outcomes.empty() && outcomes.size() <= 0xFFFF) {
    std::lock_guard lk(track_mu_);
    if (auto it = tracked_.find(batch_id); it != tracked_.end()) {
      auto& t = it->second;
      std::vector<std::uint16_t> index;
      index.reserve(outcomes.size());
      for (std::size_t k = 0; k < outcomes.size(); ++k) {
        // Usually the intent's order; else a search (a batch is at most a few dozen addresses).
        std::size_t i =
            k < t.emails.size() && t.emails[k] == outcomes[k].email ? k : t.emails.size();
        for (std::size_t j = 0; i == t.emails.size() && j < t.emails.size(); ++j)
          if (t.emails[j] == outcomes[k].email) i = j;
        if (i == t.emails.size() || t.settled[i] ||
            std::find(index.begin(), index.end(), i) != index.end())
          break;
        index.push_back(static_cast<std::uint16_t>(i));
      }
      if (index.size() == outcomes.size()) {
        jf::put_compact_outcomes(out, batch_id, now, t.crc, index, outcomes);
        for (auto i : index) t.settled[i] = true;
        t.remaining -= static_cast<std::uint32_t>(index.size());
        if (t.remaining == 0) tracked_.erase(it);
        return out;
      }
    }
  }
  // Addresses this session has no intent for (verified from an earlier run, --skip-existing):
  // named in full.
  jf::put_outcomes(out, batch_id, now, outcomes);
  return out;
}

journal::ticket journal::record_intent(std::uint64_t batch_id, std::span<const std::string> emails,
                                       std::uint32_t attempt) {
  return append_intent_frame(batch_id, attempt, emails, true);
}

journal::ticket journal::record_intent(std::uint64_t batch_id,
                                       std::span<const std::string_view> emails,
                                       std::uint32_t attempt) {
  return append_intent_frame(batch_id, attempt, emails, true);
}

journal::ticket journal::append_intent(std::uint64_t batch_id,
                                       std::span<const std::string_view> emails,
                                       std::uint32_t attempt) {
  ticket t = append_intent_frame(batch_id, attempt, emails, /*wait=*/false);
  // Someone will wait for this soon: commit within ahead_delay rather than max_delay, so that
  // the fdatasync overlaps the caller's request in flight, and intents of other connections
  // appended meanwhile share it.
  std::lock_guard lk(mu_);
  auto by = std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.ahead_delay);
  if (durable_ < t && (soon_ == std::chrono::steady_clock::time_point{} || by < soon_)) {
    soon_ = by;
    flusher_cv_.notify_one();
  }
  return t;
}

journal::ticket journal::record_release(std::uint64_t batch_id,
                                        std::span<const std::string_view> emails) {
  {
    std::lock_guard lk(track_mu_);
    tracked_.erase(batch_id);
  }
  return append_record(encode_intent(batch_id, 0, emails, jf::rec_release), /*wait=*/true);
}

journal::ticket journal::record_outcomes(std::uint64_t batch_id,
                                         std::span<const address_outcome> outcomes) {
  return append_record(encode_outcomes(batch_id, outcomes), true);
}

void journal::on_durable(ticket t, durable_callback cb) {
  std::unique_lock lk(mu_);
  if (failure_) {
    auto ec = failure_;
    lk.unlock();
    cb(ec);
    return;
  }
  if (t <= durable_) {
    lk.unlock();
    cb({});
    return;
  }
  if (stopping_ || closed_) {
    lk.unlock();
    cb(std::make_error_code(std::errc::bad_file_descriptor));
    return;
  }
  waiters_.emplace(t, std::move(cb));
  urgent_ = true;
  flusher_cv_.notify_one();
}

void journal::wait_durable(ticket t) {
  std::unique_lock lk(mu_);
  if (t > durable_ && !failure_) {
    urgent_ = true;
    flusher_cv_.notify_one();
    durable_cv_.wait(lk, [&] { return durable_ >= t || failure_; });
  }
  if (durable_ < t) throw_failure();
}

boost::asio::awaitable<void> journal::async_record_intent(std::uint64_t batch_id,
                                                          std::span<const std::string> emails,
                                                          std::uint32_t attempt) {
  // Not record_intent(): in strict mode that blocks this I/O thread in fdatasync, stalling every
  // connection served by the thread and leaving group commit at most one intent per I/O thread.
  // The coroutine still waits for durability, so the intent is on disk before the send.
  co_await async_durable(append_intent_frame(batch_id, attempt, emails, /*wait=*/false));
}

boost::asio::awaitable<void> journal::async_record_intent(std::uint64_t batch_id,
                                                          std::span<const std::string_view> emails,
                                                          std::uint32_t attempt) {
  co_await async_durable(append_intent_frame(batch_id, attempt, emails, /*wait=*/false));
}

boost::asio::awaitable<void> journal::async_durable(ticket t) {
  // std::error_code (unlike boost's) is handed back by use_awaitable rather than thrown.
  std::error_code ec = co_await async_wait_durable(t, boost::asio::use_awaitable);
  if (ec) {
    std::lock_guard lk(mu_);
    throw_failure();
  }
}

bool journal::is_durable(ticket t) const {
  std::lock_guard lk(mu_);
  return t <= durable_;
}

std::string journal::failure_message() const {
  std::lock_guard lk(mu_);
  return failure_message_;
}

void journal::throw_failure() const {
  std::string msg =
      failure_message_.empty() ? "journal " + path_.string() + " failed" : failure_message_;
  throw journal_error(msg + " (the run stops: nothing more can be recorded safely)");
}

void journal::commit() {
  ticket t;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    t = appended_;
  }
  wait_durable(t);
}

void journal::close() {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    stopping_ = true;
    urgent_ = true;
    flusher_cv_.notify_one();
  }
  if (flusher_.joinable()) flusher_.join();
  std::lock_guard lk(mu_);
  closed_ = true;
  if (!failure_ && file_) {
    try {
      // One sync at the end even with durability off: a clean exit leaves a durable journal.
      file_->sync();
      file_->close();
    } catch (const std::system_error& e) {
      failure_ = e.code();
      failure_message_ = e.what();
    }
  }
  if (failure_) throw_failure();
}

void journal::run_flusher() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (pending_.empty()) {
      if (stopping_ || failure_) break;
      flusher_cv_.wait(lk);
      continue;
    }
    if (!urgent_ && !stopping_) {
      // Records nobody waits for: let more join this commit, up to max_delay after the first
      // (ahead_delay after an intent recorded ahead).
      auto deadline = first_pending_ + options_.max_delay;
      if (soon_ != std::chrono::steady_clock::time_point{}) deadline = std::min(deadline, soon_);
      if (std::chrono::steady_clock::now() < deadline) {
        flusher_cv_.wait_until(lk, deadline);
        continue;
      }
    }
    spare_.clear();
    std::swap(spare_, pending_);
    ticket target = appended_;
    urgent_ = false;
    soon_ = {};
    lk.unlock();

    // Records that arrive while this write + fdatasync runs form the next group.
    std::error_code ec;
    std::string message;
    try {
      file_->append(spare_);
      file_->flush();
      if (options_.mode != durability::off) file_->sync();
    } catch (const std::system_error& e) {
      ec = e.code();
      message = e.what();
    }

    lk.lock();
    std::vector<durable_callback> ready;
    if (ec) {
      failure_ = ec;
      failure_message_ = "journal " + message;  // what() names the file
      pending_.clear();
      for (auto& [_, cb] : waiters_) ready.push_back(std::move(cb));
      waiters_.clear();
    } else {
      durable_ = target;
      auto end = waiters_.upper_bound(durable_);
      for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
      waiters_.erase(waiters_.begin(), end);
    }
    durable_cv_.notify_all();
    if (!ready.empty()) {
      lk.unlock();
      for (auto& cb : ready) cb(ec);
      lk.lock();
    }
    if (failure_) break;
  }
  durable_cv_.notify_all();
}

}  // namespace onboard
