// End to end, over TLS against the emulator process: one run over several accounts (a CSV
// account_id column). The identity of an address is (account, address) in dedupe, the journals
// (one per account), the report and the summary; a failed-only report fed back sends each address
// to its own account; a throttled account does not hold the others back; an unknown account stops
// only its own work.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// ledger_by_account: "account/address" -> times applied, from an emulator ledger.
std::map<std::string, int> ledger_by_account(const fs::path& ledger) {
  std::map<std::string, int> m;
  std::istringstream in(read_file(ledger));
  std::string line;
  while (std::getline(in, line)) {
    auto t1 = line.find('\t'), t2 = line.rfind('\t');
    if (t1 == std::string::npos || line.substr(0, t1) != "invite") continue;
    ++m[line.substr(t1 + 1, t2 - t1 - 1) + "/" + line.substr(t2 + 1)];
  }
  return m;
}

// account_of: the summary's line for `account` (throws when absent).
boost::json::object account_of(const boost::json::object& summary, std::string_view account) {
  for (const auto& a : summary.at("accounts").as_array())
    if (a.at("account_id").as_string() == account) return a.as_object();
  throw std::runtime_error("no summary line for account " + std::string(account));
}

// rows: `n` addresses `prefix`N@example.com for `account` (empty: the run's default), as CSV rows.
std::string rows(std::size_t n, const std::string& prefix, const std::string& account) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i)
    s += prefix + std::to_string(i) + "@example.com," + account + "\n";
  return s;
}

TEST(multi_account_e2e, three_accounts_and_one_address_in_two_of_them_each_get_it_once) {
  emulator_process emu({"--accounts", "acct-1,acct-2,acct-3"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.csv", "email,account_id\n" + rows(60, "one", "") +
                                    rows(70, "two", "acct-2") + rows(80, "three", "acct-3") +
                                    "shared@example.com,\n"
                                    "Shared@Example.com,acct-2\n"
                                    "shared@example.com,acct-2\n");  // a duplicate in acct-2
  auto argv = invite_argv(emu, dir / "users.csv", dir.path());
  auto r = run(argv, client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto s = parse_json_object(r.out);
  ASSERT_TRUE(s) << r.out;
  EXPECT_EQ(u64(*s, "invited"), 212u);
  EXPECT_EQ(u64(*s, "duplicates"), 1u);
  EXPECT_EQ(u64(account_of(*s, "acct-1"), "invited"), 61u);
  EXPECT_EQ(u64(account_of(*s, "acct-2"), "invited"), 71u);
  EXPECT_EQ(u64(account_of(*s, "acct-3"), "invited"), 80u);

  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  auto ledger = ledger_by_account(emu.ledger_path());
  EXPECT_EQ(ledger.size(), 212u);
  for (const auto& [who, n] : ledger) EXPECT_EQ(n, 1) << who << " applied " << n << " times";
  EXPECT_EQ(ledger["acct-1/shared@example.com"], 1);
  EXPECT_EQ(ledger["acct-2/Shared@example.com"], 1);  // the first copy, as written
  EXPECT_EQ(ledger.count("acct-3/shared@example.com"), 0u);

  // One journal per account; the report has every address with its account.
  EXPECT_TRUE(fs::exists(dir / "run.journal"));
  EXPECT_TRUE(fs::exists(dir / "run.invite-acct-2.journal"));
  EXPECT_TRUE(fs::exists(dir / "run.invite-acct-3.journal"));
  auto report = read_file(dir / "report.csv");
  EXPECT_TRUE(report.starts_with("email,account_id,outcome,")) << report.substr(0, 80);
  EXPECT_TRUE(contains(report, "\nshared@example.com,acct-1,invited,")) << report;
  EXPECT_TRUE(contains(report, "\nShared@example.com,acct-2,invited,")) << report;
  EXPECT_EQ(csv_lines(dir / "report.csv").size(), 212u);

  // status reads each account's journal; plan counts each account's addresses.
  r = run({cli(), "status", "--journal", (dir / "run.journal").string(), "--journal",
           (dir / "run.invite-acct-3.journal").string(), "--output", "json"},
          client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto nl = r.out.find('\n');
  auto first = parse_json_object(r.out.substr(0, nl)), second = parse_json_object(r.out.substr(nl));
  ASSERT_TRUE(first && second) << r.out;
  EXPECT_EQ(first->at("account_id").as_string(), "acct-1");
  EXPECT_EQ(u64(first->at("totals").as_object(), "invited"), 61u);
  EXPECT_EQ(second->at("account_id").as_string(), "acct-3");
  EXPECT_EQ(u64(second->at("totals").as_object(), "invited"), 80u);
  r = run({cli(), "plan", "--account-id", "acct-1", "--input", (dir / "users.csv").string(),
           "--output", "json"},
          client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto plan = parse_json_object(r.out);
  ASSERT_TRUE(plan) << r.out;
  EXPECT_EQ(u64(plan->at("accounts").as_object(), "acct-2"), 71u);

  // Run again: every account's journal says all is done; nothing is sent.
  emulator_process again({"--accounts", "acct-1,acct-2,acct-3"}, emulator_process::with_ledger());
  r = run(invite_argv(again, dir / "users.csv", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  s = parse_json_object(r.out);
  ASSERT_TRUE(s) << r.out;
  EXPECT_EQ(u64(*s, "already_done"), 212u);
  EXPECT_EQ(again.stat("status.201"), 0u);
}

TEST(multi_account_e2e, a_failed_only_report_fed_back_goes_to_the_right_accounts) {
  temp_dir dir;
  write_file(dir / "users.csv", "email,account_id\n" + rows(40, "ok", "") +
                                    "x1@bad.example,acct-2\nx2@bad.example,acct-3\n" +
                                    rows(40, "ok", "acct-2") + "x3@bad.example,acct-3\n");
  {
    emulator_process emu({"--accounts", "acct-1,acct-2,acct-3", "--refuse-domain", "bad.example"});
    auto r = run(invite_argv(emu, dir / "users.csv", dir.path()), client_env(dir.path()), 1min);
    ASSERT_EQ(r.status, 4) << r.err;
  }
  auto r = run({cli(), "report", "--journal", (dir / "run.journal").string(), "--journal",
                (dir / "run.invite-acct-2.journal").string(), "--journal",
                (dir / "run.invite-acct-3.journal").string(), "--failed-only", "--output-file",
                (dir / "retry.csv").string()},
               client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(csv_lines(dir / "retry.csv").size(), 3u) << read_file(dir / "retry.csv");

  // Fed back under the same default account (acct-1), each goes to its own account.
  emulator_process emu({"--accounts", "acct-1,acct-2,acct-3"}, emulator_process::with_ledger());
  auto argv = invite_argv(emu, dir / "retry.csv", dir.path(), {"--retry-failed"});
  r = run(argv, client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  EXPECT_EQ(ledger_by_account(emu.ledger_path()),
            (std::map<std::string, int>{{"acct-2/x1@bad.example", 1},
                                        {"acct-3/x2@bad.example", 1},
                                        {"acct-3/x3@bad.example", 1}}));
}

// elapsed_for: the run's time to `account`'s last outcome, from its summary line.
double elapsed_for(const run_result& r, std::string_view account) {
  auto s = parse_json_object(r.out);
  if (!s) throw std::runtime_error("no JSON summary: " + r.out + r.err);
  return boost::json::value_to<double>(account_of(*s, account).at("elapsed_seconds"));
}

TEST(multi_account_e2e, a_throttled_account_does_not_hold_the_others_back) {
  // Alone: 4,000 addresses into acct-1.
  double alone = 0;
  {
    emulator_process emu({"--accounts", "acct-1,acct-slow"});
    temp_dir dir;
    write_file(dir / "alone.csv", "email,account_id\n" + rows(4000, "fast", ""));
    auto r = run(invite_argv(emu, dir / "alone.csv", dir.path()), client_env(dir.path()), 1min);
    ASSERT_EQ(r.status, 0) << r.err;
    alone = elapsed_for(r, "acct-1");
  }
  // Beside: the same, interleaved with 500 addresses (10 batches) of an account the service
  // holds to 2 requests/s of its own. Both accounts' requests start under one limiter (one AWS
  // account); acct-slow's 429s, far more than its share of the requests, give it a limiter of
  // its own.
  std::string mixed = "email,account_id\n";
  for (std::size_t i = 0, slow = 0; i < 4000; ++i) {
    mixed += "fast" + std::to_string(i) + "@example.com,\n";
    if (i % 8 == 0 && slow < 500)
      mixed += "slow" + std::to_string(slow++) + "@example.com,acct-slow\n";
  }
  emulator_process emu({"--accounts", "acct-1,acct-slow", "--account-rate", "acct-slow=2"});
  temp_dir dir;
  write_file(dir / "mixed.csv", mixed);
  auto r = run(invite_argv(emu, dir / "mixed.csv", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  const double beside = elapsed_for(r, "acct-1");
  const double slow = elapsed_for(r, "acct-slow");
  std::printf(
      "acct-1: 4,000 addresses alone %.2f s, beside acct-slow (2 req/s) %.2f s (ratio %.2f); "
      "acct-slow's 500 took %.2f s; throttled %llu times\n",
      alone, beside, beside / alone, slow, static_cast<unsigned long long>(emu.stat("throttled")));
  EXPECT_GE(emu.stat("throttled"), 1u) << "the slow account was not held to its rate";
  EXPECT_GT(slow, beside) << "the slow account finished first: nothing was held back";
  // Generous: a shared queue took ~7x as long (issue 22: 2.0 s alone, 13.9 s beside).
  EXPECT_LT(beside, std::max(2.5 * alone, alone + 1.5));
}

TEST(multi_account_e2e, an_unknown_account_among_three_stops_only_itself) {
  emulator_process emu({"--accounts", "acct-1,acct-2"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.csv", "email,account_id\n" + rows(30, "a", "") + rows(20, "b", "acct-9") +
                                    rows(30, "c", "acct-2"));
  auto r = run(invite_argv(emu, dir / "users.csv", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "account acct-9 does not exist")) << r.err;
  EXPECT_TRUE(contains(r.err, "account acct-9 needs attention")) << r.err;
  auto s = parse_json_object(r.out);
  ASSERT_TRUE(s) << r.out;
  EXPECT_EQ(u64(account_of(*s, "acct-1"), "invited"), 30u);
  EXPECT_EQ(u64(account_of(*s, "acct-2"), "invited"), 30u);
  auto bad = account_of(*s, "acct-9");
  EXPECT_EQ(u64(bad, "invited"), 0u);
  EXPECT_EQ(u64(bad, "held_back"), 20u);
  EXPECT_FALSE(bad.at("problem").as_string().empty());
  EXPECT_FALSE(fs::exists(dir / "run.invite-acct-9.journal"));
  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  EXPECT_EQ(ledger_by_account(emu.ledger_path()).size(), 60u);
}

}  // namespace

namespace {

// --skip-existing: next week's export of the same people plus a few new ones. The members (more
// than one ListUsers page of 200) are recorded as `exists` and nothing is sent for them.
TEST(multi_account_e2e, skip_existing_sends_nothing_for_members) {
  emulator_process emu({"--accounts", "acct-1,acct-2"}, emulator_process::with_ledger());
  temp_dir week1, week2;
  write_file(week1 / "users.csv",
             "email,account_id\n" + rows(250, "a", "") + rows(30, "b", "acct-2"));
  auto r = run(invite_argv(emu, week1 / "users.csv", week1.path()), client_env(week1.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto posts = emu.stat("status.201");

  // A new journal (another folder): only ListUsers knows who is there.
  write_file(week2 / "users.csv", "email,account_id\n" + rows(255, "a", "") +
                                      rows(30, "b", "acct-2") + "new@example.com,acct-2\n");
  r = run(invite_argv(emu, week2 / "users.csv", week2.path(), {"--skip-existing"}),
          client_env(week2.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto s = parse_json_object(r.out);
  ASSERT_TRUE(s) << r.out;
  EXPECT_EQ(u64(*s, "exists"), 280u);
  EXPECT_EQ(u64(*s, "invited"), 6u);
  EXPECT_EQ(u64(account_of(*s, "acct-1"), "exists"), 250u);
  EXPECT_EQ(u64(account_of(*s, "acct-2"), "invited"), 1u);
  EXPECT_TRUE(contains(r.err, "account acct-1 has 250 users (2 ListUsers requests)")) << r.err;
  EXPECT_EQ(emu.stat("status.201") - posts, 2u) << "one POST per account, new addresses only";
  EXPECT_TRUE(contains(read_file(week2 / "report.csv"), "\na0@example.com,acct-1,exists,"));
  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  for (const auto& [who, n] : ledger_by_account(emu.ledger_path()))
    EXPECT_EQ(n, 1) << who << " applied " << n << " times";
}

}  // namespace
