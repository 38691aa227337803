// onboard/core/text.hpp: the small text rules every stage shares, each written once.
//
//   std::string row;
//   onboard::csv_cell(row, "=cmd()");     // '=cmd() (a spreadsheet will not run it)
//   onboard::json_string(row, "a\"b");    // "a\"b"
//   onboard::iequals("X-Amzn-RequestId", "x-amzn-requestid");  // true
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace onboard {

// ascii_lower: `s` with A-Z lowered; every other byte as it is.
std::string ascii_lower(std::string_view s);

// iequals: ASCII case-insensitive equality (header names, addresses as the service echoes them).
bool iequals(std::string_view a, std::string_view b) noexcept;

// address_key: the project's one rule for "the same address": two normalised addresses are the
// same person exactly when their keys are equal. ASCII letters are lowered in the domain always,
// and in the local part too unless case_sensitive_local (RFC 5321 lets a mailbox be
// case-sensitive; in practice none is). The domain starts after the last '@'; without one the
// whole text is lowered. Ingest's hashed dedupe keys and the journal's replay fold the same way
// in their own fast code, held to this rule by tests (tests/engine/cli/in_doubt_e2e_test.cpp).
std::string address_key(std::string_view normalised_email, bool case_sensitive_local);

// utf8_length: the length of the valid UTF-8 sequence at s[i], or 0 when it is not valid
// (overlong forms, surrogates and code points past U+10FFFF are not valid).
std::size_t utf8_length(std::string_view s, std::size_t i) noexcept;

// csv_cell: appends `cell` as one CSV field. The one formula-neutralising rule of the project: a
// cell starting with = + - @, TAB or CR is prefixed with ' so that a spreadsheet shows it instead
// of running it (io's corpus reader strips exactly this prefix when a report is fed back in).
// Quoted when it holds a comma, quote, CR or LF, or starts or ends with a space.
void csv_cell(std::string& out, std::string_view cell);

// json_string: appends `s` as a JSON string literal; invalid UTF-8 becomes U+FFFD.
void json_string(std::string& out, std::string_view s);

// format_duration: "42s", "3m07s", "2h05m", "1d03h"; "?" for a negative or infinite time.
std::string format_duration(double seconds);

}  // namespace onboard
