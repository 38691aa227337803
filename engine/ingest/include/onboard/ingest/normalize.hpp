// onboard/ingest/normalize.hpp: turns one raw address from the corpus into the form that is sent
// and journaled, or a stable reason code saying why it cannot be sent.
//
//   std::string out;
//   auto why = onboard::normalize_email("  John.Smith@Example.COM ", out);  // reason::none
//   // out == "John.Smith@example.com"; the dedupe key (dedupe.hpp) is "john.smith@example.com"
//
// What is accepted is the intersection of what the Chime API accepts (`.+@.+\..+`) and what mail
// systems deliver to:
//   - surrounding ASCII whitespace is trimmed; any other space is `whitespace`, any byte < 0x20 or
//     0x7F is `control_char`;
//   - the address splits at its last '@'; none is `no_at`;
//   - local part: a dot-atom (RFC 5322 atext and single inner dots), 1..64 octets, case kept.
//     Quoted local parts ("john doe"@x.com) are rejected as `bad_local`: Chime's pattern takes
//     them but mail systems and SES disagree about them, they never occur in real rosters, and
//     their case/escape rules would make dedupe ambiguous.
//     Non-ASCII local parts (SMTPUTF8, RFC 6531) are rejected as `non_ascii_local`: Amazon's mail
//     path does not deliver to them, so inviting them only produces failed invites.
//   - domain: lowercased; internationalised domains are converted to punycode with libidn2
//     (UTS #46 non-transitional) only when a byte >= 0x80 is present; then 2+ labels of 1..63
//     letters/digits/hyphens, no hyphen at a label's ends, not an all-numeric top-level label
//     (no IP literals). Anything else is `bad_domain`.
//   - the whole address is at most 254 octets after conversion, else `too_long`.
// normalize_email(normalize_email(x)) == normalize_email(x) for every accepted x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <onboard/core/outcome.hpp>

namespace onboard {

// reason: why an input line was not accepted. The names (to_string) are stable: they appear in
// the rejects file, plan's JSON and the journal.
enum class reason : std::uint8_t {
  none,             // accepted
  empty,            // nothing but whitespace in the address field
  no_at,            // no '@'
  bad_local,        // local part empty, > 64 octets, quoted, or not a dot-atom
  bad_domain,       // domain empty, bad label, no dot, numeric TLD, IDN conversion failed
  too_long,         // address > 254 octets, or the line > the reader's limit (64 KiB)
  bad_utf8,         // the line is not valid UTF-8
  bad_csv,          // malformed CSV record (stray/unterminated quote, missing email field)
  control_char,     // a control byte (including NUL and TAB) inside a field
  whitespace,       // a space inside the address
  non_ascii_local,  // non-ASCII local part (SMTPUTF8), not deliverable through Chime
  bad_user_type,    // CSV user_type is neither PrivateUser nor SharedDevice
};

inline constexpr std::size_t reason_count = 12;

// to_string / parse_reason: the stable code of a reason ("" for none).
std::string_view to_string(reason r);
std::optional<reason> parse_reason(std::string_view s);

inline constexpr std::size_t max_email_octets = 254;
inline constexpr std::size_t max_local_octets = 64;
inline constexpr std::size_t max_label_octets = 63;

// normalize_email: the hot-path form. Writes the normalised address into out[0, len); `out` must
// hold max_email_octets bytes. Returns reason::none when accepted.
reason normalize_email(std::string_view raw, char* out, std::size_t& len);

namespace detail {
// normalize_email_bytewise: normalize_email without its fast path for short printable-ASCII
// addresses; the two must agree on every input (tests compare them).
reason normalize_email_bytewise(std::string_view raw, char* out, std::size_t& len);

// fast_path: the vectorised classifiers of that fast path. normalize_email uses the best one the
// CPU has (best_fast_path); tests and fuzzers run every available one against the byte-wise passes.
enum class fast_path : std::uint8_t { sse2, avx512 };
bool fast_path_available(fast_path p);
fast_path best_fast_path();
// normalize_email_via: normalize_email through fast path `p` (sse2 when `p` is unavailable).
reason normalize_email_via(fast_path p, std::string_view raw, char* out, std::size_t& len);
}  // namespace detail

// normalize_email: convenience form; `out` is the normalised address when reason::none.
reason normalize_email(std::string_view raw, std::string& out);

// dedupe_text: the text the dedupe key is computed from: the address with its domain lowercased
// and, unless case_sensitive_local, its local part lowercased too (mailbox names are
// case-insensitive in practice even though RFC 5321 allows otherwise).
std::string dedupe_text(std::string_view normalised_email, bool case_sensitive_local);

// trim_ascii: `s` without surrounding ASCII whitespace (space, \t, \r, \n, \v, \f).
std::string_view trim_ascii(std::string_view s) noexcept;

// parse_user_type_lenient: parse_user_type after trimming, also accepting any letter case
// ("privateuser"); nullopt for anything else.
std::optional<user_type> parse_user_type_lenient(std::string_view s);

// report_cell: `v` as a CSV cell for the rejects/duplicates files: control bytes (and every byte of
// invalid UTF-8) escaped as \xNN, backslash doubled, values cut at 256 bytes ("..."), then written
// by core's csv_cell (its one formula-neutralising rule, quoted when needed).
std::string report_cell(std::string_view v);

}  // namespace onboard
