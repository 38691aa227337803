// refusal_watch_test.cpp: what makes a refusal systemic, and --max-failures' limits.
#include <onboard/dispatch/refusal_watch.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard::engine;
constexpr unsigned n = refusal_watch::systemic_after;

TEST(refusal_watch, the_first_refusals_all_alike_are_systemic) {
  refusal_watch w;
  for (unsigned i = 1; i < n; ++i) EXPECT_FALSE(w.on_refusal("BadRequestException", "no")) << i;
  EXPECT_TRUE(w.on_refusal("BadRequestException", "no"));
  EXPECT_TRUE(w.on_refusal("BadRequestException", "no"));  // every sender hears it
}

TEST(refusal_watch, a_success_first_makes_refusals_about_addresses) {
  refusal_watch w;
  EXPECT_FALSE(w.on_refusal("BadRequestException", "no"));
  w.on_success();
  for (unsigned i = 0; i < 2 * n; ++i) EXPECT_FALSE(w.on_refusal("BadRequestException", "no"));
}

TEST(refusal_watch, refusals_that_differ_are_about_addresses) {
  refusal_watch w;
  for (unsigned i = 1; i < n; ++i) EXPECT_FALSE(w.on_refusal("BadRequestException", "no"));
  EXPECT_FALSE(w.on_refusal("BadRequestException", "Value 'a@b.c' is not allowed"));
  for (unsigned i = 0; i < 2 * n; ++i) EXPECT_FALSE(w.on_refusal("BadRequestException", "no"));
  refusal_watch codes;
  EXPECT_FALSE(codes.on_refusal("BadRequestException", "no"));
  for (unsigned i = 0; i < 2 * n; ++i) EXPECT_FALSE(codes.on_refusal("ForbiddenException", "no"));
}

TEST(failure_limit, counts_and_percentages) {
  std::string why;
  auto count = parse_failure_limit("5", why);
  ASSERT_TRUE(count) << why;
  EXPECT_FALSE(count->reached(4, 1000));
  EXPECT_TRUE(count->reached(5, 5));
  auto share = parse_failure_limit("10%", why);
  ASSERT_TRUE(share) << why;
  EXPECT_FALSE(share->reached(5, 10));  // under the sample: not judged yet
  EXPECT_FALSE(share->reached(9, 100));
  EXPECT_TRUE(share->reached(10, 100));
  EXPECT_TRUE(parse_failure_limit("0.5%", why));
  EXPECT_FALSE(failure_limit{}.reached(1'000'000, 1'000'000));
}

TEST(failure_limit, bad_values_name_the_option_and_the_value) {
  for (const char* bad : {"", "0", "-1", "x", "5x", "%", "0%", "101%", "nan%", "1e400%"}) {
    std::string why;
    EXPECT_FALSE(parse_failure_limit(bad, why)) << bad;
    EXPECT_NE(why.find("--max-failures"), std::string::npos) << why;
    EXPECT_NE(why.find(std::string("'") + bad + "'"), std::string::npos) << why;
  }
}

}  // namespace
