// Temporary credentials over a whole run, end to end: credential_process hands out sets that the
// emulator accepts until their Expiration and then refuses with 403 ExpiredTokenException, as
// the service refuses expired session credentials. The run must refresh them before they
// expire, or, when the service says they expired anyway, refresh once and send again: never a
// failed address, never a stopped run.
#include "aws_responders.hpp"
#include "cli_env.hpp"

#include <onboard/signing/credentials.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

// temporary_set: one credential set as credential_process prints it (Expiration left out when
// `show_expiry` is false: the client then believes the keys last).
std::string temporary_set(int n, sys::time_point expiry, bool show_expiry = true) {
  std::string json = R"({"Version": 1, "AccessKeyId": "ASIATEMP)" + std::to_string(1000 + n) +
                     R"(", "SecretAccessKey": "tempSecret/)" + std::to_string(n) +
                     R"(/K7MDENGbPxRfiCYEXAMPLE", "SessionToken": "tempToken)" + std::to_string(n) +
                     R"(")";
  if (show_expiry)
    json += R"(, "Expiration": ")" + onboard::signing::format_iso8601(expiry) + R"(")";
  return json + "}";
}

// process_env: a clean environment whose default profile runs `script` as credential_process.
child_process::options process_env(const temp_dir& dir, const fs::path& script) {
  write_file(dir / "config", "[default]\ncredential_process = /bin/sh " + script.string() + "\n");
  auto o = clean_env(dir.path());
  o.env_set["AWS_CONFIG_FILE"] = (dir / "config").string();
  o.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "no-credentials").string();
  return o;
}

// first_then_next: a credential_process script printing first.json on its first call and
// next.json on every later one (its calls counted in `count`).
fs::path first_then_next(const temp_dir& dir) {
  const fs::path script = dir / "creds.sh";
  write_file(script, "d='" + dir.path().string() +
                         "'\n"
                         "n=$(cat \"$d/count\" 2>/dev/null || echo 0)\n"
                         "echo $((n + 1)) > \"$d/count\"\n"
                         "if [ \"$n\" -eq 0 ]; then cat \"$d/first.json\"; "
                         "else cat \"$d/next.json\"; fi\n");
  return script;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// paced_run: invite users.txt in `dir` at `rate` requests/s on two connections, no bursts.
run_result paced_run(const emulator_process& emu, const temp_dir& dir, int rate,
                     const child_process::options& env, std::chrono::seconds bound) {
  return run(invite_argv(emu, dir / "users.txt", dir.path(),
                         {"--connections", "2", "--rate", std::to_string(rate), "--fixed-rate",
                          "--burst", "1"}),
             env, bound);
}

// expect_every_request_signed_in_time: the run ended well, the emulator refused no request for
// its keys (expired: 403; unknown: 401), and its ledger holds each of `addresses` once.
void expect_every_request_signed_in_time(const run_result& r, emulator_process& emu,
                                         std::size_t addresses) {
  EXPECT_EQ(r.status, 0) << r.out << "\n" << r.err;
  const std::string stats = emu.stats();
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(json_counter(stats, "status.403"), 0u) << "a request was signed with expired keys";
  EXPECT_EQ(json_counter(stats, "status.401"), 0u) << stats;
  auto applied = ledger_counts(emu.ledger_path());
  EXPECT_EQ(applied.size(), addresses);
  for (const auto& [a, n] : applied) EXPECT_EQ(n, 1) << a;
}

// The client thinks its first set lasts (no Expiration), but the service has expired it: the
// first answer is 403 ExpiredTokenException. The run refreshes once, sends again, and ends with
// every address invited exactly once.
TEST(credentials_e2e, an_expired_token_refusal_refreshes_once_and_sends_again) {
  temp_dir dir;
  const auto now = sys::now();
  write_file(dir / "accepted.json",
             "[" + temporary_set(1, now - 1h) + "," + temporary_set(2, now + 1h) + "]");
  write_file(dir / "first.json", temporary_set(1, now - 1h, /*show_expiry=*/false));
  write_file(dir / "next.json", temporary_set(2, now + 1h));
  emulator_process emu(
      {"--accounts", "acct-1", "--credentials-file", (dir / "accepted.json").string()},
      emulator_process::with_ledger());
  write_file(dir / "users.txt", numbered_addresses(120));

  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "1"}),
               process_env(dir, first_then_next(dir)), 1min);
  EXPECT_EQ(r.status, 0) << r.out << "\n" << r.err;
  const std::string stats = emu.stats();
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(json_counter(stats, "status.403"), 1u) << stats;
  auto applied = ledger_counts(emu.ledger_path());
  EXPECT_EQ(applied.size(), 120u);
  for (const auto& [a, n] : applied) EXPECT_EQ(n, 1) << a;
  EXPECT_EQ(read_file(dir / "count"), "2\n") << "one refresh, not one per request";
  EXPECT_TRUE(contains(r.err, "as expired")) << r.err;
  // The start says where the keys came from and which key, by its last four characters only.
  EXPECT_TRUE(contains(r.err, "credentials from profile default credential_process")) << r.err;
  EXPECT_TRUE(contains(r.err, "key id …1001")) << r.err;
  EXPECT_TRUE(contains(r.err, "key id …1002")) << r.err;
  EXPECT_FALSE(contains(r.err, "ASIATEMP1001")) << r.err;
  EXPECT_FALSE(contains(r.err, "tempSecret")) << r.err;
  EXPECT_FALSE(contains(r.err, "tempToken")) << r.err;
}

// When the refreshed set is refused as well, the run stops as for any refused credentials
// (exit 6), after exactly one more try, and no address is marked failed.
TEST(credentials_e2e, a_refresh_that_does_not_help_stops_the_run_without_failing_addresses) {
  temp_dir dir;
  const auto past = sys::now() - 1h;
  write_file(dir / "accepted.json",
             "[" + temporary_set(1, past) + "," + temporary_set(2, past) + "]");
  write_file(dir / "first.json", temporary_set(1, past, /*show_expiry=*/false));
  write_file(dir / "next.json", temporary_set(2, past, /*show_expiry=*/false));
  emulator_process emu(
      {"--accounts", "acct-1", "--credentials-file", (dir / "accepted.json").string()},
      emulator_process::with_ledger());
  write_file(dir / "users.txt", numbered_addresses(10));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "1"}),
               process_env(dir, first_then_next(dir)), 1min);
  const std::string stats = emu.stats();
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(r.status, 6) << r.out << "\n" << r.err;
  EXPECT_EQ(json_counter(stats, "status.403"), 2u) << stats;
  EXPECT_EQ(read_file(dir / "count"), "2\n");
  EXPECT_TRUE(ledger_counts(emu.ledger_path()).empty());
  if (fs::exists(dir / "report.csv")) {
    EXPECT_FALSE(contains(read_file(dir / "report.csv"), ",failed,"));
  }
}

// A compressed long run: every set is valid for 45 to 60 s, the run lasts longer than several of
// them at a paced rate. The credentials must be refreshed before each expiry (no 403 at all),
// and the ledger must hold every address exactly once.
TEST(credentials_e2e, a_long_run_on_one_minute_credentials_refreshes_before_every_expiry) {
  constexpr int run_seconds = 100;
  constexpr int rate = 2;  // requests/s, 50 addresses each
  temp_dir dir;
  const auto start = sys::now();
  // Sets expiring every 15 s from start+60 s; the process picks the first with 45 s left.
  std::string accepted = "[";
  for (int n = 0; n < (run_seconds + 120) / 15; ++n) {
    const auto expiry = start + 60s + n * 15s;
    const std::string set = temporary_set(n, expiry);
    accepted += (n ? "," : "") + set;
    write_file(dir / ("set-" + std::to_string(sys::to_time_t(expiry)) + ".json"), set);
  }
  write_file(dir / "accepted.json", accepted + "]");
  const fs::path script = dir / "creds.sh";
  write_file(script, "d='" + dir.path().string() +
                         "'\n"
                         "now=$(date +%s)\n"
                         "echo \"$now\" >> \"$d/calls\"\n"
                         "for f in $(ls \"$d\"/set-*.json | sort); do\n"
                         "  e=${f##*/set-}; e=${e%.json}\n"
                         "  if [ \"$e\" -gt $((now + 45)) ]; then cat \"$f\"; exit 0; fi\n"
                         "done\n"
                         "exit 1\n");
  emulator_process emu(
      {"--accounts", "acct-1", "--credentials-file", (dir / "accepted.json").string()},
      emulator_process::with_ledger());
  const std::size_t addresses = std::size_t{run_seconds} * rate * 50;
  write_file(dir / "users.txt", numbered_addresses(addresses));

  auto r = paced_run(emu, dir, rate, process_env(dir, script), 5min);
  EXPECT_GT(sys::now() - start, 90s) << "the run must outlast the first set (60 s) by far";
  expect_every_request_signed_in_time(r, emu, addresses);
  // Refreshed ahead of expiry by the refresher (advisory), at least once per set outlived.
  EXPECT_GE(count(r.err, "credentials refreshed (advisory)"), 2u) << r.err;
  EXPECT_EQ(count(r.err, "as expired"), 0u) << r.err;
}

// An assumed role whose sets last 8 to 12 s, over a paced run of about 15 s: the chain hands the
// role's refetch (AssumeRole, signed with the source profile's keys) to the run's refresher,
// which replaces each set before the emulator would refuse it.
TEST(credentials_e2e, a_run_on_an_assumed_role_refreshes_it_before_every_expiry) {
  temp_dir dir;
  const auto start = sys::now();
  auto expiry = [start](int n) { return start + 8s + (n - 1) * 5s; };
  onboard::signing::credentials base;
  base.access_key_id = "AKIABASE";
  base.secret_access_key = onboard::signing::secret_string("baseSecret/K7MDENG");
  sts_service sts(base);
  sts.set_expiry(expiry);
  credential_responder server(sts.handler());
  // The emulator accepts exactly the sets STS will issue, each until its expiry.
  std::string accepted = "[";
  for (int n = 1; n <= 12; ++n) {
    const std::string id = "ASIANIGHTLY" + std::to_string(n);
    accepted += std::string(n > 1 ? "," : "") + R"({"Version": 1, "AccessKeyId": ")" + id +
                R"(", "SecretAccessKey": "secret/)" + id + R"(", "SessionToken": "token-)" + id +
                R"(", "Expiration": ")" + onboard::signing::format_iso8601(expiry(n)) + R"("})";
  }
  write_file(dir / "accepted.json", accepted + "]");
  write_file(dir / "config",
             "[default]\nrole_arn = arn:aws:iam::123456789012:role/Nightly\n"
             "source_profile = base\n");
  write_file(dir / "credentials",
             "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = baseSecret/K7MDENG\n");
  auto env = clean_env(dir.path());
  env.env_set["AWS_CONFIG_FILE"] = (dir / "config").string();
  env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (dir / "credentials").string();
  env.env_set["AWS_ENDPOINT_URL_STS"] = server.url("/");
  emulator_process emu(
      {"--accounts", "acct-1", "--credentials-file", (dir / "accepted.json").string()},
      emulator_process::with_ledger());
  constexpr int rate = 4;  // requests/s, 50 addresses each
  const std::size_t addresses = 15 * rate * 50;
  write_file(dir / "users.txt", numbered_addresses(addresses));

  auto r = paced_run(emu, dir, rate, env, 1min);
  EXPECT_GT(sys::now() - start, 10s) << "the run must outlast the first set";
  expect_every_request_signed_in_time(r, emu, addresses);
  EXPECT_TRUE(contains(r.err,
                       "credentials from assume-role (profile default via source_profile "
                       "base): key id …TLY1"))
      << r.err;
  EXPECT_GE(count(r.err, "credentials refreshed (advisory)"), 2u) << r.err;
  auto calls = sts.calls();
  EXPECT_GE(calls.size(), 3u);
  for (auto& c : calls) EXPECT_EQ(c["_verdict"], "ok");
}

}  // namespace
