// Tests for onboard::normalize_email, dedupe_text/key_of and report_cell: every reason code,
// length limits, IDN, and seeded property tests.
#include <onboard/ingest/dedupe.hpp>
#include <onboard/ingest/ingest.hpp>
#include <onboard/ingest/normalize.hpp>

#include <gtest/gtest.h>

#include <random>

namespace {

using onboard::normalize_email;
using onboard::reason;

reason why(std::string_view raw) {
  std::string out;
  return normalize_email(raw, out);
}

std::string norm(std::string_view raw) {
  std::string out;
  reason r = normalize_email(raw, out);
  EXPECT_EQ(r, reason::none) << "'" << raw << "' -> " << onboard::to_string(r);
  return out;
}

TEST(Normalize, TrimsAndLowercasesTheDomainOnly) {
  EXPECT_EQ(norm("  John.Smith@Example.COM \t\r"), "John.Smith@example.com");
  EXPECT_EQ(norm("a@b.co"), "a@b.co");
  EXPECT_EQ(norm("first+tag@sub.domain-1.example.org"), "first+tag@sub.domain-1.example.org");
  EXPECT_EQ(norm("!#$%&'*+-/=?^_`{|}~@x.io"), "!#$%&'*+-/=?^_`{|}~@x.io");
  EXPECT_EQ(norm("x@123.example.com"), "x@123.example.com");
  EXPECT_EQ(norm("x@xn--bcher-kva.DE"), "x@xn--bcher-kva.de");
}

TEST(Normalize, EveryAddressReasonCode) {
  EXPECT_EQ(why(""), reason::empty);
  EXPECT_EQ(why(" \t "), reason::empty);
  EXPECT_EQ(why("john.example.com"), reason::no_at);
  EXPECT_EQ(why("@example.com"), reason::bad_local);
  EXPECT_EQ(why(".john@example.com"), reason::bad_local);
  EXPECT_EQ(why("john.@example.com"), reason::bad_local);
  EXPECT_EQ(why("jo..hn@example.com"), reason::bad_local);
  EXPECT_EQ(why("jo(hn)@example.com"), reason::bad_local);
  EXPECT_EQ(why("a@b@example.com"), reason::bad_local);
  EXPECT_EQ(why("\"john doe\"@example.com"), reason::bad_local);  // quoted: documented choice
  EXPECT_EQ(why("\"john\"@example.com"), reason::bad_local);
  EXPECT_EQ(why("john@"), reason::bad_domain);
  EXPECT_EQ(why("john@localhost"), reason::bad_domain);
  EXPECT_EQ(why("john@example..com"), reason::bad_domain);
  EXPECT_EQ(why("john@.example.com"), reason::bad_domain);
  EXPECT_EQ(why("john@example.com."), reason::bad_domain);
  EXPECT_EQ(why("john@-example.com"), reason::bad_domain);
  EXPECT_EQ(why("john@example-.com"), reason::bad_domain);
  EXPECT_EQ(why("john@exa_mple.com"), reason::bad_domain);
  EXPECT_EQ(why("john@[192.168.0.1]"), reason::bad_domain);
  EXPECT_EQ(why("john@192.168.0.1"), reason::bad_domain);  // numeric TLD
  EXPECT_EQ(why("john@exa\xE2\x98\x83"
                "mple.com"),
            reason::bad_domain);  // ☃: disallowed
  EXPECT_EQ(why("john@ex ample.com"), reason::whitespace);
  EXPECT_EQ(why("jo hn@example.com"), reason::whitespace);
  EXPECT_EQ(why(std::string_view("jo\0hn@example.com", 17)), reason::control_char);
  EXPECT_EQ(why("jo\thn@example.com"), reason::control_char);
  EXPECT_EQ(why("jo\x7Fhn@example.com"), reason::control_char);
  EXPECT_EQ(why("jo\x1B[31mhn@example.com"), reason::control_char);
  EXPECT_EQ(why("j\xC3\xBCrgen@example.com"), reason::non_ascii_local);
  EXPECT_EQ(why("bad\xC3(@example.com"), reason::bad_utf8);
  EXPECT_EQ(why(std::string(250, 'a') + "@example.com"), reason::bad_local);
}

TEST(Normalize, LengthLimits) {
  std::string local64(64, 'l');
  std::string label63(63, 'd');
  EXPECT_EQ(why(local64 + "@x.com"), reason::none);
  EXPECT_EQ(why(local64 + "l@x.com"), reason::bad_local);
  EXPECT_EQ(why("a@" + label63 + ".com"), reason::none);
  EXPECT_EQ(why("a@" + label63 + "d.com"), reason::bad_domain);
  // 254 octets in all is the limit: 64 + 1 + 189 (3 labels of 62 + dots + "com" fill it exactly).
  std::string dom =
      std::string(61, 'a') + "." + std::string(61, 'b') + "." + std::string(61, 'c') + ".com";
  std::string addr = local64 + "@" + dom;
  ASSERT_EQ(addr.size(), 254u);
  EXPECT_EQ(why(addr), reason::none);
  EXPECT_EQ(why(local64 + "@" + "x" + dom), reason::too_long);
}

TEST(Normalize, InternationalDomainsBecomePunycode) {
  EXPECT_EQ(norm("user@b\xC3\xBC"
                 "cher.de"),
            "user@xn--bcher-kva.de");
  EXPECT_EQ(norm("User@B\xC3\x9C"
                 "CHER.DE"),
            "User@xn--bcher-kva.de");  // UTS 46 lowercases Ü
  EXPECT_EQ(norm("a@\xE4\xBE\x8B\xE5\xAD\x90.\xE6\xB5\x8B\xE8\xAF\x95"),
            "a@xn--fsqu00a.xn--0zwm56d");
  EXPECT_EQ(norm("a@fa\xC3\x9F.de"), "a@xn--fa-hia.de");  // nontransitional: ß is kept
  std::string out;
  ASSERT_EQ(normalize_email("a@b\xC3\xBC"
                            "cher.de",
                            out),
            reason::none);
  std::string again;
  EXPECT_EQ(normalize_email(out, again), reason::none);
  EXPECT_EQ(again, out);
}

TEST(Normalize, ReasonNamesAreStableAndRoundTrip) {
  const char* names[] = {"empty",      "no_at",           "bad_local",    "bad_domain",
                         "too_long",   "bad_utf8",        "bad_csv",      "control_char",
                         "whitespace", "non_ascii_local", "bad_user_type"};
  for (std::size_t i = 0; i < std::size(names); ++i) {
    auto r = static_cast<reason>(i + 1);
    EXPECT_EQ(onboard::to_string(r), names[i]);
    EXPECT_EQ(onboard::parse_reason(names[i]), r);
  }
  EXPECT_EQ(onboard::parse_reason("nope"), std::nullopt);
}

TEST(Normalize, DedupeKeyFoldsCaseUnlessCaseSensitiveLocal) {
  using onboard::key_of;
  EXPECT_EQ(key_of("John@example.com", false), key_of("john@EXAMPLE.com", false));
  EXPECT_NE(key_of("John@example.com", true), key_of("john@example.com", true));
  EXPECT_EQ(key_of("John@example.com", true), key_of("John@EXAMPLE.COM", true));
  EXPECT_NE(key_of("john@example.com", false), key_of("john@example.org", false));
  EXPECT_EQ(onboard::dedupe_text("John@Example.com", false), "john@example.com");
  EXPECT_EQ(onboard::dedupe_text("John@Example.com", true), "John@example.com");
}

TEST(Normalize, UserTypeParsing) {
  using onboard::parse_user_type_lenient;
  using onboard::user_type;
  EXPECT_EQ(parse_user_type_lenient(" PrivateUser "), user_type::private_user);
  EXPECT_EQ(parse_user_type_lenient("shareddevice"), user_type::shared_device);
  EXPECT_EQ(parse_user_type_lenient(""), user_type::unspecified);
  EXPECT_EQ(parse_user_type_lenient("Admin"), std::nullopt);
}

TEST(ReportCell, NeutralisesFormulasAndEscapesControlBytes) {
  using onboard::report_cell;
  EXPECT_EQ(report_cell("a@x.com"), "a@x.com");
  EXPECT_EQ(report_cell("=cmd|'/c calc'!A1"), "'=cmd|'/c calc'!A1");
  EXPECT_EQ(report_cell("+1"), "'+1");
  EXPECT_EQ(report_cell("-1"), "'-1");
  EXPECT_EQ(report_cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(report_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(report_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(report_cell(std::string_view("a\0b\r\n\x1b", 6)), "a\\x00b\\x0d\\x0a\\x1b");
  EXPECT_EQ(report_cell("back\\slash"), "back\\\\slash");
  EXPECT_EQ(report_cell("bad\xC3("), "bad\\xc3(");
  EXPECT_EQ(report_cell("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(report_cell(std::string(300, 'x')), std::string(256, 'x') + "...");
}

// random_valid: a random address that must be accepted, and what it must normalise to.
std::pair<std::string, std::string> random_valid(std::mt19937_64& rng) {
  static const std::string atext =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";
  static const std::string ldh = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  auto pick = [&](const std::string& s) { return s[rng() % s.size()]; };
  std::string local;
  std::size_t atoms = 1 + rng() % 3;
  for (std::size_t a = 0; a < atoms; ++a) {
    if (a) local += '.';
    std::size_t n = 1 + rng() % 12;
    for (std::size_t i = 0; i < n; ++i) local += pick(atext);
  }
  std::string domain, expect_domain;
  std::size_t labels = 2 + rng() % 3;
  for (std::size_t l = 0; l < labels; ++l) {
    if (l) domain += '.';
    std::size_t n = 1 + rng() % 15;
    std::string label;
    for (std::size_t i = 0; i < n; ++i) {
      char c = pick(ldh);
      if ((i == 0 || i + 1 == n) && c == '-') c = 'q';
      label += c;
    }
    if (l + 1 == labels) label += 'z';  // top-level label not all digits
    domain += label;
  }
  for (char c : domain) expect_domain += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  std::string raw =
      std::string(rng() % 3, ' ') + local + "@" + domain + std::string(rng() % 3, '\t');
  return {raw, local + "@" + expect_domain};
}

TEST(NormalizeProperty, RandomValidAddressesRoundTrip) {
  std::mt19937_64 rng(0xC0FFEE);
  for (int i = 0; i < 100000; ++i) {
    auto [raw, expect] = random_valid(rng);
    std::string once, twice;
    ASSERT_EQ(normalize_email(raw, once), reason::none) << raw;
    ASSERT_EQ(once, expect) << raw;
    ASSERT_EQ(normalize_email(once, twice), reason::none) << once;
    ASSERT_EQ(twice, once);
    ASSERT_EQ(onboard::key_of(once, false), onboard::key_of(twice, false));
    ASSERT_EQ(onboard::key_of(once, true), onboard::key_of(twice, true));
    ASSERT_EQ(onboard::key_of(once, false),
              onboard::key_of(onboard::dedupe_text(once, false), false));
  }
}

TEST(NormalizeProperty, RandomBytesNeverCrashAndAcceptedOutputIsStable) {
  std::mt19937_64 rng(42);
  const std::string alphabet = std::string("aB9.@-_ \t\"\x01\x7F\xC3\xA9\xFF", 15);
  for (int i = 0; i < 100000; ++i) {
    std::string raw;
    std::size_t n = rng() % 40;
    for (std::size_t k = 0; k < n; ++k) raw += alphabet[rng() % alphabet.size()];
    std::string once, twice;
    if (normalize_email(raw, once) != reason::none) continue;
    ASSERT_LE(once.size(), onboard::max_email_octets);
    ASSERT_EQ(normalize_email(once, twice), reason::none) << once;
    ASSERT_EQ(twice, once);
    ASSERT_EQ(onboard::key_of(once, false), onboard::key_of(twice, false));
  }
}

// The vectorised path for short printable-ASCII addresses must agree with the byte-wise passes
// on every input: same reason, same output. Random strings over an alphabet dense in the bytes the
// rules care about, around the 16/32/48/64-byte chunk edges where the masks are stitched together.
// Every fast path this CPU has is checked, whichever normalize_email picked.
class FastPath : public ::testing::TestWithParam<onboard::detail::fast_path> {
 protected:
  void SetUp() override {
    if (!onboard::detail::fast_path_available(GetParam()))
      GTEST_SKIP() << "this CPU lacks the instructions of this fast path";
  }
};

INSTANTIATE_TEST_SUITE_P(Normalize, FastPath,
                         ::testing::Values(onboard::detail::fast_path::sse2,
                                           onboard::detail::fast_path::avx512),
                         [](const ::testing::TestParamInfo<onboard::detail::fast_path>& p) {
                           return p.param == onboard::detail::fast_path::sse2 ? "sse2" : "avx512";
                         });

TEST(NormalizeFastPath, TheBestAvailableOneIsUsed) {
  using onboard::detail::fast_path;
  EXPECT_TRUE(onboard::detail::fast_path_available(fast_path::sse2));
  EXPECT_TRUE(onboard::detail::fast_path_available(onboard::detail::best_fast_path()));
  if (onboard::detail::fast_path_available(fast_path::avx512)) {
    EXPECT_EQ(onboard::detail::best_fast_path(), fast_path::avx512);
  }
}

TEST_P(FastPath, AgreesWithTheBytewisePasses) {
  std::mt19937_64 rng(7);
  const std::string alphabet = "aZ09.-@_+\"(),:;<>[]\\`{}~!#$%&'*/=?^| \t";
  const auto path = GetParam();
  auto check = [path](const std::string& raw) {
    char a[onboard::max_email_octets], b[onboard::max_email_octets], c[onboard::max_email_octets];
    std::size_t la = 0, lb = 0, lc = 0;
    reason ra = onboard::detail::normalize_email_via(path, raw, a, la);
    reason rb = onboard::detail::normalize_email_bytewise(raw, b, lb);
    reason rc = normalize_email(raw, c, lc);
    ASSERT_EQ(ra, rb) << raw;
    ASSERT_EQ(rc, rb) << raw;
    if (ra == reason::none) {
      ASSERT_EQ(std::string_view(a, la), std::string_view(b, lb)) << raw;
      ASSERT_EQ(std::string_view(c, lc), std::string_view(b, lb)) << raw;
    }
  };
  // Every ASCII byte, and a few high ones, at every position of a valid address, at the lengths
  // where chunks meet: each byte class must reach the same verdict as the class table.
  for (std::size_t len : {6u, 15u, 16u, 17u, 31u, 32u, 33u, 63u, 64u, 65u}) {
    std::string base(len - 6, 'a');
    base += "@ab.cd";
    for (std::size_t pos = 0; pos < len; ++pos)
      for (int byte : {0, 9, 31, 32, 33, 46, 64, 65, 90, 91, 126, 127, 128, 195, 255}) {
        std::string raw = base;
        raw[pos] = static_cast<char>(byte);
        check(raw);
      }
    for (int byte = 0; byte < 256; ++byte) {
      std::string raw = base;
      raw[0] = static_cast<char>(byte);
      check(raw);
      raw = base;
      raw[len - 2] = static_cast<char>(byte);
      check(raw);
    }
  }
  for (int i = 0; i < 300000; ++i) {
    std::string raw;
    std::size_t n = rng() % 72;
    for (std::size_t k = 0; k < n; ++k) raw += alphabet[rng() % alphabet.size()];
    check(raw);
  }
  // Mostly-valid shapes (so acceptance paths are taken often) with one mutation.
  const std::string label_chars = "abcXYZ019-";
  for (int i = 0; i < 300000; ++i) {
    std::string raw(1 + rng() % 30, 'x');
    for (auto& c : raw) c = label_chars[rng() % 7];
    raw += '@';
    for (int labels = 2 + static_cast<int>(rng() % 3); labels > 0; --labels) {
      std::size_t len = 1 + rng() % 12;
      for (std::size_t k = 0; k < len; ++k) raw += label_chars[rng() % label_chars.size()];
      if (labels > 1) raw += '.';
    }
    if (rng() % 2) raw[rng() % raw.size()] = alphabet[rng() % alphabet.size()];
    check(raw);
  }
}

}  // namespace
