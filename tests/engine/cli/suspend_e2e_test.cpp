// `chime-onboard suspend` end to end over TLS against the emulator: leavers' addresses found in
// one listing, suspended 50 a BatchSuspendUser, each reported; a second run is the resume.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <map>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

std::vector<std::string> suspend_argv(const emulator_process& emu, const fs::path& input,
                                      const fs::path& report) {
  return {cli(),      "suspend",       "--account-id",
          "acct-1",   "--input",       input.string(),
          "--report", report.string(), "--endpoint-url",
          emu.url(),  "--ca-bundle",   emu.ca_path().string(),
          "--yes"};
}

// outcomes: outcome -> addresses, from the report (email,user_id,outcome,...).
std::map<std::string, std::size_t> outcomes(const fs::path& report) {
  std::map<std::string, std::size_t> m;
  for (const auto& line : csv_lines(report)) {
    auto a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
    ++m[line.substr(b + 1, c - b - 1)];
  }
  return m;
}

TEST(suspend_e2e, leavers_are_suspended_in_batches_of_50_reported_and_a_rerun_resumes) {
  emulator_process emu({"--accounts", "acct-1", "--seed", "4"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(120));
  auto invited = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 60s);
  ASSERT_EQ(invited.status, 0) << invited.err;

  // 60 leavers (as a CSV with an email column, case changed) and two who never were members.
  std::string csv = "name,Email\n";
  for (int i = 0; i < 60; ++i)
    csv += "n" + std::to_string(i) + ",USER" + std::to_string(i) + "@Example.com\n";
  csv += "x,stranger@example.com\ny,user5@example.com\nz,other@example.org\n";
  write_file(dir / "leavers.csv", csv);

  auto r = run(suspend_argv(emu, dir / "leavers.csv", dir / "suspended.csv"),
               client_env(dir.path()), 60s);
  EXPECT_EQ(r.status, 4) << r.err;  // two addresses are not in the account
  EXPECT_TRUE(contains(r.err,
                       "60 suspended, 0 already suspended, 2 not in the account, 0 failed, "
                       "in 2 BatchSuspendUser requests"))
      << r.err;
  EXPECT_EQ(file_mode(dir / "suspended.csv"), 0600);
  EXPECT_EQ(outcomes(dir / "suspended.csv"),
            (std::map<std::string, std::size_t>{{"suspended", 60}, {"not_found", 2}}));

  // The account says so: 60 Suspended, 60 not.
  auto ex = run({cli(), "export-users", "--account-id", "acct-1", "--endpoint-url", emu.url(),
                 "--ca-bundle", emu.ca_path().string()},
                client_env(dir.path()), 60s);
  ASSERT_EQ(ex.status, 0) << ex.err;
  std::size_t suspended = 0;
  for (std::size_t at = 0; (at = ex.out.find(",Suspended,", at)) != std::string::npos; ++at)
    ++suspended;
  EXPECT_EQ(suspended, 60u);

  // Again: nothing left to send.
  auto again =
      run(suspend_argv(emu, dir / "leavers.csv", dir / "again.csv"), client_env(dir.path()), 60s);
  EXPECT_EQ(again.status, 4) << again.err;
  EXPECT_TRUE(contains(again.err,
                       "0 suspended, 60 already suspended, 2 not in the account, 0 "
                       "failed, in 0 BatchSuspendUser requests"))
      << again.err;
  ASSERT_EQ(emu.stop(), 0);
}

TEST(suspend_e2e, a_bad_address_names_the_file_line_and_field_and_nothing_is_sent) {
  emulator_process emu({"--accounts", "acct-1"});
  temp_dir dir;
  write_file(dir / "leavers.txt", "ok@example.com\nnot-an-address\n");
  auto r =
      run(suspend_argv(emu, dir / "leavers.txt", dir / "out.csv"), client_env(dir.path()), 30s);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "leavers.txt:2: email 'not-an-address'")) << r.err;
  // Read as the invite's input is (RFC 4180 quotes, a BOM, "E-mail" for email): a CSV row without
  // the email field names its file and line too, and so does a file that cannot be opened.
  write_file(dir / "leavers.csv", "\xEF\xBB\xBFname,E-mail\n\"Smith, Ann\",ann@example.com\nbob\n");
  r = run(suspend_argv(emu, dir / "leavers.csv", dir / "out.csv"), client_env(dir.path()), 30s);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "leavers.csv:3: ")) << r.err;
  r = run(suspend_argv(emu, dir / "absent.txt", dir / "out.csv"), client_env(dir.path()), 30s);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--input " + (dir / "absent.txt").string() + ": cannot open"))
      << r.err;
  EXPECT_EQ(json_counter(emu.stats(), "requests"), 0u);
  ASSERT_EQ(emu.stop(), 0);
}

}  // namespace
