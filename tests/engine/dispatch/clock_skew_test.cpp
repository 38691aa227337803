// clock_skew_test.cpp: which refusals a wrong clock explains, and the offset learnt from Date.
#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/retry_policy.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard::engine;
using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

const sys::time_point server_now = *parse_http_date("Mon, 07 Dec 2026 12:00:00 GMT");
constexpr std::string_view server_date = "Mon, 07 Dec 2026 12:00:00 GMT";
constexpr std::string_view expired_body =
    R"x({"Code":"InvalidSignatureException","Message":"Signature expired: 20261207T114000Z is now )x"
    R"x(earlier than 20261207T115500Z (20261207T120000Z - 5 min.)"})x";

TEST(clock_skew, recognises_the_refusals_of_a_signing_time) {
  EXPECT_TRUE(signing_time_refused({403, "InvalidSignatureException", expired_body, {}}));
  EXPECT_TRUE(signing_time_refused(
      {403,
       "InvalidSignatureException:http://internal.amazon.com/",
       R"({"message":"Signature not yet current: 20261207T121000Z is still later than ..."})",
       {}}));
  EXPECT_TRUE(signing_time_refused({403, "RequestTimeTooSkewed", "{}", {}}));
  EXPECT_TRUE(signing_time_refused({400, "RequestExpired", "{}", {}}));
  EXPECT_TRUE(signing_time_refused({400, "requestinthefuture", "{}", {}}));
  // Bad credentials, and a message that only looks alike on a 5xx, are not.
  EXPECT_FALSE(signing_time_refused(
      {401, "UnauthorizedClientException", R"({"Message":"The security token ..."})", {}}));
  EXPECT_FALSE(signing_time_refused({403,
                                     "InvalidSignatureException",
                                     R"({"Message":"The request signature we calculated ..."})",
                                     {}}));
  EXPECT_FALSE(signing_time_refused({500, "", expired_body, {}}));
}

TEST(clock_skew, a_signing_time_refusal_learns_the_service_time_from_date) {
  // Our clock is 10 minutes slow (received at 11:50:00.7 by it): the offset is +600 s, the
  // sub-second part of our clock dropped as Date drops the service's.
  const refusal r{403, "InvalidSignatureException", expired_body, server_date};
  auto fix = skew_correction(r, server_now - 600s + 700ms, 0ms);
  ASSERT_TRUE(fix);
  EXPECT_EQ(*fix, 600'000ms);
  // 10 minutes fast: negative.
  fix = skew_correction(r, server_now + 600s, 0ms);
  ASSERT_TRUE(fix);
  EXPECT_EQ(*fix, -600'000ms);
  // Already signed with that offset (another sender learnt it): nothing more to correct.
  EXPECT_FALSE(skew_correction(r, server_now - 600s, 600'000ms));
  EXPECT_FALSE(skew_correction(r, server_now - 600s, 599'000ms));
  // No Date, or one that does not parse: nothing to learn from.
  EXPECT_FALSE(skew_correction({403, "RequestTimeTooSkewed", "{}", {}}, server_now - 600s, 0ms));
  EXPECT_FALSE(
      skew_correction({403, "RequestTimeTooSkewed", "{}", "yesterday"}, server_now - 600s, 0ms));
}

TEST(clock_skew, a_bare_401_or_403_counts_only_when_date_is_off_by_more_than_the_window_allows) {
  const refusal bad_key{401, "UnauthorizedClientException", R"({"Message":"..."})", server_date};
  // A right clock, or one off by a minute (inside the service's 5-minute window): the
  // credentials are to blame, not the clock.
  EXPECT_FALSE(skew_correction(bad_key, server_now, 0ms));
  EXPECT_FALSE(skew_correction(bad_key, server_now - 60s, 0ms));
  // Off by 10 minutes: the clock explains it (front ends that word it otherwise).
  auto fix = skew_correction(bad_key, server_now - 600s, 0ms);
  ASSERT_TRUE(fix);
  EXPECT_EQ(*fix, 600'000ms);
  // Other statuses are never the clock.
  EXPECT_FALSE(
      skew_correction({404, "NotFoundException", "{}", server_date}, server_now - 600s, 0ms));
  EXPECT_FALSE(skew_correction({200, "", "{}", server_date}, server_now - 600s, 0ms));
}

TEST(clock_skew, a_signing_time_refusal_is_resent_never_blamed_on_the_credentials) {
  const request_context one{onboard::operation::invite, 1};
  EXPECT_EQ(classify_answer({403, "InvalidSignatureException", "req-1", expired_body}, one),
            retry_class::retry_transient);
  // A signature refused for another reason stays a credentials problem.
  EXPECT_EQ(classify_answer({403, "InvalidSignatureException", "req-1",
                             R"({"Message":"The request signature we calculated ..."})"},
                            one),
            retry_class::fatal_auth);
}

}  // namespace
