// journal_files.cpp: the journal as a file among others: its default name, setting it aside for a
// fresh start, and repairing it after damage. Nothing here deletes or overwrites a journal: an old
// or damaged one always ends up under a new name beside it.
#include "journal_format.hpp"
#include "journal_replay.hpp"

#include <onboard/io/durable_file.hpp>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace onboard {

namespace fs = std::filesystem;

namespace {

// max_account_chars: keeps a name well inside NAME_MAX (255) whatever the account id.
constexpr std::size_t max_account_chars = 64;

// repair_batch_size: addresses per intent written for lost bytes, as a real batch holds.
constexpr std::size_t repair_batch_size = 50;

// locked_journal: the journal file held open under the exclusive lock journal::open takes, so no
// run appends to it while it is renamed or rewritten.
class locked_journal {
 public:
  explicit locked_journal(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      int err = errno;
      if (err == ENOENT) throw journal_error("journal " + path.string() + " does not exist");
      throw journal_error("cannot open journal " + path.string() + ": " + std::strerror(err));
    }
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK)
        throw journal_error("journal " + path.string() +
                            " is in use by another chime-onboard process; wait for it to finish "
                            "(or stop it) first");
      throw journal_error("cannot lock journal " + path.string() + ": " + std::strerror(err));
    }
  }
  ~locked_journal() { ::close(fd_); }
  locked_journal(const locked_journal&) = delete;
  locked_journal& operator=(const locked_journal&) = delete;

 private:
  int fd_ = -1;
};

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// sibling: "<stem>.<tag>-<stamp>[-n].journal" beside `path`: the extension stays last so that the
// file still reads as a journal (status and report open it); a name without the extension gets
// ".<tag>-<stamp>[-n]" appended.
fs::path sibling(const fs::path& path, std::string_view tag, const std::string& stamp, int n) {
  std::string name = path.filename().string();
  std::string ext;
  if (name.size() > 8 && name.ends_with(".journal")) {
    ext = ".journal";
    name.resize(name.size() - ext.size());
  }
  name += "." + std::string(tag) + "-" + stamp;
  if (n > 1) name += "-" + std::to_string(n);
  return path.parent_path() / (name + ext);
}

// hard_links_unsupported: link(2) errors that say "not on this file system", not "not allowed".
bool hard_links_unsupported(int err) {
  return err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == EMLINK || err == ENOSYS;
}

// rename_aside: renames `from` to a free sibling name; the first free one is taken, never an
// existing file replaced.
fs::path rename_aside(const fs::path& from, std::string_view tag) {
  const std::string stamp = utc_stamp();
  for (int n = 1; n <= 1000; ++n) {
    fs::path to = sibling(from, tag, stamp, n);
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return to;
    int err = errno;
    if (err == EEXIST) continue;
    if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
      // This file system cannot rename without replacing: a second name, then drop the first.
      if (::link(from.c_str(), to.c_str()) == 0) {
        if (::unlink(from.c_str()) == 0) return to;
        err = errno;
      } else if (errno == EEXIST) {
        continue;
      } else {
        err = errno;
      }
    }
    throw journal_error("cannot rename journal " + from.string() + " to " + to.string() + ": " +
                        std::strerror(err));
  }
  throw journal_error("cannot find a free name to keep journal " + from.string() + " under");
}

// keep_original: gives the damaged file at `path` a second, new name (a hard link: the bytes are
// not copied and `path` stays in place until the repaired file replaces it), or a 0600 copy where
// the file system has no hard links.
fs::path keep_original(const fs::path& path, std::string_view bytes) {
  const std::string stamp = utc_stamp();
  for (int n = 1; n <= 1000; ++n) {
    fs::path to = sibling(path, "damaged", stamp, n);
    if (::link(path.c_str(), to.c_str()) == 0) return to;
    int err = errno;
    if (err == EEXIST) continue;
    if (!hard_links_unsupported(err))
      throw journal_error("cannot keep journal " + path.string() + " as " + to.string() + ": " +
                          std::strerror(err));
    try {
      auto f = io::durable_file::open(to);
      if (!f.created()) continue;  // taken meanwhile: never append to someone else's file
      f.append(bytes);
      f.flush();
      f.sync();
      f.close();
      return to;
    } catch (const std::system_error& e) {
      throw journal_error(std::string("cannot keep a copy of the damaged journal: ") + e.what());
    }
  }
  throw journal_error("cannot find a free name to keep journal " + path.string() + " under");
}

bool atext(unsigned char c) {
  static constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         specials.find(static_cast<char>(c)) != std::string_view::npos;
}

// legible_address: whether `s` reads as an address in the form the normaliser journals it
// (engine/ingest/normalize.hpp): a dot-atom local part of 1..64 bytes, a lowercase ASCII domain
// of two or more labels, at most 254 bytes. Strict on purpose: it decides which strings in
// unreadable bytes are addresses, and random bytes seldom pass it.
bool legible_address(std::string_view s) {
  if (s.size() < 5 || s.size() > 254) return false;
  auto at = s.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || at + 1 >= s.size()) return false;
  std::string_view local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.front() == '.' || local.back() == '.') return false;
  for (std::size_t i = 0; i < local.size(); ++i) {
    auto c = static_cast<unsigned char>(local[i]);
    if (c == '.' ? local[i - 1] == '.' : !atext(c)) return false;
  }
  std::size_t labels = 0;
  for (std::size_t start = 0;;) {
    auto dot = domain.find('.', start);
    auto label = domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    bool numeric = true;
    for (char c : label) {
      bool digit = c >= '0' && c <= '9';
      if (!digit && !(c >= 'a' && c <= 'z') && c != '-') return false;
      numeric = numeric && digit;
    }
    ++labels;
    if (dot == std::string_view::npos) return labels >= 2 && !numeric;
    start = dot + 1;
  }
}

// record_addresses: the address fields of a payload that parses as an intent, release or
// outcome (or a session, which has none), its checksum not consulted; false when it does not.
bool record_addresses(std::string_view payload, std::vector<std::string_view>& out) {
  jf::reader r{payload.data(), payload.data() + payload.size()};
  std::vector<std::string_view> found;
  switch (r.u8()) {
    case jf::rec_session:
    case jf::rec_compact: return jf::well_formed(payload);  // no addresses in either
    case jf::rec_intent:
    case jf::rec_release: {
      r.u64();
      r.u32();
      r.u64();
      std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && !r.bad; ++i) found.push_back(r.str());
      break;
    }
    case jf::rec_outcome: {
      r.u64();
      r.u64();
      std::uint32_t n = r.u32();
      for (std::uint32_t i = 0; i < n && !r.bad; ++i) {
        found.push_back(r.str());
        if (r.u8() >= outcome_kind_count) r.bad = true;
        r.u32();
        r.str();
        for (int f = 0; f < 5; ++f) {
          auto len = r.u16();
          if (len != jf::same_as_previous) r.bytes(len);
        }
      }
      break;
    }
    default: return false;
  }
  if (r.bad || r.p != r.end) return false;
  for (auto e : found)
    if (legible_address(e)) out.push_back(e);
  return true;
}

// legible_addresses: the addresses still readable in unreadable bytes. Records whose framing
// still holds are read field by field (a damaged checksum, id or time spoils nothing else), and
// only their address fields are taken. From the first record whose framing does not hold (a
// damaged length or type), any u16 length followed by that many bytes that read as an address
// is taken, as every record stores addresses so; this may also take an id or a message that
// happens to be shaped like an address, which only costs a ListUsers check.
std::vector<std::string_view> legible_addresses(std::string_view bytes) {
  std::vector<std::string_view> found;
  std::size_t i = 0;
  while (bytes.size() - i > jf::frame_header) {
    std::size_t len = jf::load_u32(bytes.data() + i);
    if (len == 0 || len > bytes.size() - i - jf::frame_header ||
        !record_addresses(bytes.substr(i + jf::frame_header, len), found))
      break;
    i += jf::frame_header + len;
  }
  while (i + 2 < bytes.size()) {
    std::size_t len = static_cast<unsigned char>(bytes[i]) |
                      static_cast<std::size_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (len >= 5 && len <= 254 && len <= bytes.size() - i - 2) {
      auto s = bytes.substr(i + 2, len);
      if (legible_address(s)) {
        found.push_back(s);
        i += 2 + len;
        continue;
      }
    }
    ++i;
  }
  return found;
}

// next_record: the first offset after `from` where a checksummed, well-formed record starts, or
// the file's size: where reading resumes after unreadable bytes.
std::uint64_t next_record(std::string_view file, std::uint64_t from) {
  for (std::uint64_t o = from + 1; o + jf::frame_header < file.size(); ++o) {
    auto p = jf::frame_payload(file, o);
    if (p && jf::well_formed(*p)) return o;
  }
  return file.size();
}

// record_time: the time a record carries (for the intents written in place of lost bytes, so
// that status's activity times stay those of the runs), or 0 for a record without one.
std::int64_t record_time(std::string_view payload) {
  std::size_t at = 0;
  switch (payload[0]) {
    case jf::rec_intent:
    case jf::rec_release: at = 13; break;
    case jf::rec_outcome:
    case jf::rec_compact: at = 9; break;
    case jf::rec_session: at = 1; break;
    default: return 0;
  }
  jf::reader r{payload.data() + at, payload.data() + payload.size()};
  return static_cast<std::int64_t>(r.u64());
}

void put_recovered_intent(std::string& out, std::uint64_t batch_id, std::int64_t unix_ms,
                          std::span<const std::string_view> emails) {
  auto at = jf::begin_frame(out);
  jf::put_u8(out, jf::rec_intent);
  jf::put_u64(out, batch_id);
  jf::put_u32(out, 0);  // attempt 0: written by repair, not by a request
  jf::put_u64(out, static_cast<std::uint64_t>(unix_ms));
  jf::put_u32(out, static_cast<std::uint32_t>(emails.size()));
  for (auto e : emails) jf::put_str(out, e);
  jf::end_frame(out, at);
}

// corrected_frame: the frame at `off` as it was before one bit of it flipped (in its length, its
// checksum or its payload), when exactly one such bit makes its checksum hold and the record
// parse; else "". CRC-32C's Hamming distance is at least 4 for records of this size, so the bit
// is unique and two flipped bits are never mistaken for one. Records of up to 64 KiB are tried
// (a batch's are a few KiB): a bit at a time, every bit costs a checksum of the record.
std::string corrected_frame(std::string_view file, std::uint64_t off) {
  constexpr std::uint32_t max_tried = 64u << 10;
  if (file.size() - off <= jf::frame_header) return {};
  const std::uint32_t stored_len = jf::load_u32(file.data() + off);
  const std::uint32_t stored_crc = jf::load_u32(file.data() + off + 4);
  auto crc_of = [](std::string_view frame) {
    return journal_crc32c(frame.substr(jf::frame_header), journal_crc32c(frame.substr(0, 4)));
  };
  std::vector<std::string> found;
  auto consider = [&](std::string frame) {
    if (crc_of(frame) != jf::load_u32(frame.data() + 4)) return;
    auto payload = std::string_view(frame).substr(jf::frame_header);
    if (jf::known_type(payload[0]) && jf::well_formed(payload)) found.push_back(std::move(frame));
  };
  for (int b = -1; b < 32; ++b) {  // -1: the length as stored
    std::uint32_t len = b < 0 ? stored_len : stored_len ^ (1u << b);
    if (len == 0 || len > max_tried || file.size() - off - jf::frame_header < len) continue;
    std::string frame(file.substr(off, jf::frame_header + len));
    if (b >= 0) {
      for (int i = 0; i < 4; ++i) frame[i] = static_cast<char>(len >> (8 * i));
      consider(std::move(frame));
      continue;
    }
    const std::uint32_t syndrome = crc_of(frame) ^ stored_crc;
    if (std::popcount(syndrome) == 1) {  // the checksum's own bit
      for (int i = 0; i < 4; ++i)
        frame[4 + i] = static_cast<char>((stored_crc ^ syndrome) >> (8 * i));
      consider(frame);
      continue;
    }
    for (std::size_t i = jf::frame_header; i < frame.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        frame[i] = static_cast<char>(frame[i] ^ (1 << bit));
        consider(frame);
        frame[i] = static_cast<char>(frame[i] ^ (1 << bit));
      }
  }
  return found.size() == 1 ? std::move(found[0]) : std::string();
}

// piece: part of a file to write: bytes of the journal's mapping, or bytes made here.
struct piece {
  std::string_view bytes;
  bool mapped = false;
};

// write_new_file: the pieces, in order, as a new 0600 file at `path`, fsync'ed; its size.
std::uint64_t write_new_file(const fs::path& path, std::span<const piece> pieces) {
  std::uint64_t size = 0;
  try {
    auto f = io::durable_file::open(path);
    for (const auto& p : pieces) {
      f.append(p.bytes);
      size += p.bytes.size();
    }
    f.flush();
    f.sync();
    f.close();
  } catch (const std::system_error& e) {
    throw journal_error(std::string("cannot write the repaired journal: ") + e.what());
  }
  return size;
}

}  // namespace

std::string journal_file_name(operation op, std::string_view account_id) {
  std::string id;
  bool changed = account_id.empty() || account_id.size() > max_account_chars;
  for (char c : account_id.substr(0, max_account_chars)) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-' || c == '_';
    id.push_back(keep ? c : '_');
    changed = changed || !keep;
  }
  if (changed) {
    char hash[16];
    std::snprintf(hash, sizeof hash, "-%08x", journal_crc32c(account_id));
    id += hash;
  }
  return std::string(op == operation::invite ? "invite-" : "create-users-") + id + ".journal";
}

std::optional<fs::path> set_aside_journal(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return std::nullopt;
  locked_journal lock(path);
  fs::path aside = rename_aside(path, "old");
  try {
    io::sync_directory(path.parent_path().empty() ? fs::path(".") : path.parent_path());
  } catch (const std::system_error& e) {
    throw journal_error(std::string("journal set aside, but not durably: ") + e.what());
  }
  return aside;
}

bool is_repair_batch(std::uint64_t batch_id) { return batch_id >= jf::repair_batch_base; }

journal_repair repair_journal(const fs::path& path) {
  const std::string p = path.string();
  locked_journal lock(path);
  auto map = std::make_shared<const mapped_journal>(path);
  const std::string_view file = map->bytes();
  if (file.empty())
    throw journal_error("journal " + p + " is empty (no header): nothing to repair");

  // The header says which account and options the journal is for: without it nothing can be
  // trusted to belong to this journal. A damaged magic alone is rewritten.
  const std::uint64_t head_at = jf::magic.size();
  auto head = jf::frame_payload(file, head_at);
  if (!head || !jf::decode_header(*head)) {
    if (file.substr(0, jf::magic.size()) != jf::magic)
      throw journal_error("journal " + p + " is not a chime-onboard journal (bad magic)");
    throw journal_error("journal " + p +
                        " has a damaged header: which account and options it was written for "
                        "is unknown, so it cannot be repaired (keep it; start a new journal)");
  }
  journal_repair r;
  // The repaired file as pieces: stretches of the mapping kept as they are, and the intents
  // written for lost bytes; written out in order without first copying a journal of 100+ MB.
  std::vector<piece> out;
  std::deque<std::string> intents;  // a deque: views into its strings stay valid
  auto keep = [&](std::string_view bytes) {
    if (!out.empty() && out.back().mapped &&
        out.back().bytes.data() + out.back().bytes.size() == bytes.data())
      out.back().bytes =
          std::string_view(out.back().bytes.data(), out.back().bytes.size() + bytes.size());
    else
      out.push_back({bytes, true});
  };
  out.push_back({jf::magic, false});
  keep(file.substr(head_at, jf::frame_header + head->size()));
  bool changed = file.substr(0, jf::magic.size()) != jf::magic;

  // A compact outcome names its addresses by their place in its batch's intent of the same run
  // (replay_builder::apply_compact): one whose intent was lost says nothing usable, and is lost
  // with it (its addresses, recovered from the intent's bytes, stay in doubt).
  std::unordered_map<std::uint64_t, std::uint32_t> kept_intents;  // batch -> intent checksum
  auto note_kept = [&](std::string_view payload, const char* frame) {
    jf::reader rd{payload.data() + 1, payload.data() + payload.size()};
    switch (payload[0]) {
      case jf::rec_session: kept_intents.clear(); break;
      case jf::rec_intent: kept_intents[rd.u64()] = jf::load_u32(frame + 4); break;
      case jf::rec_release: kept_intents.erase(rd.u64()); break;
      default: break;
    }
  };
  auto cites_kept_intent = [&](std::string_view payload) {
    if (payload[0] != jf::rec_compact) return true;
    auto v = jf::parse_compact(payload);
    auto it = kept_intents.find(v->batch_id);
    return it != kept_intents.end() && it->second == v->intent_crc;
  };
  std::unordered_set<std::string_view> recovered;
  std::uint64_t next_batch = jf::repair_batch_base;
  std::int64_t last_ms = 0;
  std::uint64_t off = head_at + jf::frame_header + head->size();
  while (off < file.size()) {
    auto payload = jf::frame_payload(file, off);
    if (payload && !jf::known_type((*payload)[0]))
      throw journal_error("journal " + p + " has a record at byte " + std::to_string(off) +
                          " of a type this chime-onboard does not know ('" +
                          std::string(1, (*payload)[0]) +
                          "'): it was written by a newer version; repair it with that one");
    if (payload && jf::well_formed(*payload) && cites_kept_intent(*payload)) {
      note_kept(*payload, file.data() + off);
      keep(file.substr(off, jf::frame_header + payload->size()));
      ++r.records_kept;
      if (auto ms = record_time(*payload)) last_ms = ms;
      off += jf::frame_header + payload->size();
      continue;
    }
    if (!payload) {
      // One flipped bit is put back: nothing of the record is lost (a compact outcome record
      // names its addresses only through its intent, so an intent must not be lost for a bit).
      if (auto fixed = corrected_frame(file, off); !fixed.empty()) {
        auto fixed_payload = std::string_view(fixed).substr(jf::frame_header);
        if (cites_kept_intent(fixed_payload)) {
          changed = true;
          note_kept(fixed_payload, fixed.data());
          if (auto ms = record_time(fixed_payload)) last_ms = ms;
          off += fixed.size();
          out.push_back({intents.emplace_back(std::move(fixed)), false});
          ++r.records_corrected;
          continue;
        }
      }
    }
    // Unreadable bytes, up to the next record that checks out. Whatever they said about the
    // addresses legible in them is lost: an intent put in their place makes those addresses in
    // doubt, as if a request carrying them had been sent and its answer lost, unless a later
    // record settles them.
    changed = true;
    std::uint64_t end = next_record(file, off);
    while (end < file.size() && !cites_kept_intent(*jf::frame_payload(file, end)))
      end = next_record(file, end);  // a compact outcome of an intent in this stretch: lost too
    std::vector<std::string_view> named;
    std::unordered_set<std::string_view> in_region;
    for (auto e : legible_addresses(file.substr(off, end - off))) {
      if (in_region.insert(e).second) named.push_back(e);
      if (recovered.insert(e).second) r.recovered.emplace_back(e);
    }
    for (std::size_t i = 0; i < named.size(); i += repair_batch_size) {
      auto part = std::span(named).subspan(i, std::min(repair_batch_size, named.size() - i));
      put_recovered_intent(intents.emplace_back(), next_batch++, last_ms, part);
      out.push_back({intents.back(), false});
    }
    r.lost.push_back({off, end - off, named.size()});
    off = end;
  }
  if (!changed) return r;

  // Written beside the journal and checked before anything is renamed: a repair that failed
  // half way leaves the damaged journal where it was.
  fs::path tmp = path;
  tmp += ".repair-tmp-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  try {
    std::uint64_t size = write_new_file(tmp, out);
    auto check = replay_journal(tmp);
    if (check.tail() != tail_state::clean || check.valid_bytes() != size)
      throw journal_error("the repaired journal does not read back cleanly (" + check.tail_note() +
                          "); nothing was changed");
    r.totals = check.counts();
    for (const auto& e : r.recovered)
      if (auto st = check.find(e); st && st->in_doubt) ++r.recovered_in_doubt;
    r.original = keep_original(path, file);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw journal_error("cannot rename the repaired journal over " + p + ": " +
                          std::strerror(errno) + " (the damaged one is unchanged)");
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  try {
    io::sync_directory(path.parent_path().empty() ? fs::path(".") : path.parent_path());
  } catch (const std::system_error& e) {
    throw journal_error(std::string("journal repaired, but not durably: ") + e.what());
  }
  r.repaired = true;
  return r;
}

}  // namespace onboard
