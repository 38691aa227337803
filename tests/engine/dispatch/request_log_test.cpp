// --debug's line per request (request_log.hpp): its redaction rules on their own, then a real
// dispatcher (real signer with a session token, real rate gate) on a scripted transport whose
// script drops a request after it was written, answers ListUsers and throttles: one line for
// each request the transport saw, in order, with its attempt and retry reason, and nothing of the
// signed headers, the keys or, under --redact, the addresses.

#include <onboard/core/log.hpp>
#include <onboard/dispatch/async_queue.hpp>
#include <onboard/dispatch/dispatcher.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/dispatch/request_log.hpp>
#include <onboard/signing/sigv4.hpp>
#include <onboard/testkit/run_bounded.hpp>
#include <onboard/testkit/scripted_transport.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace onboard {
namespace {

namespace net = boost::asio;
namespace tk = testkit;
using namespace std::chrono_literals;

TEST(request_log, a_query_address_is_shown_as_logs_show_addresses) {
  const std::string target = "/accounts/acct-1/users?user-email=Ann.Lee%40example.com";
  set_log_redaction(false);
  EXPECT_EQ(loggable_target(target), "/accounts/acct-1/users?user-email=Ann.Lee@example.com");
  set_log_redaction(true);
  const std::string redacted = loggable_target(target);
  set_log_redaction(false);
  EXPECT_EQ(
      redacted, "/accounts/acct-1/users?user-email=" + [] {
        set_log_redaction(true);
        auto h = log_email("Ann.Lee@example.com");
        set_log_redaction(false);
        return h;
      }());
  EXPECT_EQ(redacted.find("Ann.Lee"), std::string::npos) << redacted;
  // What holds no address is kept as it is.
  EXPECT_EQ(loggable_target("/accounts/a/users?operation=add"), "/accounts/a/users?operation=add");
  EXPECT_EQ(loggable_target("/accounts/a"), "/accounts/a");
}

TEST(request_log, a_presigned_query_never_shows_its_credentials) {
  const std::string t =
      "/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261207%2Fus-east-1"
      "&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLETOKEN&X-Amz-Signature=deadbeef01&flag";
  const std::string l = loggable_target(t);
  EXPECT_EQ(l,
            "/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=****"
            "&X-Amz-Security-Token=****&X-Amz-Signature=****&flag");
}

TEST(request_log, the_line_has_method_path_status_id_latency_attempt_and_reason) {
  exchange_result ok;
  ok.response.status = 429;
  ok.response.headers = {{"x-amzn-RequestId", "req-42"}};
  const std::string l = request_log_line(
      {"POST", "/accounts/a/users?operation=add", ok, 12345us, 3, "retry_throttled (HTTP 429)"});
  EXPECT_EQ(l,
            "request POST /accounts/a/users?operation=add 429 id=req-42 12.3 ms attempt 3 "
            "retry: retry_throttled (HTTP 429)");

  exchange_result cut;
  cut.failure = io::transport_error{};
  cut.failure->message = "connection reset by peer";
  EXPECT_EQ(request_log_line({"GET", "/accounts/a", cut, 2ms, 1, ""}),
            "request GET /accounts/a no answer (connection reset by peer) 2.0 ms attempt 1");
}

// log_capture: the default logger, at debug level, into a string for the test's length.
struct log_capture {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> was = spdlog::default_logger();
  log_capture() {
    auto l = std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
    l->set_level(spdlog::level::debug);
    l->set_pattern("%v");
    spdlog::set_default_logger(l);
  }
  ~log_capture() { spdlog::set_default_logger(was); }
  std::vector<std::string> request_lines() const {
    std::vector<std::string> v;
    std::istringstream in(text.str());
    for (std::string line; std::getline(in, line);)
      if (line.rfind("request ", 0) == 0) v.push_back(line);
    return v;
  }
};

net::awaitable<bool> async_until(net::steady_timer& t, const bool& ended) {
  while (!ended) co_await t.async_wait(net::as_tuple(net::use_awaitable));
  co_return true;
}

TEST(request_log, a_dispatcher_logs_each_request_once_without_a_secret_or_an_address) {
  log_capture logs;
  set_log_redaction(true);
  signing::credentials c;
  c.access_key_id = "ASIAEXAMPLEKEYID";
  c.secret_access_key = signing::secret_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET");
  c.session_token = signing::secret_string("FQoGZXIvYXdzEXAMPLESESSIONTOKENVALUE");
  signing::signer signer{c, "us-east-1", "chime"};
  engine::rate_limiter_config lc;
  lc.adaptive = true;
  engine::rate_gate gate{lc};
  run_stats stats;
  net::io_context ioc;

  const std::vector<std::string> emails = {"ann@example.com", "bob@example.com"};
  tk::scripted_transport t;
  int invites = 0;
  t.then(tk::failure(io::transport_error_kind::reset_after_send, /*written=*/true))
      .respond_with([&](const tk::recorded_request& r) {
        if (r.is_list_users())
          return *r.list_users_email == emails[0] ? tk::users_200({emails[0]}) : tk::users_200({});
        if (r.is_user_page())  // a user without PrimaryEmail: the listing proves nobody absent
          return tk::user_page_200({boost::json::object{{"UserId", "u-hidden"}}});
        return ++invites == 1 ? tk::error(429, "ThrottlingException", "Rate exceeded")
                              : tk::invites_201(r.invite_emails);
      });

  dispatch_config cfg;
  cfg.retry.transient_base = engine::retry_duration(0.005);
  cfg.retry.throttled_base = engine::retry_duration(0.005);
  cfg.retry.seed = 7;
  std::size_t outcomes = 0;
  dispatcher d(cfg, signer, gate, nullptr, stats,
               [&](const planned_address&, const address_outcome&) { ++outcomes; });
  async_queue<batch> q(2);
  batch b;
  b.id = 1;
  b.account_id = "acct-1";
  for (std::size_t i = 0; i < emails.size(); ++i)
    b.items.push_back(planned_address{emails[i], 0, i, {}});
  ASSERT_TRUE(q.push(std::move(b)));
  q.close();
  bool ended = false;
  net::steady_timer end(ioc, std::chrono::steady_clock::time_point::max());
  d.spawn_sender(ioc.get_executor(), t, q, [&](std::exception_ptr) {
    ended = true;
    end.cancel();
  });
  auto done = tk::run_bounded(ioc, async_until(end, ended), 10s);
  set_log_redaction(false);
  ASSERT_TRUE(done.has_value()) << logs.text.str() << t.requests().size();
  EXPECT_EQ(outcomes, emails.size());

  // Dropped after it was written, a listing of the account, ListUsers for each address, the one
  // it lacks: throttled, then accepted.
  const auto lines = logs.request_lines();
  const auto& reqs = t.requests();
  ASSERT_EQ(reqs.size(), 6u);
  ASSERT_EQ(lines.size(), reqs.size()) << logs.text.str();
  for (std::size_t i = 0; i < reqs.size(); ++i)
    EXPECT_EQ(lines[i].rfind("request " + reqs[i].method + " ", 0), 0u) << lines[i];
  EXPECT_NE(lines[0].find("no answer ("), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("attempt 1 retry: in_doubt ("), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("?max-results=200 200 id="), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("?user-email=email#"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(" 200 id="), std::string::npos) << lines[2];
  EXPECT_NE(lines[4].find(" 429 id="), std::string::npos) << lines[4];
  EXPECT_NE(lines[4].find("attempt 2 retry: retry_throttled (HTTP 429 ThrottlingException)"),
            std::string::npos)
      << lines[4];
  EXPECT_NE(lines[5].find(" 201 id="), std::string::npos) << lines[5];
  EXPECT_NE(lines[5].find("attempt 3"), std::string::npos) << lines[5];
  EXPECT_EQ(lines[5].find("retry:"), std::string::npos) << lines[5];

  // Nothing signed, secret or personal: not the Authorization header nor its signature, not the
  // token, the secret key or an address.
  const std::string all = logs.text.str();
  std::set<std::string> secrets = {"FQoGZXIvYXdzEXAMPLESESSIONTOKENVALUE",
                                   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET", "ann@example.com",
                                   "bob@example.com", "ann%40example.com"};
  for (const auto& r : reqs)
    for (const auto& [name, value] : r.headers)
      if (name == "X-Amz-Security-Token") {
        secrets.insert(value);
      } else if (name == "Authorization") {
        secrets.insert(value);
        secrets.insert(value.substr(value.find("Signature=") + 10));
      }
  ASSERT_GE(secrets.size(), 7u) << "the requests were signed, with the token";
  for (const auto& s : secrets) EXPECT_EQ(all.find(s), std::string::npos) << s << " in:\n" << all;
}

}  // namespace
}  // namespace onboard
