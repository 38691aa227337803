// canonical.hpp (internal): the SigV4 canonicalisation rules, one small function per rule, all
// appending into caller-owned buffers so the signer and verifier can reuse per-thread storage.
#pragma once

#include <onboard/signing/sigv4.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::signing::detail {

inline constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view empty_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// is_space: the whitespace Trimall folds (as botocore's str.split()).
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

// iequals: ASCII case-insensitive equality (header names).
bool iequals(std::string_view a, std::string_view b);

// split_target: the path and query parts of a request-target (query without the '?').
void split_target(std::string_view target, std::string_view& path, std::string_view& query);

// append_lower: appends `s` lower-cased (header names).
void append_lower(std::string& out, std::string_view s);

// append_trimmed_value: appends a header value trimmed, inner whitespace runs folded to one space.
void append_trimmed_value(std::string& out, std::string_view value);

// append_uri_encode: AWS URI encoding of `s` (unreserved kept, the rest %XX upper-case).
void append_uri_encode(std::string& out, std::string_view s, bool keep_slash);

// append_uri_decode: percent-decodes `s`; malformed escapes are kept literally ('+' stays '+').
void append_uri_decode(std::string& out, std::string_view s);

// append_normalized_path: RFC 3986 dot-segment removal plus collapsing of empty segments, keeping
// a leading and (when anything remains) a trailing slash.
void append_normalized_path(std::string& out, std::string_view path);

// append_canonical_path: stage-1 path line: normalised (optional), then encoded again (optional).
void append_canonical_path(std::string& out, std::string_view path, bool normalize,
                           bool double_encode);

// append_canonical_query: every parameter decoded and re-encoded, sorted by key then value;
// a parameter without '=' gets an empty value.
void append_canonical_query(std::string& out, std::string_view query);

// sort_headers: stable sort by lower-cased name, so duplicates keep their wire order.
void sort_headers(std::vector<header_view>& hs);

// append_canonical_headers: "name:v1,v2\n" per distinct name of the sorted `hs`.
void append_canonical_headers(std::string& out, std::span<const header_view> sorted);

// append_signed_headers: distinct lower-case names of the sorted `hs`, ';'-joined.
void append_signed_headers(std::string& out, std::span<const header_view> sorted);

// append_string_to_sign: stage 2 from the canonical request's text.
void append_string_to_sign(std::string& out, std::string_view amz_date, std::string_view scope,
                           std::string_view canonical);

// format_amz_date: writes "YYYYMMDDTHHMMSSZ" (16 chars) into `out`.
void format_amz_date(clock::time_point t, char (&out)[16]);

// append_authorization: stage 4.
void append_authorization(std::string& out, std::string_view access_key_id, std::string_view scope,
                          std::string_view signed_headers, std::string_view signature);

// derive_key_bytes: the HMAC chain into `out`, wiping the intermediate keys.
void derive_key_bytes(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                      std::string_view service, std::array<std::uint8_t, 32>& out);

}  // namespace onboard::signing::detail
