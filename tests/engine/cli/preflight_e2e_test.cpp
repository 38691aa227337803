// End to end, over TLS against the emulator process: the pre-flight that `invite` and
// `create-users` run before writing or sending anything (GetAccount; ListUsers with
// max-results=1), and `chime-onboard check`, which runs it alone.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// expect_nothing_written: no journal, no report; `requests` API calls reached the emulator and
// none of them wrote (no POST: nothing answered 201, nothing refused for the account).
void expect_nothing_written(emulator_process& emu, const temp_dir& dir, std::uint64_t requests) {
  EXPECT_FALSE(fs::exists(dir / "run.journal"));
  EXPECT_FALSE(fs::exists(dir / "report.csv"));
  EXPECT_EQ(emu.stat("requests"), requests);
  EXPECT_EQ(emu.stat("status.201"), 0u);
  EXPECT_EQ(emu.stat("wrong_account_refusals"), 0u);
  EXPECT_EQ(emu.stat("invites_applied") + emu.stat("creates_applied"), 0u);
}

TEST(preflight_e2e, invite_into_a_non_team_account_is_refused_before_any_post) {
  emulator_process emu({"--accounts", "acct-1:EnterpriseDirectory::Head Office"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(120));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "account acct-1 (\"Head Office\") is EnterpriseDirectory")) << r.err;
  EXPECT_TRUE(contains(r.err, "Team accounts")) << r.err;
  EXPECT_TRUE(contains(r.err, "create-users")) << "names what to use instead: " << r.err;
  expect_nothing_written(emu, dir, 1);  // the GetAccount
}

TEST(preflight_e2e, suspended_or_unknown_accounts_and_create_users_on_team_are_refused) {
  emulator_process emu({"--accounts", "acct-1:Team:Suspended,team-2"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "is Team and Suspended")) << r.err;

  auto argv = invite_argv(emu, dir / "users.txt", dir.path());
  argv[3] = "acct-9";
  r = run(argv, client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "account acct-9 does not exist")) << r.err;

  argv = create_users_argv(emu, dir / "users.txt", dir.path());
  argv[3] = "team-2";
  r = run(argv, client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "CreateUser needs an Enterprise account")) << r.err;
  EXPECT_TRUE(contains(r.err, "chime-onboard invite")) << r.err;
  expect_nothing_written(emu, dir, 3);
}

TEST(preflight_e2e, a_missing_permission_is_named_as_its_iam_action) {
  emulator_process get_denied({"--accounts", "acct-1", "--deny-action", "chime:GetAccount"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10));
  auto r =
      run(invite_argv(get_denied, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "IAM permission chime:GetAccount")) << r.err;
  EXPECT_TRUE(contains(r.err, "not authorized to perform")) << r.err;
  expect_nothing_written(get_denied, dir, 1);

  emulator_process list_denied({"--accounts", "acct-1", "--deny-action", "chime:ListUsers"});
  r = run(invite_argv(list_denied, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "chime:ListUsers")) << r.err;
  EXPECT_TRUE(contains(r.err, "--in-doubt")) << r.err;
  expect_nothing_written(list_denied, dir, 2);
  // Without in-doubt verification the run does not need ListUsers.
  r = run(invite_argv(list_denied, dir / "users.txt", dir.path(), {"--in-doubt", "resend"}),
          client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(list_denied.stat("invites_applied"), 10u);
}

TEST(preflight_e2e, check_prints_what_it_found_and_exits_0_only_when_all_is_good) {
  emulator_process emu({"--accounts", "acct-1::Active:Sales,dir-1:EnterpriseOIDC"});
  temp_dir dir;
  auto r = run(check_argv(emu, "acct-1"), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "acct-1 \"Sales\": Team, Active")) << r.out;
  EXPECT_TRUE(contains(r.out, "from environment")) << "the credentials' source: " << r.out;
  EXPECT_TRUE(contains(r.out, emu.url() + " (from --endpoint-url)")) << r.out;
  EXPECT_TRUE(contains(r.out, "us-east-1 (from default)")) << r.out;
  EXPECT_TRUE(contains(r.out, "ok, certificate verified")) << r.out;
  EXPECT_TRUE(contains(r.out, "ListUsers   allowed")) << r.out;
  EXPECT_TRUE(contains(r.out, "all good")) << r.out;

  r = run(check_argv(emu, "dir-1"), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.out;
  EXPECT_TRUE(contains(r.out, "EnterpriseOIDC")) << r.out;
  r = run(check_argv(emu, "dir-1", {"--operation", "create"}), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(emu.stat("status.201"), 0u);

  emulator_process denied({"--accounts", "acct-1", "--deny-action", "chime:ListUsers"});
  r = run(check_argv(denied, "acct-1"), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.out;
  EXPECT_TRUE(contains(r.out, "ListUsers   NOT allowed")) << r.out;
  EXPECT_TRUE(contains(r.out, "chime:ListUsers")) << r.out;
}

}  // namespace
