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
         t == rec_release;
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
  put_u16(out, format_version);
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
  if (r.u16() != format_version) return std::nullopt;
  journal_header h;
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
