// canonical.cpp: the SigV4 canonicalisation rules (see canonical.hpp), allocation-free in steady
// state: scratch space is per thread and only grows.
#include "canonical.hpp"

#include "crypto.hpp"

#include <algorithm>
#include <chrono>

namespace onboard::signing::detail {
namespace {

constexpr bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// lower_less: ASCII case-insensitive ordering of header names.
bool lower_less(std::string_view a, std::string_view b) {
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    char x = to_lower(a[i]), y = to_lower(b[i]);
    if (x != y) return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
  }
  return a.size() < b.size();
}

void append_2digits(char* p, unsigned v) {
  p[0] = char('0' + v / 10);
  p[1] = char('0' + v % 10);
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

void split_target(std::string_view target, std::string_view& path, std::string_view& query) {
  std::size_t q = target.find('?');
  path = target.substr(0, q);
  query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

void append_lower(std::string& out, std::string_view s) {
  for (char c : s) out.push_back(to_lower(c));
}

void append_trimmed_value(std::string& out, std::string_view value) {
  bool pending_space = false;
  bool wrote = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = wrote;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    wrote = true;
    out.push_back(c);
  }
}

void append_uri_encode(std::string& out, std::string_view s, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
}

void append_uri_decode(std::string& out, std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
}

void append_normalized_path(std::string& out, std::string_view path) {
  if (path.empty()) {
    out.push_back('/');
    return;
  }
  thread_local std::vector<std::string_view> segments;
  segments.clear();
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  if (path.front() == '/') out.push_back('/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
}

void append_canonical_path(std::string& out, std::string_view path, bool normalize,
                           bool double_encode) {
  if (path.empty()) path = "/";
  if (!normalize && !double_encode) {
    out.append(path);
    return;
  }
  if (!double_encode) {
    append_normalized_path(out, path);
    return;
  }
  thread_local std::string normalized;
  normalized.clear();
  if (normalize)
    append_normalized_path(normalized, path);
  else
    normalized.assign(path);
  append_uri_encode(out, normalized, true);
}

void append_canonical_query(std::string& out, std::string_view query) {
  if (query.empty()) return;
  // Offsets into `arena` rather than views: the arena may reallocate while it is filled.
  struct param {
    std::size_t key_at, key_len, value_at, value_len;
  };
  thread_local std::string arena;
  thread_local std::string decoded;
  thread_local std::vector<param> params;
  arena.clear();
  params.clear();
  auto encode_part = [&](std::string_view raw, std::size_t& at, std::size_t& len) {
    decoded.clear();
    append_uri_decode(decoded, raw);
    at = arena.size();
    append_uri_encode(arena, decoded, false);
    len = arena.size() - at;
  };
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view piece = query.substr(start, end - start);
    start = end + 1;
    if (piece.empty()) continue;
    std::size_t eq = piece.find('=');
    param p{};
    encode_part(piece.substr(0, eq), p.key_at, p.key_len);
    encode_part(eq == std::string_view::npos ? std::string_view{} : piece.substr(eq + 1),
                p.value_at, p.value_len);
    params.push_back(p);
  }
  const std::string& a = arena;
  std::sort(params.begin(), params.end(), [&a](const param& x, const param& y) {
    std::string_view xk(a.data() + x.key_at, x.key_len), yk(a.data() + y.key_at, y.key_len);
    if (xk != yk) return xk < yk;
    return std::string_view(a.data() + x.value_at, x.value_len) <
           std::string_view(a.data() + y.value_at, y.value_len);
  });
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i) out.push_back('&');
    out.append(a, params[i].key_at, params[i].key_len);
    out.push_back('=');
    out.append(a, params[i].value_at, params[i].value_len);
  }
}

void sort_headers(std::vector<header_view>& hs) {
  // Insertion sort: stable, allocation-free, and fastest for the dozen headers a request carries.
  if (hs.size() > 64) {
    std::stable_sort(hs.begin(), hs.end(), [](const header_view& x, const header_view& y) {
      return lower_less(x.name, y.name);
    });
    return;
  }
  for (std::size_t i = 1; i < hs.size(); ++i) {
    header_view h = hs[i];
    std::size_t j = i;
    while (j > 0 && lower_less(h.name, hs[j - 1].name)) {
      hs[j] = hs[j - 1];
      --j;
    }
    hs[j] = h;
  }
}

void append_canonical_headers(std::string& out, std::span<const header_view> sorted) {
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    bool same_as_previous = i > 0 && iequals(sorted[i].name, sorted[i - 1].name);
    if (same_as_previous) {
      out.push_back(',');
    } else {
      if (i) out.push_back('\n');
      append_lower(out, sorted[i].name);
      out.push_back(':');
    }
    append_trimmed_value(out, sorted[i].value);
  }
  if (!sorted.empty()) out.push_back('\n');
}

void append_signed_headers(std::string& out, std::span<const header_view> sorted) {
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && iequals(sorted[i].name, sorted[i - 1].name)) continue;
    if (i) out.push_back(';');
    append_lower(out, sorted[i].name);
  }
}

void append_string_to_sign(std::string& out, std::string_view amz_date, std::string_view scope,
                           std::string_view canonical) {
  digest d;
  sha256(canonical, d);
  out.append(algorithm);
  out.push_back('\n');
  out.append(amz_date);
  out.push_back('\n');
  out.append(scope);
  out.push_back('\n');
  append_hex(out, d.data(), d.size());
}

void format_amz_date(clock::time_point t, char (&out)[16]) {
  using namespace std::chrono;
  auto secs = floor<seconds>(t);
  auto day = floor<days>(secs);
  year_month_day ymd{day};
  hh_mm_ss hms{secs - day};
  int y = static_cast<int>(ymd.year());
  out[0] = char('0' + (y / 1000) % 10);
  out[1] = char('0' + (y / 100) % 10);
  out[2] = char('0' + (y / 10) % 10);
  out[3] = char('0' + y % 10);
  append_2digits(out + 4, static_cast<unsigned>(ymd.month()));
  append_2digits(out + 6, static_cast<unsigned>(ymd.day()));
  out[8] = 'T';
  append_2digits(out + 9, static_cast<unsigned>(hms.hours().count()));
  append_2digits(out + 11, static_cast<unsigned>(hms.minutes().count()));
  append_2digits(out + 13, static_cast<unsigned>(hms.seconds().count()));
  out[15] = 'Z';
}

void append_authorization(std::string& out, std::string_view access_key_id, std::string_view scope,
                          std::string_view signed_headers, std::string_view signature) {
  out.append(algorithm);
  out.append(" Credential=");
  out.append(access_key_id);
  out.push_back('/');
  out.append(scope);
  out.append(", SignedHeaders=");
  out.append(signed_headers);
  out.append(", Signature=");
  out.append(signature);
}

void derive_key_bytes(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                      std::string_view service, std::array<std::uint8_t, 32>& out) {
  std::string seed;
  seed.reserve(4 + secret.size());
  seed.append("AWS4");
  seed.append(secret);
  digest k_date, k_region, k_service;
  hmac_sha256(seed.data(), seed.size(), yyyymmdd, k_date);
  wipe(seed.data(), seed.size());
  hmac_sha256(k_date.data(), k_date.size(), region, k_region);
  hmac_sha256(k_region.data(), k_region.size(), service, k_service);
  hmac_sha256(k_service.data(), k_service.size(), "aws4_request", out);
  wipe(k_date.data(), k_date.size());
  wipe(k_region.data(), k_region.size());
  wipe(k_service.data(), k_service.size());
}

}  // namespace onboard::signing::detail
