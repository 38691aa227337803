// Tests for core's text rules: the one CSV cell rule (neutralising and quoting), JSON string
// escaping, case-insensitive compare, the same-address key and duration formatting.
#include <onboard/core/log.hpp>
#include <onboard/core/text.hpp>

#include <gtest/gtest.h>

#include <string>

namespace onboard {
namespace {

std::string cell(std::string_view v) {
  std::string out;
  csv_cell(out, v);
  return out;
}

std::string json(std::string_view v) {
  std::string out;
  json_string(out, v);
  return out;
}

TEST(text, a_cell_a_spreadsheet_would_run_is_neutralised) {
  EXPECT_EQ(cell("a@x.com"), "a@x.com");
  for (std::string_view v : {"=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"})
    EXPECT_EQ(cell(v).find('\''), v.front() == '\r' ? 1u : 0u) << v;
  EXPECT_EQ(cell("=cmd"), "'=cmd");
}

TEST(text, a_cell_is_quoted_only_when_it_must_be) {
  EXPECT_EQ(cell("a,b"), "\"a,b\"");
  EXPECT_EQ(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(cell(" padded"), "\" padded\"");
  EXPECT_EQ(cell("plain"), "plain");
  EXPECT_EQ(cell("=a,b"), "\"'=a,b\"");
}

TEST(text, json_strings_escape_controls_and_replace_invalid_utf8) {
  EXPECT_EQ(json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json("\n\t\x01"), "\"\\n\\t\\u0001\"");
  EXPECT_EQ(json("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(json("bad\xC3("), "\"bad\xEF\xBF\xBD(\"");
  EXPECT_EQ(json("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // a surrogate
}

TEST(text, iequals_folds_ascii_only) {
  EXPECT_TRUE(iequals("X-Amzn-RequestId", "x-amzn-requestid"));
  EXPECT_FALSE(iequals("abc", "abd"));
  EXPECT_FALSE(iequals("abc", "ab"));
  EXPECT_FALSE(iequals("\xC3\x89", "\xC3\xA9"));
  EXPECT_EQ(ascii_lower("MiXeD@Example.COM"), "mixed@example.com");
}

TEST(text, the_same_address_has_one_key) {
  // Whole address folded by default; only the domain with case-sensitive local parts.
  EXPECT_EQ(address_key("Ann@Example.COM", false), "ann@example.com");
  EXPECT_EQ(address_key("Ann@Example.COM", true), "Ann@example.com");
  EXPECT_EQ(address_key("ann@example.com", false), address_key("ANN@example.com", false));
  EXPECT_NE(address_key("ann@example.com", true), address_key("ANN@example.com", true));
  // The domain starts after the last '@' (a quoted local part may hold one).
  EXPECT_EQ(address_key("\"A@B\"@X.ORG", true), "\"A@B\"@x.org");
  // Only ASCII letters fold: a UTF-8 local part is compared as written.
  EXPECT_EQ(address_key("\xC3\x89lise@X.fr", false), "\xC3\x89lise@x.fr");
  // Without '@' (never a normalised address) the whole text folds, as ingest's key does.
  EXPECT_EQ(address_key("NoAt", true), "noat");
  EXPECT_EQ(address_key("", false), "");
}

TEST(text, durations_read_as_a_person_would_say_them) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(42.4), "42s");
  EXPECT_EQ(format_duration(187), "3m07s");
  EXPECT_EQ(format_duration(2 * 3600 + 5 * 60), "2h05m");
  EXPECT_EQ(format_duration(27 * 3600), "1d03h");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(text, redaction_hides_an_address_behind_a_stable_tag) {
  EXPECT_EQ(log_email("ann@x.com"), "ann@x.com");
  set_log_redaction(true);
  const std::string tag = log_email("ann@x.com");
  EXPECT_EQ(tag.rfind("email#", 0), 0u);
  EXPECT_EQ(tag, log_email("ann@x.com"));
  EXPECT_NE(tag, log_email("bob@x.com"));
  set_log_redaction(false);
}

}  // namespace
}  // namespace onboard
