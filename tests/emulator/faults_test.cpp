// faults_test.cpp: every simulation flag with a fixed seed, checked against the ledger and the
// stats; the process-level contract (first line, --write-ca, SIGTERM -> exit 0, ledger flushed).
#include "client.hpp"

#include <onboard/emulator/server.hpp>
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace onboard::emulator::test {
namespace {

namespace tk = onboard::testkit;
const std::string invite_path = "/accounts/acct-1/users?operation=add";

using fixture = server_fixture;

TEST(faults, token_bucket_per_account_gives_429_with_retry_after) {
  server_options o;
  o.rate = 0.5;  // slow refill: the test never waits long enough to earn a token
  o.burst = 3;
  o.retry_after_seconds = 2;
  fixture f(o);
  auto c = f.client();
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(
        c.call("POST", invite_path, invite_body({"t" + std::to_string(i) + "@example.com"})).status,
        201u);
  auto r = c.call("POST", invite_path, invite_body({"t9@example.com"}));
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.error_type(), "ThrottledClientException");
  EXPECT_EQ(r.json().at("Code").as_string(), "Throttled");
  EXPECT_EQ(r.header("retry-after"), "2");
  // Buckets are per account.
  EXPECT_EQ(
      c.call("POST", "/accounts/acct-2/users?operation=add", invite_body({"t@example.com"})).status,
      201u);
  f.srv->stop();
  auto s = f.srv->stats();
  EXPECT_EQ(s.throttled, 1u);
  EXPECT_EQ(s.requests_by_status[429], 1u);
  EXPECT_EQ(s.invites_applied, 4u);
  EXPECT_EQ(ledger_lines(f.dir / "ledger.tsv").size(), 4u);
}

// --throttle-scope: the same requests drawn from one bucket per account, per API or for all.
TEST(faults, throttle_scope_account_api_or_global) {
  const std::string acct2 = "/accounts/acct-2/users?operation=add";
  auto statuses = [&](server_options o) {
    o.rate = 0.01;  // no refill within the test
    o.burst = 1;
    fixture f(o);
    auto c = f.client();
    std::vector<unsigned> v;
    v.push_back(c.call("POST", invite_path, invite_body({"a@example.com"})).status);
    v.push_back(c.call("POST", acct2, invite_body({"b@example.com"})).status);
    v.push_back(c.call("GET", "/accounts/acct-2/users?max-results=1").status);
    return v;
  };
  server_options o;
  o.scope = throttle_scope::account;  // acct-2's bucket is its own; its ListUsers shares it
  EXPECT_EQ(statuses(o), (std::vector<unsigned>{201, 201, 429}));
  o.scope = throttle_scope::api;  // InviteUsers shared by both accounts; ListUsers its own
  EXPECT_EQ(statuses(o), (std::vector<unsigned>{201, 429, 200}));
  o.scope = throttle_scope::global;
  EXPECT_EQ(statuses(o), (std::vector<unsigned>{201, 429, 429}));
  // --account-rate: one account held back, the others unthrottled.
  server_options one;
  one.account_rates["acct-2"] = 0.01;
  fixture f(one);
  auto c = f.client();
  EXPECT_EQ(c.call("POST", acct2, invite_body({"b@example.com"})).status, 201u);
  EXPECT_EQ(c.call("POST", acct2, invite_body({"c@example.com"})).status, 429u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(c.call("POST", invite_path, invite_body({"x@example.com"})).status, 201u);
}

TEST(faults, p503_and_p500_are_never_applied) {
  for (auto [p503, p500, status, shape] :
       std::vector<std::tuple<double, double, unsigned, std::string>>{
           {1.0, 0.0, 503u, "ServiceUnavailableException"},
           {0.0, 1.0, 500u, "ServiceFailureException"}}) {
    server_options o;
    o.p503 = p503;
    o.p500 = p500;
    o.retry_after_seconds = 1;
    o.seed = 1;
    fixture f(o);
    auto c = f.client();
    auto r = c.call("POST", invite_path, invite_body({"a@example.com"}));
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.error_type(), shape);
    EXPECT_EQ(r.header("retry-after").empty(), status != 503u);
    EXPECT_EQ(
        c.call("POST", "/accounts/acct-1/users?operation=create", R"({"Email":"b@example.com"})")
            .status,
        status);
    f.srv->stop();
    EXPECT_EQ(f.srv->stats().invites_applied + f.srv->stats().creates_applied, 0u);
    EXPECT_TRUE(ledger_lines(f.dir / "ledger.tsv").empty());
  }
}

// statuses: the status sequence of n single-address invites over one connection.
std::vector<unsigned> statuses(server_options o, int n, server_stats* out = nullptr) {
  fixture f(o);
  auto c = f.client();
  std::vector<unsigned> v;
  for (int i = 0; i < n; ++i)
    v.push_back(c.call("POST", invite_path, invite_body({"r" + std::to_string(i) + "@example.com"}))
                    .status);
  f.srv->stop();
  if (out) *out = f.srv->stats();
  EXPECT_EQ(ledger_lines(f.dir / "ledger.tsv").size(), f.srv->stats().invites_applied);
  return v;
}

TEST(faults, fixed_seed_reproduces_the_fault_sequence_on_one_connection) {
  server_options o;
  o.p503 = 0.3;
  o.p500 = 0.2;
  o.seed = 42;
  server_stats s;
  auto a = statuses(o, 60, &s);
  auto b = statuses(o, 60);
  EXPECT_EQ(a, b);
  auto count = [&](unsigned st) { return std::count(a.begin(), a.end(), st); };
  EXPECT_GT(count(503), 5);
  EXPECT_GT(count(500), 3);
  EXPECT_GT(count(201), 15);
  EXPECT_EQ(s.invites_applied, static_cast<std::uint64_t>(count(201)));
  o.seed = 43;
  EXPECT_NE(statuses(o, 60), a);
}

TEST(faults, p_drop_closes_without_answer_and_applies_about_half) {
  server_options o;
  o.p_drop = 1.0;
  o.seed = 7;
  fixture f(o);
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    auto c = f.client();
    auto r = c.try_call("POST", invite_path,
                        invite_body({"d" + std::to_string(i) + "@example.com",
                                     "e" + std::to_string(i) + "@example.com"}));
    EXPECT_FALSE(r.has_value()) << "connection " << i << " answered";
  }
  f.srv->stop();
  auto s = f.srv->stats();
  EXPECT_EQ(s.dropped, static_cast<std::uint64_t>(n));
  EXPECT_GT(s.dropped_after_apply, 8u);
  EXPECT_LT(s.dropped_after_apply, 32u);
  EXPECT_EQ(s.invites_applied, 2 * s.dropped_after_apply);
  EXPECT_EQ(ledger_lines(f.dir / "ledger.tsv").size(), s.invites_applied);
  EXPECT_EQ(s.requests, 0u);  // nothing was answered
}

TEST(faults, p_failed_invite_marks_addresses_failed_and_does_not_apply_them) {
  server_options o;
  o.p_failed_invite = 0.5;
  o.seed = 3;
  fixture f(o);
  auto c = f.client();
  auto r = c.call("POST", invite_path, invite_body(numbered_emails(50)));
  ASSERT_EQ(r.status, 201u);
  std::vector<std::string> ok;
  int failed = 0;
  auto body = r.json();
  for (const auto& inv : body.at("Invites").as_array()) {
    if (inv.at("Status").as_string() == "Failed") {
      EXPECT_EQ(inv.at("EmailStatus").as_string(), "Failed");
      ++failed;
    } else {
      EXPECT_EQ(inv.at("Status").as_string(), "Pending");
      ok.emplace_back(inv.at("EmailAddress").as_string());
    }
  }
  EXPECT_GT(failed, 10);
  EXPECT_LT(failed, 40);
  // ListUsers only knows the applied ones.
  auto l = c.call("GET", "/accounts/acct-1/users?max-results=200");
  EXPECT_EQ(l.json().at("Users").as_array().size(), ok.size());
  f.srv->stop();
  auto s = f.srv->stats();
  EXPECT_EQ(s.failed_invites, static_cast<std::uint64_t>(failed));
  EXPECT_EQ(s.invites_applied, ok.size());
  auto lines = ledger_lines(f.dir / "ledger.tsv");
  ASSERT_EQ(lines.size(), ok.size());
  for (std::size_t i = 0; i < ok.size(); ++i) EXPECT_EQ(lines[i], "invite\tacct-1\t" + ok[i]);
}

TEST(faults, latency_is_an_async_wait_that_does_not_block_other_connections) {
  server_options o;
  o.latency_ms = 400;
  o.seed = 5;
  o.threads = 1;
  fixture f(o);
  auto c1 = f.client();
  auto c2 = f.client();
  auto t0 = std::chrono::steady_clock::now();
  // Two requests in parallel: on one server thread they finish in ~one latency only if the
  // wait does not block the thread.
  std::thread th([&] { EXPECT_EQ(c1.call("GET", "/accounts/acct-1/users").status, 200u); });
  EXPECT_EQ(c2.call("GET", "/accounts/acct-1/users").status, 200u);
  th.join();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_GE(ms, 200);
  EXPECT_LT(ms, 1100);  // two serialized waits would be 2 x [200, 600]; parallel is one
}

TEST(process, first_line_ca_ledger_stats_and_clean_sigterm) {
  tk::emulator_process emu({"--accounts", "acct-1", "--seed", "9"},
                           tk::emulator_process::with_ledger());
  EXPECT_EQ(emu.url(), "https://127.0.0.1:" + std::to_string(emu.port()));
  auto ca = tk::read_file(emu.ca_path());
  ASSERT_NE(ca.find("BEGIN CERTIFICATE"), std::string::npos);
  {
    test_client c(static_cast<std::uint16_t>(emu.port()), ca);
    ASSERT_EQ(c.call("POST", invite_path, invite_body({"a@example.com", "b@example.com"})).status,
              201u);
    ASSERT_EQ(c.call("POST", invite_path, invite_body({"a@example.com"})).status, 201u);
    ASSERT_EQ(
        c.call("POST", "/accounts/acct-1/users?operation=create", R"({"Email":"c@example.com"})")
            .status,
        201u);
    ASSERT_EQ(c.call("POST", "/accounts/acct-2/users?operation=add", invite_body({"x@example.com"}))
                  .status,
              404u);
  }
  auto stats = emu.stats();
  EXPECT_EQ(tk::json_counter(stats, "invites_applied"), 3u) << stats;
  EXPECT_EQ(tk::json_counter(stats, "creates_applied"), 1u);
  EXPECT_EQ(tk::json_counter(stats, "duplicates_applied"), 1u);
  EXPECT_EQ(tk::json_counter(stats, "status.201"), 3u);
  EXPECT_EQ(tk::json_counter(stats, "status.404"), 1u);
  EXPECT_EQ(emu.stop(), 0) << emu.process().stderr_text();
  auto lines = ledger_lines(emu.ledger_path());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "invite\tacct-1\ta@example.com", "invite\tacct-1\tb@example.com",
                       "invite\tacct-1\ta@example.com", "create\tacct-1\tc@example.com"}));
  struct stat st {};
  ASSERT_EQ(::stat(emu.ledger_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(process, sigint_also_stops_cleanly_and_usage_errors_name_the_flag) {
  tk::emulator_process emu;
  emu.process().signal(SIGINT);
  EXPECT_EQ(emu.process().wait(std::chrono::seconds(20)), 0);

  auto r = tk::run({tk::emulator_binary(), "--p503", "2"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--p503"), std::string::npos) << r.err;
  r = tk::run({tk::emulator_binary(), "--bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos);
  r = tk::run({tk::emulator_binary(), "--listen", "nonsense"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--listen"), std::string::npos);
  r = tk::run({tk::emulator_binary(), "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("example:"), std::string::npos);
  EXPECT_NE(r.out.find("AKIDEXAMPLE"), std::string::npos);
}

}  // namespace
}  // namespace onboard::emulator::test
