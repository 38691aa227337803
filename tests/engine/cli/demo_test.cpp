// The README's main command, `chime-onboard demo`, as a user on a fresh machine runs it: a real
// process with nothing configured (HOME is an empty folder, no AWS_* variable at all), so the demo
// must need no credentials, region, endpoint or CA of its own. A smaller corpus keeps CI fast.
#include "cli_env.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

TEST(demo, runs_with_nothing_configured_and_accounts_for_every_row) {
  temp_dir home;
  const fs::path dir = home / "demo";
  auto r = run({cli(), "demo", "--rows", "20000", "--dir", dir.string(), "--progress", "plain",
                "--output", "json"},
               clean_env(home.path()), 2min);

  // The generated corpus has ~1% invalid lines and the demo emulator fails 0.05% of invites: a
  // real run would exit 3 or 4, but these are planted, part of the show: the demo exits 0 and
  // says why (a newcomer checking $? must not read a failure).
  ASSERT_EQ(r.status, 0) << r.err;

  // The JSON summary on stdout: present, and its numbers add up.
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  for (const char* key : {"lines", "accepted", "rejected", "rejected_total", "duplicates",
                          "already_done", "invited", "failed", "exists", "not_done"})
    ASSERT_TRUE(j->contains(key)) << key << " missing in " << r.out;
  const auto invited = u64(*j, "invited"), failed = u64(*j, "failed"), exists = u64(*j, "exists");
  EXPECT_EQ(u64(*j, "lines"), 20000u);
  EXPECT_EQ(invited + failed + exists, u64(*j, "accepted") - u64(*j, "already_done")) << r.out;
  EXPECT_EQ(u64(*j, "not_done"), 0u) << r.out;
  EXPECT_GT(u64(*j, "rejected_total"), 0u) << r.out;
  EXPECT_GT(u64(*j, "duplicates"), 0u) << r.out;
  // With ~18,000 addresses, no failed invite at all is a 1-in-10,000 event.
  EXPECT_TRUE(contains(r.err, "everything behaved as designed")) << r.err;
  EXPECT_TRUE(contains(r.err, std::string("a real run would exit ") + (failed > 0 ? "4" : "3")))
      << r.err;

  // stderr: where the journal is, and what to do next (status, report of the failed ones).
  const fs::path journal = dir / "demo.journal";
  EXPECT_TRUE(contains(r.err, "journal: " + journal.string())) << r.err;
  EXPECT_TRUE(contains(r.err, "resume")) << r.err;
  EXPECT_TRUE(contains(r.err, "next: chime-onboard status --journal " + journal.string())) << r.err;
  EXPECT_TRUE(contains(
      r.err, "chime-onboard report --journal " + journal.string() + " --format csv --failed-only"))
      << r.err;
  EXPECT_TRUE(contains(r.err, "100.0%")) << "plain progress reaches the end: " << r.err;
  EXPECT_FALSE(contains(r.err, "\r")) << "--progress plain never redraws";

  // The report: 0600 (addresses are personal data), one row per address sent, each once.
  const fs::path report = dir / "report.csv";
  ASSERT_EQ(file_mode(report), 0600) << report;
  // The picture, named at the end (its failed addresses are personal data too).
  EXPECT_EQ(file_mode(dir / "demo.html"), 0600);
  EXPECT_TRUE(contains(r.err, "picture: " + (dir / "demo.html").string())) << r.err;
  auto rows = csv_lines(report);
  EXPECT_EQ(rows.size(), invited + failed + exists);
  std::set<std::string> reported;
  std::size_t failed_rows = 0;
  for (const auto& row : rows) {
    reported.insert(row.substr(0, row.find(',')));
    failed_rows += contains(row, ",failed,");
  }
  EXPECT_EQ(reported.size(), rows.size()) << "an address appears twice in the report";
  EXPECT_EQ(failed_rows, failed);

  // The service side: nobody invited twice, and exactly the invited ones applied.
  auto applied = ledger_counts(dir / "emulator-ledger.tsv");
  std::size_t twice = 0;
  for (const auto& [address, n] : applied) twice += n > 1;
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(applied.size(), invited + exists);
}

}  // namespace
