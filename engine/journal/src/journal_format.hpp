// journal_format.hpp: the journal's bytes, shared by the writer (journal.cpp) and the replay
// (journal_replay.cpp). docs/journal.md is the prose version of this file; keep them in step.
//
//   file    = magic record*
//   magic   = "onbjrnl" 0x01                      (8 bytes; the format version is in the header)
//   record  = u32 length, u32 crc32c(length bytes ++ payload), payload[length]
//   payload = type byte, fields...                (little-endian integers, u16-length strings)
//
//   std::string out;
//   auto at = jf::begin_frame(out);  jf::put_u8(out, jf::rec_intent); ...;  jf::end_frame(out, at);
#pragma once

#include <onboard/journal/journal.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::jf {

inline constexpr std::string_view magic{"onbjrnl\x01", 8};
inline constexpr std::size_t frame_header = 8;
// max_payload: bounds what a corrupted length can make the reader look at; real records are at
// most ~50 addresses x a few KiB.
inline constexpr std::uint32_t max_payload = 16u << 20;
// format_version: what new journals are written in. Version 2 adds the compact outcome record
// ('C'); a version-1 journal is read as before and resumed in version 1 (an older chime-onboard
// can still read it). The magic stays "onbjrnl\x01" in both: an older chime-onboard then says the
// header is of a newer version, rather than that the file is not a journal.
inline constexpr std::uint16_t format_version = 2;
inline constexpr std::uint16_t oldest_format = 1;
// same_as_previous: a string field's length meaning "the value of the previous address in this
// record" (request id, status... repeat across a batch).
inline constexpr std::uint16_t same_as_previous = 0xFFFF;
inline constexpr std::size_t max_field = 0xFFFE;
// repair_batch_base: batch ids from here up are the intents `journal repair` writes for the
// addresses it recovered from unreadable bytes (runs number their batches 1, 2, 3...).
inline constexpr std::uint64_t repair_batch_base = 0xFFFFFFFF00000000ULL;

enum record_type : std::uint8_t {
  rec_header = 'H',   // u16 format, u8 op, str account, u8 user_type, u8 case_sensitive, str
                      // version, i64 created
  rec_session = 'S',  // i64 unix_ms, u8 durability, u32 pid, str tool_version
  rec_intent = 'I',   // u64 batch, u32 attempt, i64 unix_ms, u32 n, n x str email
  rec_outcome = 'O',  // u64 batch, i64 unix_ms, u32 n, n x address (see put_outcome)
  rec_release = 'R',  // as rec_intent: that intent withdrawn, its request never sent
  rec_compact = 'C',  // version 2: outcomes naming addresses by their place in the batch's intent
                      // (see put_compact_outcomes)
};

// Flags of a compact outcome record.
enum compact_flags : std::uint8_t {
  compact_in_order = 1,   // the record's addresses are the intent's 0..n-1: no index list
  compact_ids_uuid = 2,   // every id is a lowercase UUID, stored as 16 bytes
  compact_ids_empty = 4,  // no address has an id
  // neither: each id is u8 form (0 none, 1 UUID in 16 bytes, 2 str) and its bytes
};

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void put_u16(std::string& out, std::uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out.append(b, 2);
}
inline void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
inline void put_u64(std::string& out, std::uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
inline void put_str(std::string& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

inline std::uint32_t load_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(u[0]) | static_cast<std::uint32_t>(u[1]) << 8 |
         static_cast<std::uint32_t>(u[2]) << 16 | static_cast<std::uint32_t>(u[3]) << 24;
}

// begin_frame / end_frame: reserve the 8-byte frame header, then fill length and checksum once
// the payload is appended.
inline std::size_t begin_frame(std::string& out) {
  std::size_t at = out.size();
  out.append(frame_header, '\0');
  return at;
}
void end_frame(std::string& out, std::size_t at);

// reader: bounds-checked decoding of one payload; any overrun sets `bad` and yields zeros, so a
// record that passed its checksum but does not parse is reported rather than misread.
struct reader {
  const char* p;
  const char* end;
  bool bad = false;

  bool need(std::size_t n) {
    if (static_cast<std::size_t>(end - p) < n) bad = true;
    return !bad;
  }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<std::uint8_t>(*p++);
  }
  std::uint16_t u16() {
    if (!need(2)) return 0;
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    p += 2;
    return static_cast<std::uint16_t>(u[0] | u[1] << 8);
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    auto v = load_u32(p);
    p += 4;
    return v;
  }
  std::uint64_t u64() {
    if (!need(8)) return 0;
    std::uint64_t v = load_u32(p) | static_cast<std::uint64_t>(load_u32(p + 4)) << 32;
    p += 8;
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    std::string_view s(p, n);
    p += n;
    return s;
  }
  std::string_view str() { return bytes(u16()); }
};

// frame_payload: the payload of a valid frame at `off` (complete, length in range, checksum
// right), or nullopt.
std::optional<std::string_view> frame_payload(std::string_view file, std::uint64_t off);
// known_type: whether `t` is a record type this version reads.
bool known_type(char t);
// well_formed: whether a checksummed payload parses exactly as the record its type byte names
// (a header only where `header_allowed`): the structure replay relies on, without its meaning.
bool well_formed(std::string_view payload, bool header_allowed = false);

// Encoders for each record type (append one whole frame to `out`).
void put_header(std::string& out, const journal_header& h);  // in h.format (0: format_version)
void put_session(std::string& out, std::int64_t unix_ms, durability mode, std::uint32_t pid,
                 std::string_view tool_version);
void put_outcomes(std::string& out, std::uint64_t batch_id, std::int64_t unix_ms,
                  std::span<const address_outcome> outcomes);
// put_compact_outcomes: outcomes[k] is the address at intent_index[k] of the intent of `batch_id`
// whose frame checksum is `intent_crc` (the latest intent of that batch in this session). Costs
// a few bytes per record plus the ids: the fields the first outcome has are written once, and
// only addresses that differ from it are written out.
void put_compact_outcomes(std::string& out, std::uint64_t batch_id, std::int64_t unix_ms,
                          std::uint32_t intent_crc, std::span<const std::uint16_t> intent_index,
                          std::span<const address_outcome> outcomes);

// compact_view: a parsed compact outcome record (views into its payload). Positions are 0..n-1
// in the record; index(k) is position k's place in the intent.
struct compact_view {
  std::uint64_t batch_id = 0;
  std::int64_t unix_ms = 0;
  std::uint32_t intent_crc = 0;
  std::uint16_t n = 0;
  std::uint8_t flags = 0;
  const char* indexes = nullptr;  // n x u16, unless compact_in_order
  const char* common = nullptr;   // the fields of position 0, which the others share by default
  const char* ids = nullptr;      // the id section
  const char* exceptions = nullptr;
  std::uint16_t exception_count = 0;
  const char* end = nullptr;
  std::uint8_t kind = 0;  // the common outcome's kind

  std::uint16_t index(std::uint16_t k) const;
};
// parse_compact: the record's structure checked (every field in bounds, kinds valid, positions
// below n, nothing left over), or nullopt.
std::optional<compact_view> parse_compact(std::string_view payload);
// compact_kinds: the kind of each position, into `kinds` (resized to n).
void compact_kinds(const compact_view& v, std::vector<std::uint8_t>& kinds);
// compact_outcome: the full outcome at position k (email left empty: the intent holds it).
address_outcome compact_outcome(const compact_view& v, std::uint16_t k);

// decode_header: nullopt when the payload is not a header this version understands.
std::optional<journal_header> decode_header(std::string_view payload);

// decode_outcome: one address of an outcome record; `prev` carries the repeated fields.
void decode_outcome(reader& r, address_outcome& o);

// now_unix_ms: wall-clock time stamped on records (status shows it; replay never depends on it).
std::int64_t now_unix_ms();

}  // namespace onboard::jf
