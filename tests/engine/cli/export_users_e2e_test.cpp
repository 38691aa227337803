// `chime-onboard export-users` end to end over TLS against the emulator: every user, paged by
// ListUsers (200 a page), in CSV (a 0600 file) and JSON Lines, with the model's columns.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

std::vector<std::string> export_argv(const emulator_process& emu, std::vector<std::string> extra) {
  std::vector<std::string> argv = {cli(),         "export-users",        "--account-id",
                                   "acct-1",      "--endpoint-url",      emu.url(),
                                   "--ca-bundle", emu.ca_path().string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(export_users_e2e, every_user_in_pages_of_200_to_a_private_csv_and_to_jsonl) {
  emulator_process emu({"--accounts", "acct-1", "--seed", "9"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(450));
  auto invited = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 60s);
  ASSERT_EQ(invited.status, 0) << invited.err;

  auto r =
      run(export_argv(emu, {"--out", (dir / "members.csv").string()}), client_env(dir.path()), 60s);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "exported 450 users of account acct-1 in 3 ListUsers requests"))
      << r.err;
  EXPECT_EQ(file_mode(dir / "members.csv"), 0600);
  const std::string csv = read_file(dir / "members.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "UserId,PrimaryEmail,UserType,LicenseType,UserInvitationStatus,"
            "UserRegistrationStatus,InvitedOn");
  std::set<std::string> emails;
  for (const auto& line : csv_lines(dir / "members.csv")) {
    std::vector<std::string> cells;
    std::istringstream in(line);
    for (std::string c; std::getline(in, c, ',');) cells.push_back(c);
    ASSERT_EQ(cells.size(), 7u) << line;
    EXPECT_EQ(cells[0].size(), 36u) << line;  // a UUID
    EXPECT_EQ(cells[2], "PrivateUser");
    EXPECT_EQ(cells[4], "Pending");
    EXPECT_EQ(cells[5], "Unregistered");
    EXPECT_FALSE(cells[6].empty());
    emails.insert(cells[1]);
  }
  EXPECT_EQ(emails.size(), 450u);
  EXPECT_EQ(emails.count("user449@example.com"), 1u);

  auto jl = run(export_argv(emu, {"--output", "jsonl"}), client_env(dir.path()), 60s);
  ASSERT_EQ(jl.status, 0) << jl.err;
  std::istringstream lines(jl.out);
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    auto o = parse_json_object(line);
    ASSERT_TRUE(o) << line;
    EXPECT_EQ(o->size(), 7u);
    EXPECT_TRUE(o->contains("PrimaryEmail"));
  }
  EXPECT_EQ(n, 450u);
  ASSERT_EQ(emu.stop(), 0);
}

TEST(export_users_e2e, a_refusal_names_the_permission_and_writes_nothing) {
  emulator_process emu({"--accounts", "acct-1", "--deny-action", "chime:ListUsers"});
  temp_dir dir;
  auto r =
      run(export_argv(emu, {"--out", (dir / "members.csv").string()}), client_env(dir.path()), 60s);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "chime:ListUsers")) << r.err;
  EXPECT_FALSE(fs::exists(dir / "members.csv"));
  auto bad = run(export_argv(emu, {"--output", "xml"}), client_env(dir.path()), 30s);
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "--output")) << bad.err;
  ASSERT_EQ(emu.stop(), 0);
}

}  // namespace
