// The README's retry loop, end to end: a run where the service fails addresses, `report
// --failed-only` to a file, and that file fed back as --input with --retry-failed. The report is
// safe to open in a spreadsheet (cells that would run as formulas get a leading '), and reading it
// back undoes that: the retried addresses are exactly the original ones.
#include "cli_env.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// csv_cells: the cells of one CSV record on one line (RFC 4180 quoting, no embedded newlines).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

TEST(report_roundtrip, failed_only_report_fed_back_retries_exactly_the_original_addresses) {
  // Addresses a spreadsheet would take for formulas (valid: - + = are atext), and ordinary ones.
  const std::set<std::string> originals = {"-dash@example.com",   "+plus@example.com",
                                           "=eq@example.com",     "first+tag@example.com",
                                           "o'brien@example.com", "plain@example.com"};
  temp_dir dir;
  std::string corpus;
  for (const auto& a : originals) corpus += a + "\n";
  write_file(dir / "users.txt", corpus);
  const fs::path journal = dir / "run.journal";

  // 1. The service fails every invite.
  {
    emulator_process failing({"--accounts", "acct-1", "--p-failed-invite", "1"},
                             emulator_process::with_ledger());
    auto r = run(invite_argv(failing, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
    ASSERT_EQ(r.status, 4) << r.err;
    auto j = parse_json_object(r.out);
    ASSERT_TRUE(j) << r.out;
    ASSERT_EQ(u64(*j, "failed"), originals.size()) << r.out;
    ASSERT_EQ(failing.stop(), 0);
    EXPECT_TRUE(ledger_counts(failing.ledger_path()).empty());
  }

  // 2. The failed ones, as a file meant to be fed back.
  const fs::path failed = dir / "failed.csv";
  auto rep = run({cli(), "report", "--journal", journal.string(), "--format", "csv",
                  "--failed-only", "--output-file", failed.string()},
                 clean_env(dir.path()), 30s);
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_EQ(file_mode(failed), 0600);
  auto text = read_file(failed);
  ASSERT_EQ(text.substr(0, text.find('\n')).substr(0, 6), "email,") << text;
  auto rows = csv_lines(failed);
  ASSERT_EQ(rows.size(), originals.size()) << text;
  std::set<std::string> shown;
  for (const auto& row : rows) {
    auto cells = csv_cells(row);
    shown.insert(cells.at(0));
    EXPECT_NE(row.find(",failed,"), std::string::npos) << row;
    for (const auto& cell : cells)
      EXPECT_FALSE(!cell.empty() && std::string("=+-@").find(cell[0]) != std::string::npos)
          << "a spreadsheet would evaluate this cell: " << cell << "\n"
          << row;
  }
  EXPECT_EQ(shown.count("'-dash@example.com"), 1u) << text;
  EXPECT_EQ(shown.count("'+plus@example.com"), 1u) << text;
  EXPECT_EQ(shown.count("'=eq@example.com"), 1u) << text;
  EXPECT_EQ(shown.count("first+tag@example.com"), 1u)
      << "only a leading character matters: " << text;
  EXPECT_EQ(shown.count("o'brien@example.com"), 1u) << text;

  // 3. Fed back to a service that now accepts them, with the same journal.
  emulator_process healthy({"--accounts", "acct-1"}, emulator_process::with_ledger());
  auto argv = invite_argv(healthy, failed, dir.path(), {"--retry-failed"});
  auto r = run(argv, client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), originals.size()) << r.out;
  EXPECT_EQ(u64(*j, "rejected_total"), 0u) << r.out;
  ASSERT_EQ(healthy.stop(), 0);
  auto applied = ledger_counts(healthy.ledger_path());
  std::set<std::string> arrived;
  for (const auto& [address, n] : applied) {
    EXPECT_EQ(n, 1) << address;
    arrived.insert(address);
  }
  EXPECT_EQ(arrived, originals) << "the addresses must arrive exactly as the originals";

  // 4. The journal now says they are all done: nothing failed is left.
  auto again =
      run({cli(), "report", "--journal", journal.string(), "--format", "csv", "--failed-only"},
          clean_env(dir.path()), 30s);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out.find(",failed,"), std::string::npos)
      << "no failed address left: " << again.out;
}

// One connection turns response after response into outcomes in the same reused storage, so no
// row may carry anything an earlier address's row said: an invited address never shows an error,
// a failed one always its own, and every id and address appears once. With --retry-failed the
// failed addresses of each response are sent once more, as a smaller batch of their own.
void expect_rows_consistent(bool retry_failed) {
  SCOPED_TRACE(retry_failed ? "--retry-failed" : "no retry");
  constexpr std::size_t n = 600;  // 12 responses, each with some Failed invites
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(n));
  emulator_process emu({"--accounts", "acct-1", "--p-failed-invite", "0.3", "--seed", "5"},
                       emulator_process::with_ledger());
  std::vector<std::string> extra = {"--connections", "1"};
  if (retry_failed) extra.push_back("--retry-failed");
  auto r =
      run(invite_argv(emu, dir / "users.txt", dir.path(), extra), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 4) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto applied = ledger_counts(emu.ledger_path());

  const std::string text = read_file(dir / "report.csv");
  const std::vector<std::string> header = csv_cells(text.substr(0, text.find('\n')));
  auto column = [&](std::string_view name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name << " column missing: " << text.substr(0, 200);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t email = column("email"), outcome = column("outcome"), id = column("id"),
                    status = column("status"), email_status = column("email_status"),
                    error_code = column("error_code"), message = column("message"),
                    attempts = column("attempts");
  std::set<std::string> emails, ids;
  std::size_t invited = 0, failed = 0, invited_on_retry = 0;
  for (const auto& row : csv_lines(dir / "report.csv")) {
    auto c = csv_cells(row);
    ASSERT_EQ(c.size(), header.size()) << row;
    EXPECT_TRUE(emails.insert(c[email]).second) << "address reported twice: " << row;
    if (c[outcome] == "invited") {
      ++invited;
      EXPECT_EQ(c[error_code], "") << row;
      EXPECT_EQ(c[message], "") << row;
      EXPECT_NE(c[status], "Failed") << row;
      EXPECT_EQ(applied.count(c[email]), 1u) << "reported invited, not applied: " << row;
      EXPECT_TRUE(!c[id].empty() && ids.insert(c[id]).second) << "missing or repeated id: " << row;
      if (c[attempts] == "2") ++invited_on_retry;
    } else {
      ++failed;
      EXPECT_EQ(c[outcome], "failed") << row;
      EXPECT_EQ(c[error_code], "InviteFailed") << row;
      EXPECT_EQ(c[status], "Failed") << row;
      EXPECT_EQ(c[message], "the service reported Status Failed, EmailStatus " + c[email_status])
          << row;
      EXPECT_EQ(applied.count(c[email]), 0u) << "reported failed, but applied: " << row;
      EXPECT_EQ(c[attempts], retry_failed ? "2" : "1") << row;
    }
  }
  EXPECT_EQ(emails.size(), n);
  EXPECT_EQ(invited, applied.size());
  EXPECT_GT(invited, n / 2);
  EXPECT_GT(failed, retry_failed ? n / 50 : n / 10);
  if (retry_failed)
    EXPECT_GT(invited_on_retry, n / 10) << "the retries went through";
  else
    EXPECT_EQ(invited_on_retry, 0u);
}

TEST(report_roundtrip, each_row_says_only_what_its_own_invite_said) {
  expect_rows_consistent(false);
}

TEST(report_roundtrip, each_row_says_only_what_its_own_invite_said_with_retry_failed) {
  expect_rows_consistent(true);
}

// After a resume, --report is written from the journal: every address of every run on it, not
// only the last run's, with where this run read each address it settled; and `report` has the
// same columns, so one file format serves both.
TEST(report_roundtrip, after_a_resume_the_report_holds_every_run_in_the_columns_of_report) {
  temp_dir dir;
  const std::string all = numbered_addresses(250);
  write_file(dir / "first.txt", all.substr(0, all.find("user100@")));
  write_file(dir / "users.txt", all);
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  auto r = run(invite_argv(emu, dir / "first.txt", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(ledger_counts(emu.ledger_path()).size(), 250u);

  const std::string text = read_file(dir / "report.csv");
  const std::string header = text.substr(0, text.find('\n'));
  const auto columns = csv_cells(header);
  auto column = [&](std::string_view name) {
    auto it = std::find(columns.begin(), columns.end(), name);
    EXPECT_NE(it, columns.end()) << name << " column missing: " << header;
    return static_cast<std::size_t>(it - columns.begin());
  };
  const std::size_t email = column("email"), outcome = column("outcome"), source = column("source"),
                    line = column("line");
  std::set<std::string> reported;
  for (const auto& row : csv_lines(dir / "report.csv")) {
    auto c = csv_cells(row);
    ASSERT_EQ(c.size(), columns.size()) << row;
    EXPECT_TRUE(reported.insert(c[email]).second) << "reported twice: " << row;
    EXPECT_EQ(c[outcome], "invited") << row;
    const auto n = std::stoul(c[email].substr(4));  // userN@example.com is line N + 1
    if (n >= 100) {
      EXPECT_EQ(c[source], (dir / "users.txt").string()) << row;
      EXPECT_EQ(c[line], std::to_string(n + 1)) << row;
    } else {
      EXPECT_EQ(c[source], "") << "the first run read it, this one skipped it: " << row;
      EXPECT_EQ(c[line], "0") << row;
    }
  }
  EXPECT_EQ(reported.size(), 250u) << "both runs' addresses, each once";
  EXPECT_EQ(file_mode(dir / "report.csv"), 0600);

  auto rep = run({cli(), "report", "--journal", (dir / "run.journal").string()},
                 clean_env(dir.path()), 30s);
  ASSERT_EQ(rep.status, 0) << rep.err;
  EXPECT_EQ(rep.out.substr(0, rep.out.find('\n')), header) << "report and --report columns differ";
  EXPECT_EQ(std::count(rep.out.begin(), rep.out.end(), '\n'), 251);
}

}  // namespace
