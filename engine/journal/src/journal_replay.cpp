// journal_replay.cpp: reading a journal back: framing checks, torn-tail / damage classification
// and the address table. Built for 1M addresses in well under half a second: the file is mapped,
// addresses are never copied (entries point into the mapping) and the table is open addressing.
#include "journal_format.hpp"
#include "journal_replay.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace onboard {

namespace fs = std::filesystem;

mapped_journal::mapped_journal(const fs::path& path, bool populate) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) throw journal_error("journal " + path.string() + " does not exist");
    throw journal_error("cannot open journal " + path.string() + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw journal_error("journal " + path.string() + " is not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    // MAP_POPULATE: one bulk fault-in beats 40,000 page faults on a 160 MB journal.
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw journal_error("cannot read journal " + path.string() + ": " + std::strerror(err));
    }
    ::madvise(p, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const char*>(p);
  }
  ::close(fd);
}

void mapped_journal::drop(std::size_t from, std::size_t to) const {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  from = (from + page - 1) / page * page;
  to = std::min(to, size_) / page * page;
  // A private read-only mapping of an unchanged file: dropped pages read back the same bytes.
  if (data_ && to > from) ::madvise(const_cast<char*>(data_) + from, to - from, MADV_DONTNEED);
}

mapped_journal::~mapped_journal() {
  if (data_) ::munmap(const_cast<char*>(data_), size_);
}

namespace {

inline unsigned char fold(unsigned char c) {
  return static_cast<unsigned char>(c - 'A') < 26u ? static_cast<unsigned char>(c | 0x20) : c;
}

// fold_start: where case folding begins: 0 (whole address) or the domain.
inline std::size_t fold_start(std::string_view e, bool fold_all) {
  if (fold_all) return 0;
  auto at = e.rfind('@');
  return at == std::string_view::npos ? e.size() : at;
}

inline std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// lower8: ASCII lowercase of 8 bytes at once (bytes >= 0x80 untouched).
inline std::uint64_t lower8(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  std::uint64_t heptets = w & (0x7F * ones);
  std::uint64_t ge_a = heptets + (0x80 - 'A') * ones;      // high bit: byte >= 'A'
  std::uint64_t gt_z = heptets + (0x80 - 'Z' - 1) * ones;  // high bit: byte > 'Z'
  std::uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones);
  return w | (upper >> 2);
}

inline std::uint64_t load_tail(const char* p, std::size_t n) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

// key_hash: hash of the address as compared (folded), a word at a time.
std::uint64_t key_hash(std::string_view e, bool fold_all) {
  if (fold_all) {
    std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ e.size();
    std::size_t i = 0;
    for (; i + 8 <= e.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, e.data() + i, 8);
      h = (h ^ lower8(w)) * 0xbf58476d1ce4e5b9ULL;
      h ^= h >> 29;
    }
    if (i < e.size())
      h = (h ^ lower8(load_tail(e.data() + i, e.size() - i))) * 0xbf58476d1ce4e5b9ULL;
    return mix(h);
  }
  char small[256];
  std::string big;
  char* out = small;
  if (e.size() > sizeof(small)) {
    big.resize(e.size());
    out = big.data();
  }
  std::size_t start = fold_start(e, fold_all);
  std::memcpy(out, e.data(), start);
  for (std::size_t i = start; i < e.size(); ++i)
    out[i] = static_cast<char>(fold(static_cast<unsigned char>(e[i])));
  std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ e.size();
  std::size_t i = 0;
  for (; i + 8 <= e.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, out + i, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  }
  if (i < e.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, out + i, e.size() - i);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
  }
  return mix(h);
}

// same_key: whether two addresses are the same once folded.
inline bool same_key(std::string_view a, std::string_view b, bool fold_all) {
  if (a.size() != b.size()) return false;
  if (fold_all) {
    std::size_t i = 0;
    for (; i + 8 <= a.size(); i += 8) {
      std::uint64_t x, y;
      std::memcpy(&x, a.data() + i, 8);
      std::memcpy(&y, b.data() + i, 8);
      if (x != y && lower8(x) != lower8(y)) return false;
    }
    return i == a.size() || lower8(load_tail(a.data() + i, a.size() - i)) ==
                                lower8(load_tail(b.data() + i, b.size() - i));
  }
  std::size_t start = fold_start(b, fold_all);
  if (std::memcmp(a.data(), b.data(), start) != 0) return false;
  for (std::size_t i = start; i < a.size(); ++i)
    if (fold(static_cast<unsigned char>(a[i])) != fold(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// readable_after: whether any valid frame starts after `bad`. That tells damage (good records
// follow a bad one) from a torn tail (nothing readable follows).
bool readable_after(std::string_view file, std::uint64_t bad) {
  for (std::uint64_t o = bad + 1; o + jf::frame_header < file.size(); ++o) {
    auto p = jf::frame_payload(file, o);
    if (p && jf::known_type((*p)[0])) return true;
  }
  return false;
}

}  // namespace

replay_builder::replay_builder(replay_state& s) : s_(s), file_(s.map_->bytes()) {}

void replay_builder::grow() {
  std::size_t cap = s_.slots_.empty() ? 1024 : s_.slots_.size() * 2;
  std::vector<std::uint64_t> slots(cap, 0);
  std::uint64_t mask = cap - 1;
  for (auto v : s_.slots_) {
    if (!v) continue;
    std::uint64_t pos = (v >> 32) & mask;
    while (slots[pos]) pos = (pos + 1) & mask;
    slots[pos] = v;
  }
  s_.slots_ = std::move(slots);
  mask_ = mask;
}

std::uint32_t replay_builder::find_or_insert(std::string_view email, std::uint64_t hash) {
  auto tag = static_cast<std::uint32_t>(hash >> 32);
  std::uint64_t pos = tag & mask_;
  for (;;) {
    std::uint64_t v = s_.slots_[pos];
    if (!v) break;
    if (static_cast<std::uint32_t>(v >> 32) == tag) {
      auto idx = static_cast<std::uint32_t>(v) - 1;
      const auto& e = s_.entries_[idx];
      if (same_key(std::string_view(file_.data() + e.email_off, e.email_len), email, fold_all_))
        return idx;
    }
    pos = (pos + 1) & mask_;
  }
  auto idx = static_cast<std::uint32_t>(s_.entries_.size());
  auto& e = s_.entries_.emplace_back();
  e.email_off = static_cast<std::uint64_t>(email.data() - file_.data());
  e.email_len = static_cast<std::uint16_t>(email.size());
  e.kind = 0xFF;
  s_.slots_[pos] = static_cast<std::uint64_t>(tag) << 32 | (idx + 1);
  if (s_.entries_.size() * 2 > s_.slots_.size()) grow();
  return idx;
}

void replay_builder::lookup_all(std::span<const std::string_view> emails,
                                std::vector<std::uint32_t>& out) {
  // The table is far bigger than the caches: hash the whole record first and prefetch every
  // slot, so the ~50 memory misses overlap instead of queueing one after another.
  hashes_.resize(emails.size());
  for (std::size_t i = 0; i < emails.size(); ++i) {
    hashes_[i] = key_hash(emails[i], fold_all_);
    __builtin_prefetch(&s_.slots_[(hashes_[i] >> 32) & mask_]);
  }
  out.resize(emails.size());
  for (std::size_t i = 0; i < emails.size(); ++i) out[i] = find_or_insert(emails[i], hashes_[i]);
}

void replay_builder::touch(std::int64_t ms) {
  if (!s_.first_ms_ || ms < s_.first_ms_) s_.first_ms_ = ms;
  if (ms > s_.last_ms_) s_.last_ms_ = ms;
  if (!s_.sessions_.empty() && ms > s_.sessions_.back().last_unix_ms)
    s_.sessions_.back().last_unix_ms = ms;
}

// read_address_list: the body of an intent or release record (batch, attempt, time, addresses
// into emails_); false when it does not parse exactly.
bool replay_builder::read_address_list(jf::reader& r, intent_info& info) {
  info.batch_id = r.u64();
  info.attempt = r.u32();
  info.unix_ms = static_cast<std::int64_t>(r.u64());
  std::uint32_t n = r.u32();
  if (r.bad || n > 0xFFFF) return false;
  emails_.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    auto email = r.str();
    if (r.bad || email.empty()) return false;
    emails_.push_back(email);
  }
  return r.p == r.end;
}

bool replay_builder::apply(std::string_view payload, std::uint64_t payload_off) {
  jf::reader r{payload.data(), payload.data() + payload.size()};
  switch (r.u8()) {
    case jf::rec_intent: {
      intent_info info{};
      if (!read_address_list(r, info)) return false;
      intents_.push_back(info);
      auto intent_no = static_cast<std::uint32_t>(intents_.size());
      auto& live = live_[info.batch_id];
      live.crc = jf::load_u32(file_.data() + payload_off - 4);
      lookup_all(emails_, live.idx);
      live.settled.assign(live.idx.size(), false);
      live.remaining = static_cast<std::uint32_t>(live.idx.size());
      for (auto i : live.idx) {
        auto& e = s_.entries_[i];
        e.prev_intent = e.intent;
        e.prev_in_doubt = e.in_doubt;
        e.intent = intent_no;
        e.in_doubt = true;
      }
      // A version-1 journal only uses these as a shortcut, and one of abandoned intents must not
      // grow them forever; version 2 needs them (the writer keeps as many).
      if (s_.header_.format < 2 && live_.size() > 4096) live_.clear();
      ++s_.totals_.intent_records;
      touch(info.unix_ms);
      return true;
    }
    case jf::rec_outcome: {
      auto batch_id = r.u64();  // outcomes are keyed by address; the batch id is a shortcut
      auto ms = static_cast<std::int64_t>(r.u64());
      std::uint32_t n = r.u32();
      if (r.bad || n > 0xFFFF) return false;
      emails_.clear();
      kinds_.clear();
      for (std::uint32_t i = 0; i < n; ++i) {
        auto email = r.str();
        auto kind = r.u8();
        r.u32();  // attempts
        r.str();  // id
        for (int f = 0; f < 5; ++f) {
          auto len = r.u16();
          if (len != jf::same_as_previous) r.bytes(len);
        }
        if (r.bad || email.empty() || kind >= outcome_kind_count) return false;
        emails_.push_back(email);
        kinds_.push_back(kind);
      }
      if (r.p != r.end) return false;
      // Usually the outcome lists the addresses of its batch's intent in the same order: then the
      // entries are known without touching the table.
      bool matched = false;
      if (auto it = live_.find(batch_id);
          it != live_.end() && it->second.idx.size() == n && it->second.remaining == n) {
        matched = true;
        for (std::uint32_t i = 0; i < n && matched; ++i) {
          const auto& e = s_.entries_[it->second.idx[i]];
          matched = same_key(std::string_view(file_.data() + e.email_off, e.email_len), emails_[i],
                             fold_all_);
        }
        if (matched) {
          idx_.swap(it->second.idx);
          live_.erase(it);
        }
      }
      if (!matched) lookup_all(emails_, idx_);
      for (std::uint32_t i = 0; i < n; ++i) {
        auto& e = s_.entries_[idx_[i]];
        e.kind = kinds_[i];
        e.outcome_rec = payload_off;
        e.outcome_index = static_cast<std::uint16_t>(i);
        e.in_doubt = false;
      }
      ++s_.totals_.outcome_records;
      s_.totals_.outcomes_recorded += n;
      touch(ms);
      return true;
    }
    case jf::rec_release: {
      // An intent recorded ahead of its send and withdrawn unsent: its addresses go back to what
      // they were before it (normally "never sent"; "in doubt" if an earlier intent left them so).
      intent_info info{};
      if (!read_address_list(r, info)) return false;
      const auto batch_id = info.batch_id;
      const auto ms = info.unix_ms;
      lookup_all(emails_, idx_);
      for (auto i : idx_) {
        auto& e = s_.entries_[i];
        if (!e.in_doubt || e.intent == 0 || intents_[e.intent - 1].batch_id != batch_id) continue;
        e.intent = e.prev_intent;
        e.in_doubt = e.prev_in_doubt;
      }
      live_.erase(batch_id);
      ++s_.totals_.release_records;
      touch(ms);
      return true;
    }
    case jf::rec_session: {
      journal_session ses;
      ses.started_unix_ms = static_cast<std::int64_t>(r.u64());
      auto mode = r.u8();
      ses.pid = r.u32();
      ses.tool_version = std::string(r.str());
      if (r.bad || mode > 2) return false;
      ses.mode = static_cast<durability>(mode);
      ses.last_unix_ms = ses.started_unix_ms;
      s_.sessions_.push_back(std::move(ses));
      // Batch ids start again with each run: a compact record only names its own run's intents.
      live_.clear();
      return true;
    }
    case jf::rec_compact: return s_.header_.format >= 2 && apply_compact(payload, payload_off);
    default: return false;  // a second header, or a type from a newer format
  }
}

// apply_compact: a compact outcome record, its addresses found through the intent it cites.
bool replay_builder::apply_compact(std::string_view payload, std::uint64_t payload_off) {
  auto v = jf::parse_compact(payload);
  if (!v) return false;
  auto it = live_.find(v->batch_id);
  const std::string at = std::to_string(payload_off - jf::frame_header);
  if (it == live_.end() || it->second.crc != v->intent_crc) {
    error_ = "an outcome record at byte " + at + " names addresses of batch " +
             std::to_string(v->batch_id) + " by their place in its intent, but no intent of that " +
             "batch (with checksum " + std::to_string(v->intent_crc) +
             ") precedes it in the same run";
    return false;
  }
  auto& live = it->second;
  jf::compact_kinds(*v, kinds_);
  idx_.resize(v->n);
  for (std::uint16_t k = 0; k < v->n; ++k) {
    auto i = v->index(k);
    if (i >= live.idx.size() || live.settled[i]) {
      error_ = "an outcome record at byte " + at + " names place " + std::to_string(i) +
               " of batch " + std::to_string(v->batch_id) + "'s intent, which " +
               (i >= live.idx.size() ? "has only " + std::to_string(live.idx.size()) + " addresses"
                                     : std::string("an earlier outcome record settled"));
      return false;
    }
    live.settled[i] = true;
    idx_[k] = live.idx[i];
  }
  for (std::uint16_t k = 0; k < v->n; ++k) {
    auto& e = s_.entries_[idx_[k]];
    e.kind = kinds_[k];
    e.outcome_rec = payload_off;
    e.outcome_index = k;
    e.in_doubt = false;
  }
  live.remaining -= v->n;
  if (live.remaining == 0) live_.erase(it);
  ++s_.totals_.outcome_records;
  s_.totals_.outcomes_recorded += v->n;
  touch(v->unix_ms);
  return true;
}

void replay_builder::run() {
  const std::string p = s_.path_.string();
  if (file_.size() < jf::magic.size() || file_.substr(0, jf::magic.size()) != jf::magic) {
    if (file_.empty()) throw journal_error("journal " + p + " is empty (no header)");
    throw journal_error("journal " + p + " is not a chime-onboard journal (bad magic)");
  }
  std::uint64_t off = jf::magic.size();
  auto head = jf::frame_payload(file_, off);
  std::optional<journal_header> h;
  if (head) h = jf::decode_header(*head);
  if (!h)
    throw journal_error("journal " + p +
                        " has a damaged or incomplete header (or was written by a newer "
                        "chime-onboard); it cannot be used");
  s_.header_ = *h;
  fold_all_ = !h->case_sensitive_local;
  off += jf::frame_header + head->size();

  // Pre-size from the file: an address costs ~105 bytes of intent + outcome in version 1, ~43 in
  // version 2. Reserving more than is used costs address space, not memory.
  std::size_t expect = file_.size() / (h->format >= 2 ? 32 : 64) + 16;
  s_.entries_.reserve(file_.size() / (h->format >= 2 ? 40 : 100) + 16);
  std::size_t cap = 1024;
  while (cap < expect) cap *= 2;
  s_.slots_.assign(cap, 0);
  mask_ = cap - 1;

  std::uint64_t dropped = 0;
  while (off < file_.size()) {
    auto payload = jf::frame_payload(file_, off);
    std::uint64_t payload_off = off + jf::frame_header;
    if (!payload) {
      s_.bad_bytes_ = file_.size() - off;
      if (readable_after(file_, off)) {
        s_.tail_ = tail_state::damaged;
        s_.tail_note_ = "journal " + p + " is damaged at byte " + std::to_string(off) +
                        ": a record there fails its checksum while readable records follow; "
                        "replay stopped there, ignoring " +
                        std::to_string(s_.bad_bytes_) + " bytes";
      } else {
        s_.tail_ = tail_state::torn;
        s_.tail_note_ = "journal " + p + ": ignored " + std::to_string(s_.bad_bytes_) +
                        " bytes of an incomplete record at the end (an interrupted write; "
                        "nothing that was confirmed durable is lost)";
      }
      break;
    }
    // Entries may already point into this record when it fails to parse half way: they keep
    // their earlier state except for fields we set; a checksummed record that does not parse is
    // a bug or a newer format, so we stop and say so rather than guess.
    if (!apply(*payload, payload_off)) {
      s_.bad_bytes_ = file_.size() - off;
      s_.tail_ = tail_state::damaged;
      const std::string why = error_.empty()
                                  ? "has a record at byte " + std::to_string(off) +
                                        " that this chime-onboard cannot read (type '" +
                                        std::string(1, (*payload)[0]) + "', a newer format?)"
                                  : error_;
      s_.tail_note_ = "journal " + p + " " + why + "; replay stopped there, ignoring " +
                      std::to_string(s_.bad_bytes_) + " bytes";
      break;
    }
    off = payload_off + payload->size();
    if (drop_behind_ && off - dropped >= drop_behind_) {
      s_.map_->drop(dropped, off);
      dropped = off;
    }
  }
  s_.valid_bytes_ = off;
  finish();
}

void replay_builder::finish() {
  std::map<std::uint32_t, in_doubt_batch> doubt;
  auto& t = s_.totals_;
  for (const auto& e : s_.entries_) {
    // An address whose only intent was withdrawn was never sent: not part of the run yet.
    if (e.kind < outcome_kind_count || e.in_doubt) ++t.addresses;
    switch (e.kind) {
      case static_cast<std::uint8_t>(outcome_kind::invited): ++t.invited; break;
      case static_cast<std::uint8_t>(outcome_kind::created): ++t.created; break;
      case static_cast<std::uint8_t>(outcome_kind::exists): ++t.exists; break;
      case static_cast<std::uint8_t>(outcome_kind::failed): ++t.failed; break;
      case static_cast<std::uint8_t>(outcome_kind::not_sent): ++t.not_sent; break;
      default: break;
    }
    if (!e.in_doubt) continue;
    ++t.in_doubt;
    auto& b = doubt[e.intent];
    if (b.emails.empty()) {
      const auto& info = intents_[e.intent - 1];
      b.batch_id = info.batch_id;
      b.attempt = info.attempt;
      b.intent_unix_ms = info.unix_ms;
    }
    b.emails.emplace_back(file_.data() + e.email_off, e.email_len);
  }
  for (auto& [_, b] : doubt) s_.in_doubt_.push_back(std::move(b));
}

replay_state::replay_state() = default;
replay_state::replay_state(replay_state&&) noexcept = default;
replay_state& replay_state::operator=(replay_state&&) noexcept = default;
replay_state::~replay_state() = default;

std::size_t replay_state::size() const { return entries_.size(); }

replay_state::address_state replay_state::at(std::size_t index) const {
  const auto& e = entries_.at(index);
  address_state a;
  a.email = std::string_view(map_->bytes().data() + e.email_off, e.email_len);
  if (e.kind < outcome_kind_count) a.kind = static_cast<outcome_kind>(e.kind);
  a.in_doubt = e.in_doubt;
  return a;
}

std::optional<std::size_t> replay_state::index_of(std::string_view email) const {
  if (slots_.empty() || email.empty()) return std::nullopt;
  bool fold_all = !header_.case_sensitive_local;
  auto tag = static_cast<std::uint32_t>(key_hash(email, fold_all) >> 32);
  std::uint64_t mask = slots_.size() - 1;
  std::string_view file = map_->bytes();
  for (std::uint64_t pos = tag & mask;; pos = (pos + 1) & mask) {
    std::uint64_t v = slots_[pos];
    if (!v) return std::nullopt;
    if (static_cast<std::uint32_t>(v >> 32) != tag) continue;
    auto idx = static_cast<std::uint32_t>(v) - 1;
    const auto& e = entries_[idx];
    if (same_key(std::string_view(file.data() + e.email_off, e.email_len), email, fold_all))
      return idx;
  }
}

std::optional<replay_state::address_state> replay_state::find(std::string_view email) const {
  auto i = index_of(email);
  if (!i) return std::nullopt;
  return at(*i);
}

std::optional<address_outcome> replay_state::outcome_at(std::size_t index) const {
  const auto& e = entries_.at(index);
  if (e.kind >= outcome_kind_count) return std::nullopt;
  std::string_view file = map_->bytes();
  if (file[e.outcome_rec] == jf::rec_compact) {
    auto len = jf::load_u32(file.data() + e.outcome_rec - jf::frame_header);
    auto v = jf::parse_compact(file.substr(e.outcome_rec, len));
    if (!v) return std::nullopt;
    address_outcome o = jf::compact_outcome(*v, e.outcome_index);
    o.email.assign(file.data() + e.email_off, e.email_len);
    return o;
  }
  jf::reader r{file.data() + e.outcome_rec, file.data() + file.size()};
  r.u8();
  r.u64();
  r.u64();
  r.u32();
  address_outcome o;
  for (std::uint32_t i = 0; i <= e.outcome_index && !r.bad; ++i) jf::decode_outcome(r, o);
  return o;
}

std::optional<address_outcome> replay_state::outcome_of(std::string_view email) const {
  auto i = index_of(email);
  if (!i) return std::nullopt;
  return outcome_at(*i);
}

double replay_state::active_seconds() const {
  std::int64_t ms = 0;
  for (const auto& s : sessions_)
    if (s.last_unix_ms > s.started_unix_ms) ms += s.last_unix_ms - s.started_unix_ms;
  if (ms == 0 && last_ms_ > first_ms_) ms = last_ms_ - first_ms_;
  return static_cast<double>(ms) / 1000.0;
}

double replay_state::rate_per_second() const {
  double s = active_seconds();
  return s > 0 ? static_cast<double>(totals_.outcomes_recorded) / s : 0.0;
}

replay_state replay_builder::replay(const fs::path& path, std::shared_ptr<const mapped_journal> map,
                                    std::size_t drop_behind) {
  replay_state s;
  s.path_ = path;
  s.map_ = std::move(map);
  replay_builder b(s);
  b.drop_behind_ = drop_behind;
  b.run();
  return s;
}

replay_state replay_builder::empty(const fs::path& path, const journal_header& header) {
  replay_state s;
  s.path_ = path;
  s.header_ = header;
  return s;
}

replay_state replay_journal(const fs::path& path) { return replay_journal(path, {}); }

replay_state replay_journal(const fs::path& path, replay_options options) {
  const bool whole = options.drop_behind == 0;
  return replay_builder::replay(path, std::make_shared<const mapped_journal>(path, whole),
                                options.drop_behind);
}

}  // namespace onboard
