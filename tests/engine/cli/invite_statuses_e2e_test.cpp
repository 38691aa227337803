// Every status pair an Invite can carry, end to end: the real `chime-onboard invite` against the
// real emulator over TLS, the emulator answering members Accepted/NotSent (--reinvite) or failing
// every email (--p-email-failed 1). Each pair must reach its own outcome in the summary (JSON),
// the report, `status` and the exit code, and --retry-failed must send what it promises to.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

constexpr std::size_t addresses = 60;  // two batches

// report_outcomes: outcome -> addresses, from a run's CSV report (its `outcome` column, found by
// the header: the columns' order is the report's to choose).
std::map<std::string, std::size_t> report_outcomes(const fs::path& report) {
  auto field = [](const std::string& line, std::size_t n) {
    std::size_t a = 0;
    for (std::size_t i = 0; i < n; ++i) a = line.find(',', a) + 1;
    return line.substr(a, line.find(',', a) - a);
  };
  const std::string header = read_file(report).substr(0, read_file(report).find('\n'));
  std::size_t column = 0;
  while (column < 64 && field(header, column) != "outcome") ++column;
  std::map<std::string, std::size_t> m;
  for (const auto& line : csv_lines(report)) ++m[field(line, column)];
  return m;
}

// run_json: one `invite` of `input` with its journal and report in `dir`: the exit status and
// the summary object (empty when the output was not JSON).
struct run_outcome {
  int status = -1;
  boost::json::object summary;
  std::string err;
};

run_outcome invite(const emulator_process& emu, const fs::path& input, const fs::path& dir,
                   std::vector<std::string> extra = {}) {
  fs::create_directories(dir);
  auto r = run(invite_argv(emu, input, dir, std::move(extra)), client_env(dir), 60s);
  run_outcome o{.status = r.status, .summary = {}, .err = r.err};
  if (auto j = parse_json_object(r.out)) o.summary = *j;
  return o;
}

// status_totals: `chime-onboard status --output json`'s totals for the journal in `dir`.
boost::json::object status_totals(const fs::path& dir) {
  auto r = run({cli(), "status", "--journal", (dir / "run.journal").string(), "--output", "json"},
               clean_env(dir), 30s);
  auto j = parse_json_object(r.out);
  if (r.status != 0 || !j) ADD_FAILURE() << r.status << "\n" << r.out << r.err;
  return j ? j->at("totals").as_object() : boost::json::object{};
}

// members: an emulator whose account already holds the addresses of `input`, invited by a first
// run (in dir/first) that saw them emailed.
void make_members(const emulator_process& emu, const fs::path& input, const fs::path& dir) {
  auto first = invite(emu, input, dir / "first");
  ASSERT_EQ(first.status, 0) << first.err;
  ASSERT_EQ(u64(first.summary, "invited"), addresses);
}

TEST(invite_statuses_e2e, accepted_member_is_exists_no_email_and_exit_0) {
  emulator_process emu({"--accounts", "acct-1", "--reinvite", "accepted", "--seed", "3"},
                       emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(addresses));
  make_members(emu, dir / "users.txt", dir.path());

  auto again = invite(emu, dir / "users.txt", dir / "again");
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(u64(again.summary, "exists"), addresses);
  EXPECT_EQ(u64(again.summary, "invited"), 0u);
  EXPECT_EQ(u64(again.summary, "not_sent"), 0u);
  EXPECT_EQ(report_outcomes(dir / "again" / "report.csv"),
            (std::map<std::string, std::size_t>{{"exists", addresses}}));
  auto totals = status_totals(dir / "again");
  EXPECT_EQ(u64(totals, "exists"), addresses);
  EXPECT_EQ(u64(totals, "invited"), 0u);
  ASSERT_EQ(emu.stop(), 0);
  for (const auto& [address, n] : ledger_counts(emu.ledger_path()))
    EXPECT_EQ(n, 1) << address << ": a member was applied again";
}

TEST(invite_statuses_e2e, pending_not_sent_is_its_own_outcome_exit_4_retried_only_on_request) {
  emulator_process emu({"--accounts", "acct-1", "--reinvite", "not-sent", "--seed", "3"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(addresses));
  make_members(emu, dir / "users.txt", dir.path());

  const fs::path again_dir = dir / "again";
  auto again = invite(emu, dir / "users.txt", again_dir);
  EXPECT_EQ(again.status, 4) << again.err;
  EXPECT_EQ(u64(again.summary, "not_sent"), addresses);
  EXPECT_EQ(u64(again.summary, "invited"), 0u);
  EXPECT_EQ(u64(again.summary, "failed"), 0u);
  EXPECT_EQ(report_outcomes(again_dir / "report.csv"),
            (std::map<std::string, std::size_t>{{"not_sent", addresses}}));
  EXPECT_EQ(u64(status_totals(again_dir), "not_sent"), addresses);
  auto text = run({cli(), "status", "--journal", (again_dir / "run.journal").string()},
                  clean_env(dir.path()), 30s);
  EXPECT_TRUE(contains(text.out, "not sent")) << text.out;

  // A plain resume leaves them be; --retry-failed invites them again.
  auto resumed = invite(emu, dir / "users.txt", again_dir);
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(u64(resumed.summary, "already_done"), addresses);
  EXPECT_EQ(u64(resumed.summary, "not_sent"), 0u);
  auto retried = invite(emu, dir / "users.txt", again_dir, {"--retry-failed"});
  EXPECT_EQ(retried.status, 4) << retried.err;
  EXPECT_EQ(u64(retried.summary, "already_done"), 0u);
  EXPECT_EQ(u64(retried.summary, "not_sent"), addresses);
  ASSERT_EQ(emu.stop(), 0);
}

TEST(invite_statuses_e2e, email_failed_is_failed_with_its_reason_and_retried_by_retry_failed) {
  emulator_process emu({"--accounts", "acct-1", "--p-email-failed", "1", "--seed", "3"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(addresses));

  auto first = invite(emu, dir / "users.txt", dir.path());
  EXPECT_EQ(first.status, 4) << first.err;
  EXPECT_EQ(u64(first.summary, "failed"), addresses);
  EXPECT_EQ(u64(first.summary, "invited"), 0u);
  EXPECT_EQ(u64(first.summary.at("failed_by_code").as_object(), "EmailFailed"), addresses);
  EXPECT_EQ(report_outcomes(dir / "report.csv"),
            (std::map<std::string, std::size_t>{{"failed", addresses}}));
  EXPECT_TRUE(contains(read_file(dir / "report.csv"), "EmailStatus Failed"));
  EXPECT_EQ(u64(status_totals(dir.path()), "failed"), addresses);

  auto retried = invite(emu, dir / "users.txt", dir.path(), {"--retry-failed"});
  EXPECT_EQ(retried.status, 4) << retried.err;
  EXPECT_EQ(u64(retried.summary, "already_done"), 0u);
  EXPECT_EQ(u64(retried.summary, "failed"), addresses);
  ASSERT_EQ(emu.stop(), 0);
}

}  // namespace
