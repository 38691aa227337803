// retry_policy: classification, backoff bounds, the retry budget, Retry-After parsing.
#include <onboard/dispatch/retry_policy.hpp>

#include <gtest/gtest.h>

#include <tuple>

namespace onboard::engine {
namespace {

using rc = retry_class;

TEST(retry_policy, classifies_http_answers) {
  request_context batch{operation::invite, 50}, single{operation::invite, 1},
      create{operation::create, 1};
  struct row {
    int status;
    std::string_view type;
    request_context ctx;
    rc want;
  };
  const row rows[] = {
      {200, "", batch, rc::success},
      {201, "", batch, rc::success},
      {429, "ThrottledClientException", batch, rc::retry_throttled},
      {429, "", batch, rc::retry_throttled},
      {400, "ThrottlingException", batch, rc::retry_throttled},
      {400, "Throttling:http://internal.amazon.com/coral/", batch, rc::retry_throttled},
      {503, "ServiceUnavailableException", batch, rc::retry_transient},  // counted, not paced
      {503, "SlowDown", batch, rc::retry_throttled},
      {509, "", batch, rc::retry_throttled},
      {408, "", batch, rc::retry_transient},
      {403, "RequestTimeTooSkewed", batch, rc::retry_transient},
      {401, "UnauthorizedClientException", batch, rc::fatal_auth},
      {403, "ForbiddenException", batch, rc::fatal_auth},
      {404, "NotFoundException", batch, rc::fatal_not_found},
      {400, "BadRequestException", batch, rc::bisect},
      {400, "BadRequestException", single, rc::fatal_rejected},
      {409, "ConflictException", create, rc::conflict_exists},
      {409, "ConflictException", single, rc::conflict_exists},
      {409, "ConflictException", batch, rc::bisect},
      {500, "ServiceFailureException", batch, rc::in_doubt},
      {502, "", batch, rc::in_doubt},
      {504, "", batch, rc::in_doubt},
      {500, "ThrottlingException", batch, rc::in_doubt},  // a 500 may have done the work
      {413, "", batch, rc::fatal_rejected},
      {422, "UnprocessableEntityException", batch, rc::fatal_rejected},
      {501, "", batch, rc::fatal_rejected},
      {301, "", batch, rc::foreign},  // Chime redirects nothing
      {302, "", single, rc::foreign},
      {307, "", create, rc::foreign},
  };
  for (const auto& r : rows)
    EXPECT_EQ(classify_http(r.status, r.type, r.ctx), r.want)
        << r.status << " " << r.type << " n=" << r.ctx.addresses << " got "
        << to_string(classify_http(r.status, r.type, r.ctx));
}

TEST(retry_policy, an_answer_evidently_not_from_the_service_is_foreign) {
  const request_context batch{operation::invite, 50};
  const std::string_view page = "<!DOCTYPE html>\n<html><title>Network login</title></html>";
  struct row {
    int status;
    std::string_view request_id;
    std::string_view body;
    rc want;
  };
  const row rows[] = {
      {200, "", page, rc::foreign},                 // a captive portal in place of a 2xx
      {201, "", "", rc::foreign},                   // nothing at all, and no request id
      {400, "", page, rc::foreign},                 // a proxy's refusal: not a reason to bisect
      {403, "", "Access denied", rc::foreign},      // nor a refusal of our credentials
      {302, "req-1", "{}", rc::foreign},            // a 3xx, whoever sent it
      {200, "req-1", page, rc::success},            // the service's, unreadable: the decoder's case
      {201, "", " {\"Invites\":[]}", rc::success},  // JSON without a request id: the service's
      {400, "req-1", page, rc::bisect},
      {429, "", page, rc::retry_throttled},  // slow down, whoever says it
      {502, "", page, rc::in_doubt},         // a gateway's 5xx is still worth a retry
      {503, "", page, rc::retry_transient},
  };
  for (const auto& r : rows)
    EXPECT_EQ(classify_answer({r.status, "", r.request_id, r.body}, batch), r.want)
        << r.status << " '" << r.request_id << "' " << r.body;
  EXPECT_EQ(to_string(rc::foreign), "foreign");
  EXPECT_EQ(to_response_kind(302, rc::foreign), response_kind::other_error);
}

TEST(retry_policy, classifies_transport_errors) {
  // The transport's own failure (io::transport_error) is classified directly: what was the
  // engine's copy of it (connect_failed, reset/timeout before or after the write) maps the same.
  using k = io::transport_error_kind;
  auto failure = [](k kind, bool written) { return io::transport_error{kind, {}, {}, written}; };
  EXPECT_EQ(classify_transport(failure(k::connect_failed, false)), rc::retry_transient);
  EXPECT_EQ(classify_transport(failure(k::write_failed, false)), rc::retry_transient);
  EXPECT_EQ(classify_transport(failure(k::timeout_before_send, false)), rc::retry_transient);
  EXPECT_EQ(classify_transport(failure(k::reset_after_send, true)), rc::in_doubt);
  EXPECT_EQ(classify_transport(failure(k::bad_response, true)), rc::in_doubt);
  EXPECT_EQ(classify_transport(failure(k::timeout_after_send, true)), rc::in_doubt);
  EXPECT_EQ(classify_transport(failure(k::cancelled, true)), rc::in_doubt);
  EXPECT_EQ(classify_transport(failure(k::cancelled, false)), rc::retry_transient);
}

TEST(retry_policy, limiter_kind_of_an_answer) {
  EXPECT_EQ(to_response_kind(201, rc::success), response_kind::success);
  EXPECT_EQ(to_response_kind(429, rc::retry_throttled), response_kind::throttled);
  EXPECT_EQ(to_response_kind(400, rc::retry_throttled), response_kind::throttled);
  EXPECT_EQ(to_response_kind(503, rc::retry_transient), response_kind::unavailable);
  EXPECT_EQ(to_response_kind(500, rc::in_doubt), response_kind::other_error);
  EXPECT_EQ(to_response_kind(0, rc::retry_transient), response_kind::other_error);
}

TEST(retry_policy, full_jitter_stays_within_bounds) {
  retry_policy p(retry_config{.seed = 42});
  for (unsigned n = 1; n <= 12; ++n) {
    double tb = std::min(20.0, 0.5 * std::ldexp(1.0, static_cast<int>(n - 1)));
    double hb = std::min(5.0, 0.1 * std::ldexp(1.0, static_cast<int>(n - 1)));
    EXPECT_DOUBLE_EQ(p.backoff_bound(rc::retry_transient, n).count(), tb);
    EXPECT_DOUBLE_EQ(p.backoff_bound(rc::retry_throttled, n).count(), hb);
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      double d = p.backoff(rc::retry_transient, n).count();
      ASSERT_GE(d, 0.0);
      ASSERT_LE(d, tb);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      double h = p.backoff(rc::retry_throttled, n).count();
      ASSERT_GE(h, 0.0);
      ASSERT_LE(h, hb);
    }
    EXPECT_LT(lo, 0.05 * tb);  // full jitter: spread over the whole interval
    EXPECT_GT(hi, 0.95 * tb);
  }
  EXPECT_DOUBLE_EQ(p.backoff_bound(rc::retry_transient, 1000).count(), 20.0);
}

TEST(retry_policy, jitter_is_seedable) {
  retry_policy a(retry_config{.seed = 9}), b(retry_config{.seed = 9});
  for (unsigned n = 1; n < 6; ++n)
    EXPECT_EQ(a.backoff(rc::retry_transient, n), b.backoff(rc::retry_transient, n));
}

TEST(retry_policy, decisions) {
  retry_policy p(retry_config{.seed = 1});
  EXPECT_EQ(p.decide(rc::success, 1, {}).what, retry_action::done);
  for (auto c : {rc::fatal_auth, rc::fatal_not_found, rc::bisect, rc::conflict_exists,
                 rc::fatal_rejected, rc::foreign})
    EXPECT_EQ(p.decide(c, 1, {}).what, retry_action::give_up) << to_string(c);
  EXPECT_EQ(p.decide(rc::in_doubt, 1, {}).what, retry_action::reconcile);
  auto d = p.decide(rc::retry_transient, 1, {});
  EXPECT_EQ(d.what, retry_action::retry);
  EXPECT_EQ(d.cost, 14u);
  EXPECT_LE(d.delay.count(), 0.5);
  EXPECT_EQ(p.decide(rc::retry_transient, 10, {}).what, retry_action::give_up);  // max_attempts 10
  // Throttles: no attempt cap, only the deadline.
  EXPECT_EQ(p.decide(rc::retry_throttled, 1000, retry_duration(60)).what, retry_action::retry);
  EXPECT_EQ(p.decide(rc::retry_throttled, 3, retry_duration(31 * 60)).what, retry_action::give_up);
  retry_policy resend(retry_config{.resend_in_doubt = true, .seed = 1});
  EXPECT_EQ(resend.decide(rc::in_doubt, 1, {}).what, retry_action::retry);
  retry_policy env(retry_config{.max_attempts_transient = 3, .seed = 1});  // AWS_MAX_ATTEMPTS=3
  EXPECT_EQ(env.decide(rc::retry_transient, 2, {}).what, retry_action::retry);
  EXPECT_EQ(env.decide(rc::retry_transient, 3, {}).what, retry_action::give_up);
}

TEST(retry_policy, budget_exhaustion_parks_and_success_refunds) {
  retry_policy p(retry_config{.seed = 3});
  EXPECT_EQ(p.budget(), 500u);
  int retries = 0;
  retry_decision d;
  while ((d = p.decide(rc::retry_transient, 1, {})).what == retry_action::retry) ++retries;
  EXPECT_EQ(retries, 35);  // 500 / 14
  EXPECT_EQ(p.budget(), 500u - 35u * 14u);
  EXPECT_EQ(d.what, retry_action::park);  // parked, not failed
  EXPECT_GE(d.delay.count(), 5.0);
  EXPECT_LE(d.delay.count(), 15.0);
  // The 10 left still pay for two throttled retries (5 each).
  EXPECT_EQ(p.decide(rc::retry_throttled, 1, {}).what, retry_action::retry);
  EXPECT_EQ(p.decide(rc::retry_throttled, 1, {}).what, retry_action::retry);
  EXPECT_EQ(p.decide(rc::retry_throttled, 1, {}).what, retry_action::park);
  EXPECT_EQ(p.budget(), 0u);
  p.on_success(14);  // success after a transient retry: its cost comes back
  EXPECT_EQ(p.budget(), 14u);
  p.on_success(0);  // first-try success: 1
  EXPECT_EQ(p.budget(), 15u);
  EXPECT_EQ(p.decide(rc::retry_transient, 1, {}).what, retry_action::retry);
  for (int i = 0; i < 1000; ++i) p.on_success(5);
  EXPECT_EQ(p.budget(), 500u);  // never above capacity
}

TEST(retry_policy, an_empty_budget_with_nothing_answered_meanwhile_stops) {
  // Parking waits for successes elsewhere to refill the budget; when the service has answered
  // nothing since the work first failed, there are none to wait for.
  retry_policy p(retry_config{.budget_capacity = 14, .seed = 3});
  EXPECT_EQ(p.decide(rc::retry_transient, 1, {}, /*answered=*/false).what, retry_action::retry);
  EXPECT_EQ(p.decide(rc::retry_transient, 1, {}, /*answered=*/false).what, retry_action::stop);
  EXPECT_EQ(p.decide(rc::retry_transient, 1, {}, /*answered=*/true).what, retry_action::park);
  EXPECT_EQ(p.decide(rc::in_doubt, 1, {}, /*answered=*/false).what, retry_action::reconcile);
  // Throttles are the service answering: an empty budget parks them whatever else happened.
  EXPECT_EQ(p.decide(rc::retry_throttled, 1, {}, /*answered=*/false).what, retry_action::park);
}

TEST(retry_after, parses_both_headers) {
  using namespace std::chrono;
  auto now = sys_days{year{2026} / 3 / 1} + hours(12);
  EXPECT_EQ(parse_retry_after("", "", now), std::nullopt);
  EXPECT_DOUBLE_EQ(parse_retry_after("3", "", now)->count(), 3.0);
  EXPECT_DOUBLE_EQ(parse_retry_after(" 120 ", "", now)->count(), 120.0);
  EXPECT_DOUBLE_EQ(parse_retry_after("", "1500", now)->count(), 1.5);
  EXPECT_DOUBLE_EQ(parse_retry_after("1", "2500", now)->count(), 2.5);  // the longer floor wins
  EXPECT_DOUBLE_EQ(parse_retry_after("4", "2500", now)->count(), 4.0);
  // HTTP-date: IMF-fixdate, RFC 850, asctime.
  EXPECT_DOUBLE_EQ(parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", "", now)->count(), 30.0);
  EXPECT_DOUBLE_EQ(parse_retry_after("Sunday, 01-Mar-26 12:01:00 GMT", "", now)->count(), 60.0);
  EXPECT_DOUBLE_EQ(parse_retry_after("Sun Mar  1 12:00:05 2026", "", now)->count(), 5.0);
  EXPECT_DOUBLE_EQ(parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", "", now)->count(),
                   0.0);  // past
  // Garbage is ignored, and does not hide the other header.
  for (std::string_view bad : {"soon", "-3", "+3", "3.5", "1e3", "Sun, 32 Mar 2026 12:00:00 GMT",
                               "Sun, 01 Foo 2026 12:00:00 GMT", "Sun, 01 Mar 2026 25:00:00 GMT",
                               "Sun, 01 Mar 2026 12:00:00 PST", "99999999999999999999"})
    EXPECT_EQ(parse_retry_after(bad, "", now), std::nullopt) << bad;
  EXPECT_EQ(parse_retry_after("", "abc", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("", "-5", now), std::nullopt);
  EXPECT_DOUBLE_EQ(parse_retry_after("soon", "200", now)->count(), 0.2);
  EXPECT_DOUBLE_EQ(parse_retry_after("999999999", "", now)->count(), 86400.0);  // capped at a day
}

// Expired credentials are recognised by code (Chime and STS spell it two ways) or, without a
// code, by the message; other refusals and any 5xx are not.
TEST(retry_policy, recognises_a_refusal_of_expired_credentials) {
  const std::string_view id = "req-1";
  EXPECT_TRUE(expired_credentials({403, "ExpiredTokenException", id, "{}"}));
  EXPECT_TRUE(expired_credentials({400, "ExpiredToken:http://internal.amazon.com/", id, "{}"}));
  EXPECT_TRUE(expired_credentials(
      {403, "", id, R"({"message":"The security token included in the request is expired"})"}));
  EXPECT_TRUE(expired_credentials({401, "", id, R"({"Message":"The Token has EXPIRED"})"}));
  EXPECT_FALSE(expired_credentials({403, "AccessDeniedException", id, R"({"message":"no"})"}));
  EXPECT_FALSE(expired_credentials({401, "UnauthorizedClientException", id,
                                    R"({"message":"The security token included is invalid"})"}));
  EXPECT_FALSE(expired_credentials({500, "ExpiredTokenException", id, "{}"}));
  EXPECT_FALSE(expired_credentials({201, "", id, R"({"note":"token has expired"})"}));
}

}  // namespace
}  // namespace onboard::engine
