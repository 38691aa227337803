// fuzz_regressions_test.cpp: inputs found by tests/fuzz/ (fuzz_sigv4_verify), kept fixed. Each
// input is also in tests/fuzz/corpus/sigv4_verify/.
#include <onboard/signing/sigv4.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace sg = onboard::signing;

// corpus/sigv4_verify/regress-amz-date-year-7015: X-Amz-Date 70150830T121600Z reached
// time_point_cast<nanoseconds> of year 7015, a signed overflow (UBSan). Years the clock cannot
// hold are now a malformed date.
TEST(fuzz_regressions, amz_date_years_beyond_the_clock_are_malformed_not_overflow) {
  EXPECT_FALSE(sg::parse_amz_date("70150830T121600Z"));
  EXPECT_FALSE(sg::parse_amz_date("99991231T235959Z"));
  EXPECT_FALSE(sg::parse_amz_date("00000101T000000Z"));
  EXPECT_FALSE(sg::parse_amz_date("16000101T000000Z"));
  auto t = sg::parse_amz_date("20150830T123600Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(sg::amz_date(*t), "20150830T123600Z");
  EXPECT_TRUE(sg::parse_amz_date("21991231T235959Z"));

  sg::credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = sg::secret_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  sg::verifier v({c}, "us-east-1", "chime");
  const std::string auth =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/70150830/us-east-1/chime/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
      std::string(64, '0');
  std::vector<sg::header_view> h = {
      {"Host", "127.0.0.1"}, {"X-Amz-Date", "70150830T121600Z"}, {"Authorization", auth}};
  auto r = v.verify({"GET", "/accounts/acct-1/users", h, ""},
                    sg::clock::time_point(std::chrono::seconds(1440938160)));
  EXPECT_EQ(r.error, sg::verify_error::malformed_date)
      << sg::verify_error_name(r.error) << ": " << r.message;
}

}  // namespace
