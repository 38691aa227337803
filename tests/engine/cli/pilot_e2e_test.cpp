// A pilot before the full run: `--limit N` sends the first N addresses not yet done, on the same
// journal, and says how many remain; the full run then sends only the rest, nobody twice.
#include "cli_env.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

TEST(pilot, limit_sends_the_first_n_then_the_full_run_sends_only_the_rest) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(230));

  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--limit", "120"}),
               client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 120u) << r.out;
  EXPECT_EQ(u64(*j, "not_done"), 0u) << r.out;
  EXPECT_EQ(u64(*j, "limit"), 120u) << r.out;
  EXPECT_EQ(u64(*j, "remaining"), 110u) << r.out;
  EXPECT_TRUE(contains(r.err, "pilot done: 120 addresses sent (--limit 120); 110 remain")) << r.err;
  // The command for the rest is this one without --limit.
  auto hint = r.err.substr(r.err.find("pilot done"));
  EXPECT_FALSE(contains(hint, "--limit 120 ")) << hint;
  EXPECT_FALSE(contains(hint.substr(hint.find('\n')), "--limit")) << hint;
  EXPECT_EQ(emu.stat("invites_applied"), 120u);

  r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "already_done"), 120u) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 110u) << r.out;
  EXPECT_FALSE(j->contains("limit")) << r.out;
  EXPECT_FALSE(contains(r.err, "pilot")) << r.err;

  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  auto applied = ledger_counts(emu.ledger_path());
  EXPECT_EQ(applied.size(), 230u);
  for (const auto& [address, n] : applied) EXPECT_EQ(n, 1) << address << " invited twice";
}

// A limit beyond what is left is no pilot: everything is sent, as without it.
TEST(pilot, a_limit_larger_than_the_input_sends_everything) {
  emulator_process emu({"--accounts", "acct-1"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(70));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--limit", "500"}),
               client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 70u) << r.out;
  EXPECT_EQ(u64(*j, "not_done"), 0u) << r.out;
  EXPECT_EQ(emu.stat("invites_applied"), 70u);
}

}  // namespace
