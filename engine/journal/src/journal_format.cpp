#include "journal_format.hpp"

#include <array>
#include <chrono>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace onboard {

namespace {

// crc_tables: slice-by-8 tables for the reflected Castagnoli polynomial, built at compile time.
using crc_table = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc_table make_crc_tables() {
  crc_table t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s)
    for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

constexpr crc_table crc_tables = make_crc_tables();

std::uint32_t crc32c_tables(const unsigned char* p, std::size_t n, std::uint32_t c) {
  while (n >= 8) {
    std::uint32_t lo =
        c ^ (static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
             static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
    c = crc_tables[7][lo & 0xFF] ^ crc_tables[6][(lo >> 8) & 0xFF] ^
        crc_tables[5][(lo >> 16) & 0xFF] ^ crc_tables[4][lo >> 24] ^ crc_tables[3][p[4]] ^
        crc_tables[2][p[5]] ^ crc_tables[1][p[6]] ^ crc_tables[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ crc_tables[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(const unsigned char* p, std::size_t n,
                                                             std::uint32_t c) {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<std::uint32_t>(c64);
  while (n--) c = _mm_crc32_u8(c, *p++);
  return c;
}

const bool have_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t journal_crc32c(std::string_view data, std::uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_sse42) return ~crc32c_sse42(p, data.size(), c);
#endif
  return ~crc32c_tables(p, data.size(), c);
}

namespace jf {

void end_frame(std::string& out, std::size_t at) {
  std::size_t len = out.size() - at - frame_header;
  if (len > max_payload) throw std::length_error("journal record too large");
  char* h = out.data() + at;
  for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(len >> (8 * i));
  // The checksum covers the length too, so a damaged length cannot pair with a valid checksum.
  std::uint32_t crc = journal_crc32c(std::string_view(h, 4));
  crc = journal_crc32c(std::string_view(h + frame_header, len), crc);
  for (int i = 0; i < 4; ++i) h[4 + i] = static_cast<char>(crc >> (8 * i));
}

std::optional<std::string_view> frame_payload(std::string_view file, std::uint64_t off) {
  if (off > file.size() || file.size() - off < frame_header) return std::nullopt;
  const char* h = file.data() + off;
  std::uint32_t len = load_u32(h);
  if (len == 0 || len > max_payload || file.size() - off - frame_header < len) return std::nullopt;
  std::string_view payload(h + frame_header, len);
  std::uint32_t crc = journal_crc32c(std::string_view(h, 4));
  crc = journal_crc32c(payload, crc);
  if (crc != load_u32(h + 4)) return std::nullopt;
  return payload;
}

bool known_type(char t) {
  return t == rec_header || t == rec_session || t == rec_intent || t == rec_outcome ||
         t == rec_release || t == rec_compact;
}

bool well_formed(std::string_view payload, bool header_allowed) {
  // Mirrors replay_builder::apply's checks (journal_replay.cpp), which keeps them on its hot path.
  reader r{payload.data(), payload.data() + payload.size()};
  switch (r.u8()) {
    case rec_header: return header_allowed && decode_header(payload).has_value();
    case rec_session: {
      r.u64();
      auto mode = r.u8();
      r.u32();
      r.str();
      return !r.bad && mode <= 2;
    }
    case rec_intent:
    case rec_release: {
      r.u64();
      r.u32();
      r.u64();
      std::uint32_t n = r.u32();
      if (r.bad || n > 0xFFFF) return false;
      for (std::uint32_t i = 0; i < n; ++i)
        if (r.str().empty() || r.bad) return false;
      return r.p == r.end;
    }
    case rec_outcome: {
      r.u64();
      r.u64();
      std::uint32_t n = r.u32();
      if (r.bad || n > 0xFFFF) return false;
      for (std::uint32_t i = 0; i < n; ++i) {
        auto email = r.str();
        auto kind = r.u8();
        r.u32();
        r.str();
        for (int f = 0; f < 5; ++f) {
          auto len = r.u16();
          if (len != same_as_previous) r.bytes(len);
        }
        if (r.bad || email.empty() || kind >= outcome_kind_count) return false;
      }
      return r.p == r.end;
    }
    case rec_compact: return parse_compact(payload).has_value();
    default: return false;
  }
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// field: a string cut to what a u16 length can say; the service's messages are far shorter, so
// only pathological input is shortened (at a UTF-8 boundary).
std::string_view field(std::string_view s) {
  if (s.size() <= max_field) return s;
  std::size_t n = max_field;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

void put_repeatable(std::string& out, std::string_view s, const std::string* prev) {
  if (prev && *prev == s) {
    put_u16(out, same_as_previous);
  } else {
    put_str(out, field(s));
  }
}

}  // namespace

void put_header(std::string& out, const journal_header& h) {
  auto at = begin_frame(out);
  put_u8(out, rec_header);
  put_u16(out, h.format ? h.format : format_version);
  put_u8(out, static_cast<std::uint8_t>(h.op));
  put_str(out, field(h.account_id));
  put_u8(out, static_cast<std::uint8_t>(h.type));
  put_u8(out, h.case_sensitive_local ? 1 : 0);
  put_str(out, field(h.tool_version));
  put_u64(out, static_cast<std::uint64_t>(h.created_unix_ms));
  end_frame(out, at);
}

void put_session(std::string& out, std::int64_t unix_ms, durability mode, std::uint32_t pid,
                 std::string_view tool_version) {
  auto at = begin_frame(out);
  put_u8(out, rec_session);
  put_u64(out, static_cast<std::uint64_t>(unix_ms));
  put_u8(out, static_cast<std::uint8_t>(mode));
  put_u32(out, pid);
  put_str(out, field(tool_version));
  end_frame(out, at);
}

void put_outcomes(std::string& out, std::uint64_t batch_id, std::int64_t unix_ms,
                  std::span<const address_outcome> outcomes) {
  auto at = begin_frame(out);
  put_u8(out, rec_outcome);
  put_u64(out, batch_id);
  put_u64(out, static_cast<std::uint64_t>(unix_ms));
  put_u32(out, static_cast<std::uint32_t>(outcomes.size()));
  const address_outcome* prev = nullptr;
  for (const auto& o : outcomes) {
    if (o.email.empty() || o.email.size() > max_field)
      throw std::invalid_argument("journal: bad address length in an outcome");
    put_str(out, o.email);
    put_u8(out, static_cast<std::uint8_t>(o.kind));
    put_u32(out, o.attempts);
    put_str(out, field(o.id));
    put_repeatable(out, o.status, prev ? &prev->status : nullptr);
    put_repeatable(out, o.email_status, prev ? &prev->email_status : nullptr);
    put_repeatable(out, o.error_code, prev ? &prev->error_code : nullptr);
    put_repeatable(out, o.message, prev ? &prev->message : nullptr);
    put_repeatable(out, o.request_id, prev ? &prev->request_id : nullptr);
    prev = &o;
  }
  end_frame(out, at);
}

std::optional<journal_header> decode_header(std::string_view payload) {
  reader r{payload.data(), payload.data() + payload.size()};
  if (r.u8() != rec_header) return std::nullopt;
  auto version = r.u16();
  if (version < oldest_format || version > format_version) return std::nullopt;
  journal_header h;
  h.format = version;
  auto op = r.u8();
  h.account_id = std::string(r.str());
  auto type = r.u8();
  auto cs = r.u8();
  h.tool_version = std::string(r.str());
  h.created_unix_ms = static_cast<std::int64_t>(r.u64());
  if (r.bad || op > 1 || type > 2 || cs > 1) return std::nullopt;
  h.op = static_cast<operation>(op);
  h.type = static_cast<user_type>(type);
  h.case_sensitive_local = cs == 1;
  return h;
}

void decode_outcome(reader& r, address_outcome& o) {
  auto repeatable = [&r](std::string& s) {
    auto n = r.u16();
    if (n != same_as_previous) s.assign(r.bytes(n));
  };
  o.email.assign(r.str());
  auto kind = r.u8();
  o.kind = kind < outcome_kind_count ? static_cast<outcome_kind>(kind) : outcome_kind::failed;
  if (kind >= outcome_kind_count) r.bad = true;
  o.attempts = r.u32();
  o.id.assign(r.str());
  repeatable(o.status);
  repeatable(o.email_status);
  repeatable(o.error_code);
  repeatable(o.message);
  repeatable(o.request_id);
}

namespace {

// The five strings every outcome carries beside its kind, attempts and id.
constexpr std::string address_outcome::*const text_fields[] = {
    &address_outcome::status, &address_outcome::email_status, &address_outcome::error_code,
    &address_outcome::message, &address_outcome::request_id};

bool same_fields(const address_outcome& a, const address_outcome& b) {
  if (a.kind != b.kind || a.attempts != b.attempts) return false;
  for (auto f : text_fields)
    if (a.*f != b.*f) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// uuid_bytes: a lowercase 8-4-4-4-12 UUID as 16 bytes (what the service's ids are), else false.
bool uuid_bytes(std::string_view s, unsigned char* out) {
  if (s.size() != 36) return false;
  int k = 0;
  for (std::size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-') return false;
      continue;
    }
    int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[k++] = static_cast<unsigned char>(hi << 4 | lo);
    i += 2;
  }
  return true;
}

std::string uuid_text(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    auto b = static_cast<unsigned char>(bytes[i]);
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

// put_fields / read_fields: kind, attempts and the five strings; against `common`, a string equal
// to its counterpart there is written as same_as_previous.
void put_fields(std::string& out, const address_outcome& o, const address_outcome* common) {
  put_u8(out, static_cast<std::uint8_t>(o.kind));
  put_u32(out, o.attempts);
  for (auto f : text_fields) put_repeatable(out, o.*f, common ? &(common->*f) : nullptr);
}

// skip_fields: past one put_fields; the kind, or outcome_kind_count when malformed.
std::uint8_t skip_fields(reader& r, bool repeatable) {
  auto kind = r.u8();
  r.u32();
  for (std::size_t f = 0; f < std::size(text_fields); ++f) {
    auto len = r.u16();
    if (len == same_as_previous && !repeatable) r.bad = true;
    if (len != same_as_previous) r.bytes(len);
  }
  return r.bad || kind >= outcome_kind_count ? outcome_kind_count : kind;
}

void read_fields(reader& r, address_outcome& o) {
  auto kind = r.u8();
  o.kind = kind < outcome_kind_count ? static_cast<outcome_kind>(kind) : outcome_kind::failed;
  o.attempts = r.u32();
  for (auto f : text_fields) {
    auto n = r.u16();
    if (n != same_as_previous) (o.*f).assign(r.bytes(n));
  }
}

// read_id / skip_id: one id of a record whose ids are of mixed forms.
std::string read_id(reader& r) {
  switch (r.u8()) {
    case 0: return {};
    case 1: {
      auto b = r.bytes(16);
      return r.bad ? std::string() : uuid_text(b);
    }
    case 2: return std::string(r.str());
    default: r.bad = true; return {};
  }
}
void skip_id(reader& r) {
  switch (r.u8()) {
    case 0: break;
    case 1: r.bytes(16); break;
    case 2: r.str(); break;
    default: r.bad = true;
  }
}

// skip_ids: past the id section of a record of n addresses; false when malformed.
bool skip_ids(reader& r, std::uint8_t flags, std::uint16_t n) {
  if (flags & compact_ids_empty) return true;
  if (flags & compact_ids_uuid) return !r.bytes(16u * n).empty() || n == 0;
  for (std::uint16_t k = 0; k < n && !r.bad; ++k) skip_id(r);
  return !r.bad;
}

}  // namespace

void put_compact_outcomes(std::string& out, std::uint64_t batch_id, std::int64_t unix_ms,
                          std::uint32_t intent_crc, std::span<const std::uint16_t> intent_index,
                          std::span<const address_outcome> outcomes) {
  if (outcomes.empty() || outcomes.size() > 0xFFFF || intent_index.size() != outcomes.size())
    throw std::invalid_argument("journal: a compact outcome record of a bad size");
  const auto n = static_cast<std::uint16_t>(outcomes.size());
  std::uint8_t flags = compact_in_order | compact_ids_uuid | compact_ids_empty;
  unsigned char uuid[16];
  for (std::uint16_t k = 0; k < n; ++k) {
    if (intent_index[k] != k) flags &= ~compact_in_order;
    if (!outcomes[k].id.empty()) flags &= ~compact_ids_empty;
    if (!uuid_bytes(outcomes[k].id, uuid)) flags &= ~compact_ids_uuid;
  }
  auto at = begin_frame(out);
  put_u8(out, rec_compact);
  put_u64(out, batch_id);
  put_u64(out, static_cast<std::uint64_t>(unix_ms));
  put_u32(out, intent_crc);
  put_u16(out, n);
  put_u8(out, flags);
  if (!(flags & compact_in_order))
    for (auto i : intent_index) put_u16(out, i);
  const address_outcome& common = outcomes[0];
  put_fields(out, common, nullptr);
  if (flags & compact_ids_uuid) {
    for (const auto& o : outcomes) {
      uuid_bytes(o.id, uuid);
      out.append(reinterpret_cast<const char*>(uuid), 16);
    }
  } else if (!(flags & compact_ids_empty)) {
    // Per id: 0 none, 1 a UUID in 16 bytes, 2 a string (a failed address among invited ones).
    for (const auto& o : outcomes) {
      if (o.id.empty()) {
        put_u8(out, 0);
      } else if (uuid_bytes(o.id, uuid)) {
        put_u8(out, 1);
        out.append(reinterpret_cast<const char*>(uuid), 16);
      } else {
        put_u8(out, 2);
        put_str(out, field(o.id));
      }
    }
  }
  std::size_t count_at = out.size();
  put_u16(out, 0);
  std::uint16_t exceptions = 0;
  for (std::uint16_t k = 1; k < n; ++k) {
    if (same_fields(outcomes[k], common)) continue;
    put_u16(out, k);
    put_fields(out, outcomes[k], &common);
    ++exceptions;
  }
  out[count_at] = static_cast<char>(exceptions);
  out[count_at + 1] = static_cast<char>(exceptions >> 8);
  end_frame(out, at);
}

std::uint16_t compact_view::index(std::uint16_t k) const {
  if (flags & compact_in_order) return k;
  const auto* u = reinterpret_cast<const unsigned char*>(indexes + 2 * k);
  return static_cast<std::uint16_t>(u[0] | u[1] << 8);
}

std::optional<compact_view> parse_compact(std::string_view payload) {
  reader r{payload.data(), payload.data() + payload.size()};
  compact_view v;
  if (r.u8() != rec_compact) return std::nullopt;
  v.batch_id = r.u64();
  v.unix_ms = static_cast<std::int64_t>(r.u64());
  v.intent_crc = r.u32();
  v.n = r.u16();
  v.flags = r.u8();
  if (r.bad || v.n == 0 || v.flags > 7) return std::nullopt;
  if (!(v.flags & compact_in_order)) {
    v.indexes = r.p;
    if (r.bytes(2u * v.n).empty()) return std::nullopt;
  }
  v.common = r.p;
  v.kind = skip_fields(r, false);
  if (v.kind >= outcome_kind_count) return std::nullopt;
  v.ids = r.p;
  if (!skip_ids(r, v.flags, v.n)) return std::nullopt;
  v.exception_count = r.u16();
  v.exceptions = r.p;
  std::uint32_t last = 0;
  for (std::uint16_t e = 0; e < v.exception_count; ++e) {
    std::uint16_t k = r.u16();
    // Positions ascend: each is written once, and readers may stop early.
    if (r.bad || k == 0 || k >= v.n || k <= last) return std::nullopt;
    last = k;
    if (skip_fields(r, true) >= outcome_kind_count) return std::nullopt;
  }
  if (r.bad || r.p != r.end) return std::nullopt;
  v.end = r.end;
  return v;
}

void compact_kinds(const compact_view& v, std::vector<std::uint8_t>& kinds) {
  kinds.assign(v.n, v.kind);
  reader r{v.exceptions, v.end};
  for (std::uint16_t e = 0; e < v.exception_count; ++e) {
    auto k = r.u16();
    kinds[k] = skip_fields(r, true);
  }
}

address_outcome compact_outcome(const compact_view& v, std::uint16_t k) {
  address_outcome o;
  reader c{v.common, v.end};
  read_fields(c, o);
  // An exception's string written as same_as_previous keeps the common value just read.
  reader x{v.exceptions, v.end};
  for (std::uint16_t e = 0; e < v.exception_count; ++e) {
    auto at = x.u16();
    if (at == k) {
      read_fields(x, o);
      break;
    }
    if (at > k) break;
    skip_fields(x, true);
  }
  reader r{v.ids, v.end};
  if (v.flags & compact_ids_uuid) {
    o.id = uuid_text(std::string_view(v.ids + 16u * k, 16));
  } else if (!(v.flags & compact_ids_empty)) {
    for (std::uint16_t i = 0; i < k; ++i) skip_id(r);
    o.id = read_id(r);
  }
  return o;
}

}  // namespace jf

std::string_view to_string(durability d) {
  switch (d) {
    case durability::strict: return "strict";
    case durability::off: return "off";
    case durability::batched: break;
  }
  return "batched";
}

std::optional<durability> parse_durability(std::string_view s) {
  if (s == "strict") return durability::strict;
  if (s == "batched") return durability::batched;
  if (s == "off") return durability::off;
  return std::nullopt;
}

std::string header_mismatch(const std::filesystem::path& path, const journal_header& on_disk,
                            const journal_header& run) {
  std::string out;
  auto add = [&](std::string_view what, std::string_view was, std::string_view is) {
    if (!out.empty()) out += "; ";
    out += "journal " + path.string() + " was written for " + std::string(what) + " " +
           std::string(was) + ", this run is for " + std::string(what) + " " + std::string(is);
  };
  auto quoted_type = [](user_type t) {
    auto s = to_string(t);
    return s.empty() ? std::string("(unspecified)") : std::string(s);
  };
  if (on_disk.account_id != run.account_id) add("account", on_disk.account_id, run.account_id);
  if (on_disk.op != run.op) add("operation", to_string(on_disk.op), to_string(run.op));
  if (on_disk.type != run.type) add("user type", quoted_type(on_disk.type), quoted_type(run.type));
  if (on_disk.case_sensitive_local != run.case_sensitive_local)
    add("local-part case", on_disk.case_sensitive_local ? "sensitive" : "insensitive",
        run.case_sensitive_local ? "sensitive" : "insensitive");
  return out;
}

}  // namespace onboard
