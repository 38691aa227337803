// normalize.cpp: validation and normalisation of one address. The common case (printable ASCII,
// at most 64 bytes) is classified into 64-bit masks (one bit per byte), so the dot-atom and label
// rules become a few mask operations instead of a dependent chain per byte. The masks come from
// SSE2, 16 bytes at a time, or, on CPUs with AVX-512 VBMI, from one masked 64-byte load and one
// table lookup for the whole address (chosen once at run time). Everything else, and every
// address the fast path does not accept, goes through the byte-wise passes driven by a class
// table, which alone decide reason codes; libidn2 is called only for non-ASCII domains.
#include <onboard/ingest/normalize.hpp>

#include <onboard/core/text.hpp>

#include <onboard/io/corpus_reader.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <idn2.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ONBOARD_HAVE_AVX512_PATH 1
#endif

namespace onboard {

namespace {

enum : std::uint16_t {
  c_atext = 1,     // allowed in a dot-atom local part (besides '.')
  c_label = 2,     // allowed in a domain label: letters, digits, '-'
  c_upper = 4,     // A-Z
  c_ctrl = 8,      // < 0x20 or 0x7F
  c_space = 16,    // ' '
  c_high = 32,     // >= 0x80
  c_digit = 64,    // 0-9
  c_dot = 128,     // '.'
  c_hyphen = 256,  // '-'
};

constexpr std::array<std::uint16_t, 256> make_classes() {
  std::array<std::uint16_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint16_t v = 0;
    if (c == '.') v |= c_dot;
    if (c == '-') v |= c_hyphen;
    if (c < 0x20 || c == 0x7F) v |= c_ctrl;
    if (c == ' ') v |= c_space;
    if (c >= 0x80) v |= c_high;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool digit = c >= '0' && c <= '9';
    if (digit) v |= c_digit;
    if (c >= 'A' && c <= 'Z') v |= c_upper;
    if (alpha || digit || c == '-') v |= c_label;
    if (alpha || digit) v |= c_atext;
    for (char s : std::string_view("!#$%&'*+-/=?^_`{|}~"))
      if (c == static_cast<unsigned char>(s)) v |= c_atext;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

constexpr std::array<std::uint16_t, 256> classes = make_classes();

constexpr std::array<char, 256> make_lower() {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return t;
}

constexpr std::array<char, 256> lower_table = make_lower();

inline std::uint16_t cls(char c) { return classes[static_cast<unsigned char>(c)]; }

// has_byte_outside_graphic: whether any byte of `w` is < 0x21 or > 0x7E (exact, no false hits).
inline bool has_byte_outside_graphic(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t high = 0x8080808080808080ull;
  std::uint64_t below = (w - ones * 0x21) & ~w & high;
  std::uint64_t above = ((w & ~high) + ones * (0x80 - 0x7F)) | w;
  return ((below | above) & high) != 0;
}

constexpr const char* reason_names[reason_count] = {
    "",         "empty",   "no_at",        "bad_local",  "bad_domain",      "too_long",
    "bad_utf8", "bad_csv", "control_char", "whitespace", "non_ascii_local", "bad_user_type"};

#if defined(__SSE2__)

// in_range: lanes of `v` with lo <= byte <= hi (unsigned), as 0xFF.
inline __m128i in_range(__m128i v, unsigned char lo, unsigned char hi) {
  __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>(lo)));
  return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(static_cast<char>(hi - lo))), d);
}

inline __m128i is_byte(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }

// chunk_base: where the 16-byte load for chunk k of p[0, n) starts (16 <= n <= 64). The last,
// partial chunk is loaded as p[n-16, n), overlapping the one before, so nothing outside the
// string is read and no copy is needed; its lanes say the same about the overlapped bytes.
inline unsigned chunk_base(unsigned k, std::size_t n) {
  return std::min(16 * k, static_cast<unsigned>(n) - 16);
}

inline unsigned chunk_count(std::size_t n) { return static_cast<unsigned>((n + 15) / 16); }

// bits: the lanes' high bits as a mask of string positions, lane j being position base + j.
inline std::uint64_t bits(__m128i lanes, unsigned base) {
  return static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(lanes))) << base;
}

// ascii_masks: per-byte classes of up to 64 bytes, bit i for byte i.
struct ascii_masks {
  std::uint64_t graphic = 0;  // '!'..'~'
  std::uint64_t atext = 0;    // atext or '.', given graphic
  std::uint64_t label = 0;    // letter, digit, '-' or '.'
  std::uint64_t digit = 0, dot = 0, hyphen = 0, at = 0;
};

ascii_masks classify(const char* p, std::size_t n) {
  ascii_masks m;
  for (unsigned c = 0; c < chunk_count(n); ++c) {
    const unsigned base = chunk_base(c, n);
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base));
    __m128i digit = in_range(v, '0', '9');
    __m128i dot = is_byte(v, '.');
    __m128i hyphen = is_byte(v, '-');
    __m128i at = is_byte(v, '@');
    // Folding bit 0x20 maps 'A'..'Z' onto 'a'..'z' and nothing else onto them.
    __m128i letter = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    // The printable bytes that are neither atext nor '.': "(),:;<>@[\].
    __m128i special =
        _mm_or_si128(_mm_or_si128(_mm_or_si128(is_byte(v, '"'), in_range(v, '(', ')')),
                                  _mm_or_si128(is_byte(v, ','), in_range(v, ':', '<'))),
                     _mm_or_si128(_mm_or_si128(is_byte(v, '>'), at), in_range(v, '[', ']')));
    m.graphic |= bits(in_range(v, 0x21, 0x7E), base);
    m.atext |= bits(special, base);  // inverted below
    m.label |= bits(_mm_or_si128(_mm_or_si128(letter, digit), _mm_or_si128(dot, hyphen)), base);
    m.digit |= bits(digit, base);
    m.dot |= bits(dot, base);
    m.hyphen |= bits(hyphen, base);
    m.at |= bits(at, base);
  }
  m.atext = ~m.atext;
  return m;
}

// below: bits [0, i); i <= 64.
inline std::uint64_t below(unsigned i) { return i >= 64 ? ~0ull : (1ull << i) - 1; }

// acceptable_ascii: whether p[0, n), all printable ASCII, is an address normalize_email accepts
// (the rules of the byte-wise passes, restated on masks; n <= 64 so no length rule can fail).
// On true, *at is the position of the last '@'.
// Always inlined: as a call it cost the AVX-512 path about a sixth of its time (perf).
__attribute__((always_inline)) inline bool acceptable_ascii(const ascii_masks& m, std::size_t n,
                                                            unsigned* at) {
  const std::uint64_t all = below(static_cast<unsigned>(n));
  if ((m.graphic & all) != all) return false;
  const std::uint64_t ats = m.at & all;
  if (ats == 0) return false;
  const unsigned a = 63 - static_cast<unsigned>(std::countl_zero(ats));
  if (a == 0) return false;  // empty local part
  const std::uint64_t local = below(a);
  const std::uint64_t domain = all & ~below(a + 1);
  if (domain == 0) return false;
  // Local part: dot-atom: atext and single inner dots.
  const std::uint64_t ldots = m.dot & local;
  if ((local & ~m.atext) | (ldots & (1ull | (1ull << (a - 1)) | (ldots >> 1)))) return false;
  // Domain: labels of letters, digits and inner hyphens between single dots; at least one dot.
  const std::uint64_t first = 1ull << (a + 1), last = 1ull << (n - 1);
  const std::uint64_t dots = m.dot & domain, hyphens = m.hyphen & domain;
  if ((domain & ~m.label) || dots == 0) return false;
  if (dots & (first | last | (dots << 1))) return false;                   // empty label
  if (hyphens & (first | (dots << 1) | last | (dots >> 1))) return false;  // '-' at a label end
  const unsigned last_dot = 63 - static_cast<unsigned>(std::countl_zero(dots));
  const std::uint64_t tld = domain & ~below(last_dot + 1);
  if ((tld & ~m.digit) == 0) return false;  // all-numeric top-level label
  *at = a;
  return true;
}

// copy_lowering_domain: out[0, n) = p[0, n) with the domain (after position `at`) lowercased,
// 16 bytes at a time, chunked like classify() (overlapping stores write equal bytes).
void copy_lowering_domain(const char* p, std::size_t n, unsigned at, char* out) {
  const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (unsigned c = 0; c < chunk_count(n); ++c) {
    const unsigned base = chunk_base(c, n);
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + base));
    __m128i pos = _mm_add_epi8(lane, _mm_set1_epi8(static_cast<char>(base)));
    __m128i in_domain = _mm_cmpgt_epi8(pos, _mm_set1_epi8(static_cast<char>(at)));
    __m128i upper = _mm_and_si128(in_range(v, 'A', 'Z'), in_domain);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + base),
                     _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
  }
}

// normalize_short_sse2: the fast path for a trimmed address of <= 64 bytes; false when it does
// not accept `s` (the byte-wise passes then say why).
bool normalize_short_sse2(std::string_view s, char* out, std::size_t& len) {
  static_assert(max_email_octets >= 64, "the fast path stores up to 64 bytes into out");
  std::size_t n = s.size();
  if (n > 64) return false;
  const char* p = s.data();
  // Under 16 bytes there is no whole chunk to load; work on a zero-padded copy (the padding is
  // masked off by every rule, and the output stores stay within out's max_email_octets).
  char padded[16] = {};
  if (n < 16) {
    std::memcpy(padded, p, n);
    p = padded;
    n = 16;
  }
  ascii_masks m = classify(p, n);
  n = s.size();
  unsigned at = 0;
  if (!acceptable_ascii(m, n, &at)) return false;
  copy_lowering_domain(p, std::max<std::size_t>(n, 16), at, out);
  len = n;
  return true;
}

#else

bool normalize_short_sse2(std::string_view, char*, std::size_t&) { return false; }

#endif

#if defined(ONBOARD_HAVE_AVX512_PATH)

// The AVX-512 classes: one byte per ASCII code (the lookup uses a byte's low 7 bits, so bytes
// >= 0x80 are caught by the graphic mask, which also requires the high bit clear).
enum : unsigned char {
  k_atext = 1,  // graphic and not one of "(),:;<>@[\] (atext or '.')
  k_label = 2,  // letter, digit, '-' or '.'
  k_digit = 4,
  k_dot = 8,
  k_hyphen = 16,
  k_at = 32,
  k_graphic = 64,  // '!'..'~'
  k_upper = 128,   // 'A'..'Z'
};

// make_vector_classes: the byte-wise passes' class table, restated one byte per ASCII code for the
// permute: derived from it, so the two paths cannot disagree about a character.
constexpr std::array<unsigned char, 128> make_vector_classes() {
  std::array<unsigned char, 128> t{};
  for (std::size_t c = 0x21; c <= 0x7E; ++c) {
    const std::uint16_t k = classes[c];
    unsigned char v = k_graphic;
    if (k & (c_atext | c_dot)) v |= k_atext;
    if (k & (c_label | c_dot)) v |= k_label;
    if (k & c_digit) v |= k_digit;
    if (k & c_dot) v |= k_dot;
    if (k & c_hyphen) v |= k_hyphen;
    if (k & c_upper) v |= k_upper;
    if (c == '@') v |= k_at;
    t[c] = v;
  }
  return t;
}

alignas(64) constexpr std::array<unsigned char, 128> vector_classes = make_vector_classes();

#define ONBOARD_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi,bmi,bmi2")))

// lanes_with: the lanes of `cls` that have class bit `bit`, as a mask.
ONBOARD_AVX512_TARGET inline std::uint64_t lanes_with(__m512i cls, unsigned char bit) {
  return _mm512_test_epi8_mask(cls, _mm512_set1_epi8(static_cast<char>(bit)));
}

// normalize_short_avx512: normalize_short_sse2 on one register: the masked load reads exactly the
// address's bytes (masked-off bytes are never touched, so no padding copy and no read past the
// end), one two-table byte permute classifies all 64 lanes, and each class is one test-into-mask.
ONBOARD_AVX512_TARGET bool normalize_short_avx512(std::string_view s, char* out, std::size_t& len) {
  const std::size_t n = s.size();
  if (n > 64) return false;
  const __mmask64 all = _bzhi_u64(~0ull, static_cast<unsigned>(n));
  const __m512i v = _mm512_maskz_loadu_epi8(all, s.data());
  const __m512i cls = _mm512_permutex2var_epi8(_mm512_load_si512(vector_classes.data()), v,
                                               _mm512_load_si512(vector_classes.data() + 64));
  ascii_masks m;
  m.graphic = lanes_with(cls, k_graphic) & ~static_cast<std::uint64_t>(_mm512_movepi8_mask(v));
  m.atext = lanes_with(cls, k_atext);
  m.label = lanes_with(cls, k_label);
  m.digit = lanes_with(cls, k_digit);
  m.dot = lanes_with(cls, k_dot);
  m.hyphen = lanes_with(cls, k_hyphen);
  m.at = lanes_with(cls, k_at);
  unsigned at = 0;
  if (!acceptable_ascii(m, n, &at)) return false;
  const __mmask64 upper_domain = lanes_with(cls, k_upper) & ~below(at + 1);
  // out holds max_email_octets, so the whole register can be stored instead of a masked store.
  static_assert(max_email_octets >= 64, "the fast path stores 64 bytes into out");
  _mm512_storeu_si512(out, _mm512_mask_add_epi8(v, upper_domain, v, _mm512_set1_epi8(0x20)));
  len = n;
  return true;
}

#undef ONBOARD_AVX512_TARGET

#endif

// normalize_via: normalize_email with fast path `Fast`, compiled into one function per path so
// that the per-address cost of choosing a path is one indirect call.
template <bool (*Fast)(std::string_view, char*, std::size_t&)>
reason normalize_via(std::string_view raw, char* out, std::size_t& len) {
  // Most lines have nothing to trim: both ends are printable.
  std::string_view s = raw;
  if (!s.empty() &&
      (static_cast<unsigned char>(s.front()) <= ' ' || static_cast<unsigned char>(s.back()) <= ' '))
    s = trim_ascii(s);
  if (Fast(s, out, len)) return reason::none;
  return detail::normalize_email_bytewise(raw, out, len);
}

using normalize_fn = reason (*)(std::string_view, char*, std::size_t&);

normalize_fn normalizer_for(detail::fast_path p) {
  switch (p) {
#if defined(ONBOARD_HAVE_AVX512_PATH)
    case detail::fast_path::avx512: return normalize_via<normalize_short_avx512>;
#endif
    default: return normalize_via<normalize_short_sse2>;
  }
}

// idn_domain: punycode form of a UTF-8 domain, or empty when libidn2 refuses it.
std::string idn_domain(std::string_view domain) {
  char in[1024];
  if (domain.size() >= sizeof in) return {};
  std::memcpy(in, domain.data(), domain.size());
  in[domain.size()] = '\0';
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(in, &out, IDN2_NONTRANSITIONAL);
  if (rc != IDN2_OK || !out) return {};
  std::string r(out);
  idn2_free(out);
  return r;
}

}  // namespace

std::string_view to_string(reason r) {
  auto i = static_cast<std::size_t>(r);
  return i < reason_count ? reason_names[i] : "unknown";
}

std::optional<reason> parse_reason(std::string_view s) {
  for (std::size_t i = 1; i < reason_count; ++i)
    if (s == reason_names[i]) return static_cast<reason>(i);
  return std::nullopt;
}

std::string_view trim_ascii(std::string_view s) noexcept {
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

reason normalize_email(std::string_view raw, char* out, std::size_t& len) {
  static const normalize_fn normalize = normalizer_for(detail::best_fast_path());
  return normalize(raw, out, len);
}

namespace detail {

bool fast_path_available(fast_path p) {
  switch (p) {
    case fast_path::sse2: return true;
    case fast_path::avx512:
#if defined(ONBOARD_HAVE_AVX512_PATH)
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("bmi2");
#else
      return false;
#endif
  }
  return false;
}

fast_path best_fast_path() {
  return fast_path_available(fast_path::avx512) ? fast_path::avx512 : fast_path::sse2;
}

reason normalize_email_via(fast_path p, std::string_view raw, char* out, std::size_t& len) {
  return normalizer_for(fast_path_available(p) ? p : fast_path::sse2)(raw, out, len);
}

reason normalize_email_bytewise(std::string_view raw, char* out, std::size_t& len) {
  len = 0;
  std::string_view s = trim_ascii(raw);
  if (s.empty()) return reason::empty;
  // Quoted local parts are unsupported whatever they contain ("john doe"@x.com is bad_local, not
  // whitespace), so say so first.
  if (s.front() == '"') return reason::bad_local;
  const char* d = s.data();
  const std::size_t n = s.size();
  // Pass 1: are there bytes outside '!'..'~' (controls, spaces, non-ASCII)? Eight at a time;
  // only lines that have some pay for the byte-by-byte classification.
  std::uint16_t seen = 0;
  bool odd = false;
  std::size_t i = 0;
  for (; i + 8 <= n && !odd; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, d + i, 8);
    odd = has_byte_outside_graphic(w);
  }
  if (!odd) {
    for (; i < n; ++i) {
      auto u = static_cast<unsigned char>(d[i]);
      if (u < 0x21 || u > 0x7E) odd = true;
    }
  }
  if (odd)
    for (std::size_t k = 0; k < n; ++k) seen |= cls(d[k]);
  auto* atp = static_cast<const char*>(::memrchr(d, '@', n));
  std::size_t at = atp ? static_cast<std::size_t>(atp - d) : std::string_view::npos;
  if (seen & c_ctrl) return reason::control_char;
  if (seen & c_space) return reason::whitespace;
  if (at == std::string_view::npos) return reason::no_at;
  std::string_view local = s.substr(0, at);
  std::string_view domain = s.substr(at + 1);
  if (local.empty() || local.front() == '"') return reason::bad_local;
  std::string idn;
  if (seen & c_high) {
    if (!io::valid_utf8(s)) return reason::bad_utf8;
    for (char c : local)
      if (cls(c) & c_high) return reason::non_ascii_local;
    if (domain.empty()) return reason::bad_domain;
    idn = idn_domain(domain);
    if (idn.empty()) return reason::bad_domain;
    domain = idn;
  }
  if (local.size() > max_local_octets) return reason::bad_local;
  // Local part: dot-atom. The loops accumulate a `bad` flag instead of branching per byte:
  // addresses are short and mostly valid, and a mispredicted branch costs more than the check.
  unsigned bad = 0, prev_dot = 1;
  for (char c : local) {
    std::uint16_t k = cls(c);
    unsigned dot = (k & c_dot) != 0;
    bad |= (k & (c_atext | c_dot)) == 0;
    bad |= dot & prev_dot;  // leading or doubled dot
    prev_dot = dot;
  }
  if (bad | prev_dot) return reason::bad_local;
  if (domain.empty()) return reason::bad_domain;
  if (local.size() + 1 + domain.size() > max_email_octets) return reason::too_long;
  // Domain: labels checked and lowercased while copied.
  std::memcpy(out, local.data(), local.size());
  out[local.size()] = '@';
  char* o = out + local.size() + 1;
  std::size_t label_len = 0;
  unsigned dots = 0, digits_only = 1, prev_hyphen = 0;
  prev_dot = 1;
  for (char c : domain) {
    std::uint16_t k = cls(c);
    unsigned dot = (k & c_dot) != 0;
    unsigned hyphen = (k & c_hyphen) != 0;
    bad |= (k & (c_label | c_dot)) == 0;
    bad |= dot & (prev_dot | prev_hyphen);  // empty label, or one ending in '-'
    bad |= hyphen & prev_dot;               // label starting with '-'
    label_len = dot ? 0 : label_len + 1;
    bad |= label_len > max_label_octets;
    digits_only = dot | (digits_only & ((k & c_digit) != 0));
    dots += dot;
    *o++ = lower_table[static_cast<unsigned char>(c)];
    prev_dot = dot;
    prev_hyphen = hyphen;
  }
  // Also: the last label is not empty, does not end in '-', is not all digits; there is a dot.
  if (bad | prev_dot | prev_hyphen | digits_only | (dots == 0)) return reason::bad_domain;
  len = static_cast<std::size_t>(o - out);
  return reason::none;
}

}  // namespace detail

reason normalize_email(std::string_view raw, std::string& out) {
  char buf[max_email_octets];
  std::size_t len = 0;
  reason r = normalize_email(raw, buf, len);
  out.assign(buf, len);
  return r;
}

std::string dedupe_text(std::string_view e, bool case_sensitive_local) {
  std::string out(e);
  std::size_t at = out.rfind('@');
  std::size_t from = (case_sensitive_local && at != std::string::npos) ? at : 0;
  for (std::size_t i = from; i < out.size(); ++i)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] + ('a' - 'A'));
  return out;
}

std::optional<user_type> parse_user_type_lenient(std::string_view s) {
  s = trim_ascii(s);
  if (auto t = parse_user_type(s)) return t;
  auto ieq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
      if (x != y) return false;
    }
    return true;
  };
  for (user_type t : {user_type::private_user, user_type::shared_device})
    if (ieq(s, to_string(t))) return t;
  return std::nullopt;
}

std::string report_cell(std::string_view v) {
  // A rejected line's raw value can be anything: cut it short and make every byte printable first.
  constexpr std::size_t cap = 256;
  static constexpr char hex[] = "0123456789abcdef";
  const bool utf8 = io::valid_utf8(v);
  const std::size_t n = std::min(v.size(), cap);
  std::string e;
  for (std::size_t i = 0; i < n; ++i) {
    auto u = static_cast<unsigned char>(v[i]);
    if (u < 0x20 || u == 0x7F || (u >= 0x80 && !utf8)) {
      e += "\\x";
      e += hex[u >> 4];
      e += hex[u & 15];
    } else if (u == '\\') {
      e += "\\\\";
    } else {
      e += static_cast<char>(u);
    }
  }
  if (v.size() > n) e += "...";
  std::string cell;
  csv_cell(cell, e);
  return cell;
}

}  // namespace onboard
