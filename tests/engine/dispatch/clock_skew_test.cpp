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

// answer_of: a response as the transport hands it over.
onboard::incoming_response answer_of(unsigned status, std::string error_type, std::string body,
                                     std::string request_id = "req-1") {
  onboard::incoming_response r;
  r.status = status;
  if (!error_type.empty()) r.headers.emplace_back("x-amzn-ErrorType", std::move(error_type));
  if (!request_id.empty()) r.headers.emplace_back("x-amzn-RequestId", std::move(request_id));
  r.headers.emplace_back("Date", std::string(server_date));
  r.body = std::move(body);
  return r;
}

TEST(clock_skew, the_mend_of_a_refused_signature_is_the_clock_first_then_the_credentials) {
  const std::string expired_token = R"({"message":"The security token included in the request )"
                                    R"(is expired"})";
  // Our clock 10 minutes slow: the time is corrected, whatever else the answer says.
  auto m =
      signature_mend_for(answer_of(403, "InvalidSignatureException", std::string(expired_body)),
                         server_now - 600s, 0ms);
  EXPECT_EQ(m.clock_offset, 600'000ms);
  EXPECT_FALSE(m.refresh_credentials);
  m = signature_mend_for(answer_of(403, "ExpiredTokenException", expired_token), server_now - 600s,
                         0ms);
  EXPECT_EQ(m.clock_offset, 600'000ms);
  EXPECT_FALSE(m.refresh_credentials);
  // A right clock: expired credentials are refreshed, by their code or the message (STS: 400).
  m = signature_mend_for(answer_of(403, "ExpiredTokenException", "{}"), server_now, 0ms);
  EXPECT_FALSE(m.clock_offset);
  EXPECT_TRUE(m.refresh_credentials);
  EXPECT_TRUE(
      signature_mend_for(answer_of(400, "", expired_token), server_now, 0ms).refresh_credentials);
  // A proxy's page that says so is not the service refusing our credentials.
  m = signature_mend_for(answer_of(403, "", "<html>Your token has expired</html>", ""), server_now,
                         0ms);
  EXPECT_FALSE(m.clock_offset);
  EXPECT_FALSE(m.refresh_credentials);
  // Answers a new signature would not change.
  for (unsigned status : {200u, 404u, 429u, 500u}) {
    m = signature_mend_for(answer_of(status, "", "{}"), server_now - 600s, 0ms);
    EXPECT_FALSE(m.clock_offset) << status;
    EXPECT_FALSE(m.refresh_credentials) << status;
  }
  m = signature_mend_for(answer_of(401, "UnauthorizedClientException", "{}"), server_now, 0ms);
  EXPECT_FALSE(m.clock_offset);
  EXPECT_FALSE(m.refresh_credentials);
}

}  // namespace
