// A run the service refuses as a whole, end to end over TLS against the emulator: every InviteUsers
// answered 400 with one message stops the run within a few requests (exit 7, nobody failed,
// everything left for a resume) instead of bisecting the corpus; and --max-failures stops a run
// whose addresses fail past the limit, also with exit 7 and the resume command.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

TEST(systemic_refusal_e2e, every_batch_refused_alike_stops_within_200_requests_nobody_failed) {
  emulator_process emu({"--accounts", "acct-1", "--invite-fault", "400", "--seed", "5"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(1000));  // 20 batches; bisected: ~2,000 requests

  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 60s);
  EXPECT_EQ(r.status, 7) << r.err;
  auto summary = parse_json_object(r.out);
  ASSERT_TRUE(summary) << r.out << r.err;
  EXPECT_EQ(u64(*summary, "failed"), 0u);
  EXPECT_EQ(u64(*summary, "invited"), 0u);
  EXPECT_TRUE(contains(r.err, "Service received a bad request")) << r.err;
  EXPECT_TRUE(contains(r.err, "resume with")) << r.err;
  const std::uint64_t refused = json_counter(emu.stats(), "status.400");
  EXPECT_GE(refused, 10u);
  EXPECT_LE(refused, 200u);

  // Every address is still to be sent: none failed, none in doubt.
  auto st = run({cli(), "status", "--journal", (dir / "run.journal").string(), "--output", "json"},
                clean_env(dir.path()), 30s);
  auto totals = parse_json_object(st.out);
  ASSERT_TRUE(totals) << st.out << st.err;
  const auto& t = totals->at("totals").as_object();
  EXPECT_EQ(u64(t, "failed"), 0u);
  EXPECT_EQ(u64(t, "in_doubt"), 0u);
  ASSERT_EQ(emu.stop(), 0);

  // The cause fixed (here: a service that accepts), the same command sends every address once.
  emulator_process fixed({"--accounts", "acct-1", "--seed", "5"}, emulator_process::with_ledger());
  auto resumed =
      run(invite_argv(fixed, dir / "users.txt", dir.path()), client_env(dir.path()), 60s);
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  ASSERT_EQ(fixed.stop(), 0);
  auto applied = ledger_counts(fixed.ledger_path());
  EXPECT_EQ(applied.size(), 1000u);
  for (const auto& [address, n] : applied) EXPECT_EQ(n, 1) << address;
}

TEST(systemic_refusal_e2e, max_failures_stops_the_run_once_the_limit_is_reached) {
  // Every other address is refused, each with its own message: not systemic, bisected.
  emulator_process emu(
      {"--accounts", "acct-1", "--refuse-domain", "refused.example", "--seed", "5"});
  temp_dir dir;
  std::string corpus;
  for (int i = 0; i < 1000; ++i)
    corpus += "user" + std::to_string(i) + (i % 2 ? "@refused.example\n" : "@example.com\n");
  write_file(dir / "users.txt", corpus);

  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(),
                           {"--max-failures", "20", "--connections", "2"}),
               client_env(dir.path()), 60s);
  EXPECT_EQ(r.status, 7) << r.err;
  auto summary = parse_json_object(r.out);
  ASSERT_TRUE(summary) << r.out << r.err;
  EXPECT_GE(u64(*summary, "failed"), 20u);
  EXPECT_LT(u64(*summary, "failed"), 500u);
  EXPECT_GT(u64(*summary, "not_done") + u64(*summary, "failed") + u64(*summary, "invited"), 0u);
  EXPECT_TRUE(contains(r.err, "--max-failures 20")) << r.err;
  EXPECT_TRUE(contains(r.err, "resume with")) << r.err;

  auto bad = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--max-failures", "0"}),
                 client_env(dir.path()), 30s);
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "--max-failures")) << bad.err;
  ASSERT_EQ(emu.stop(), 0);
}

}  // namespace
