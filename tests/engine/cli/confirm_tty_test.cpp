// The question `invite` asks before its first email, as a person at a terminal meets it: a real
// pseudo-terminal, a real emulator whose counters say whether anything was sent, and the files a
// run would write checked for absence. Without a terminal, the run refuses to start unless --yes.
#include "cli_env.hpp"
#include "pty_session.hpp"

#include <onboard/cli/confirm.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// asking_argv: invite_argv without its --yes: the run asks.
std::vector<std::string> asking_argv(const emulator_process& emu, const fs::path& input,
                                     const fs::path& dir, std::vector<std::string> extra = {}) {
  auto argv = invite_argv(emu, input, dir, std::move(extra));
  argv.erase(std::find(argv.begin(), argv.end(), "--yes"));
  return argv;
}

// preflight_reads: what a run asks before the question: GetAccount and ListUsers (max-results=1).
// Reads only; the question comes before any write.
constexpr std::uint64_t preflight_reads = 2;

struct fixture {
  emulator_process emu{{"--accounts", "acct-1"}};
  temp_dir dir;
  fixture() {
    // 60 addresses, one of them twice and one line no mail system takes: 60 to email.
    write_file(dir / "users.txt", numbered_addresses(60) + "USER7@example.com\nnot-an-address\n");
  }
  // nothing_written: no journal, no report, no state folder.
  // `reads`: the pre-flight's, or 0 for a run refused before it (no terminal, no --yes).
  void expect_nothing_sent_or_written(std::uint64_t reads = preflight_reads) {
    EXPECT_EQ(emu.stat("requests"), reads) << "only the pre-flight's reads";
    EXPECT_EQ(emu.stat("status.201"), 0u);
    EXPECT_EQ(emu.stat("invites_applied"), 0u);
    EXPECT_FALSE(fs::exists(dir / "run.journal"));
    EXPECT_FALSE(fs::exists(dir / "report.csv"));
    EXPECT_FALSE(fs::exists(dir / ".local"));
  }
};

TEST(confirm, is_yes_takes_y_and_yes_in_any_case_and_nothing_else) {
  for (const char* yes : {"y", "Y", "yes", "YES", "Yes", "  y ", "yes\r"})
    EXPECT_TRUE(onboard::is_yes(yes)) << yes;
  for (const char* no : {"", "n", "no", "ye", "yess", "yes please", "sure", "1", "oui"})
    EXPECT_FALSE(onboard::is_yes(no)) << no;
  EXPECT_EQ(onboard::group_thousands(987654), "987,654");
  EXPECT_EQ(onboard::group_thousands(1000), "1,000");
  EXPECT_EQ(onboard::group_thousands(999), "999");
}

TEST(confirm, y_at_the_terminal_sends_after_a_banner_and_a_question_with_the_count) {
  fixture f;
  pty_session s(asking_argv(f.emu, f.dir / "users.txt", f.dir.path()), client_env(f.dir.path()),
                120);
  ASSERT_TRUE(s.wait_for("[y/N] ", 20s)) << s.output();
  const std::string before = s.output();
  EXPECT_TRUE(contains(before, "Send 60 invitation emails to account acct-1? [y/N] ")) << before;
  // The banner came first: the account, the endpoint and its source, the counts, the files.
  EXPECT_TRUE(contains(before, "invite: account acct-1")) << before;
  EXPECT_TRUE(contains(before, f.emu.url() + " (--endpoint-url)")) << before;
  EXPECT_TRUE(contains(before, "60 to email; 1 rejected, 1 duplicates, 0 already done")) << before;
  EXPECT_TRUE(contains(before, (f.dir / "run.journal").string())) << before;
  EXPECT_TRUE(contains(before, "report " + (f.dir / "report.csv").string())) << before;
  EXPECT_LT(before.find("invite: account"), before.find("Send 60")) << before;
  // Asking wrote nothing yet.
  EXPECT_FALSE(fs::exists(f.dir / "run.journal"));
  EXPECT_EQ(f.emu.stat("requests"), preflight_reads);

  s.type("y\r");
  auto status = s.wait(60s);
  ASSERT_TRUE(status) << s.output();
  EXPECT_EQ(*status, 3) << "done, one line rejected: " << s.output();
  EXPECT_EQ(f.emu.stat("invites_applied"), 60u);
}

TEST(confirm, anything_but_yes_or_the_end_of_input_sends_and_writes_nothing) {
  // Each answer, then Enter; Ctrl-D at the start of the line ends the input.
  for (const std::string keys : {"n\r", "\r", "yes please\r", "no\r", "\x04"}) {
    fixture f;
    pty_session s(asking_argv(f.emu, f.dir / "users.txt", f.dir.path()), client_env(f.dir.path()),
                  80);
    ASSERT_TRUE(s.wait_for("[y/N] ", 20s)) << s.output();
    s.type(keys);
    auto status = s.wait(20s);
    ASSERT_TRUE(status) << s.output();
    EXPECT_EQ(*status, 5) << s.output();
    EXPECT_TRUE(contains(s.output(), "not confirmed; nothing was sent or written")) << s.output();
    f.expect_nothing_sent_or_written();
  }
}

TEST(confirm, ctrl_c_at_the_question_sends_and_writes_nothing) {
  fixture f;
  pty_session s(asking_argv(f.emu, f.dir / "users.txt", f.dir.path()), client_env(f.dir.path()),
                80);
  ASSERT_TRUE(s.wait_for("[y/N] ", 20s)) << s.output();
  s.type("\x03");
  auto status = s.wait(20s);
  ASSERT_TRUE(status) << s.output();
  EXPECT_EQ(*status, 5) << s.output();
  EXPECT_TRUE(contains(s.output(), "interrupted at the confirmation; nothing was sent or written"))
      << s.output();
  f.expect_nothing_sent_or_written();
}

TEST(confirm, without_a_terminal_or_with_a_stream_input_the_run_needs_yes) {
  fixture f;
  // Pipes, stdin from /dev/null: nobody can answer.
  auto r =
      run(asking_argv(f.emu, f.dir / "users.txt", f.dir.path()), client_env(f.dir.path()), 30s);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "stdin is not a terminal")) << r.err;
  EXPECT_TRUE(contains(r.err, "--yes")) << r.err;
  f.expect_nothing_sent_or_written(0);

  // On a terminal, but the addresses come from stdin: nothing to count for the question.
  pty_session s(asking_argv(f.emu, "-", f.dir.path()), client_env(f.dir.path()), 80);
  auto status = s.wait(20s);
  ASSERT_TRUE(status) << s.output();
  EXPECT_EQ(*status, 2) << s.output();
  EXPECT_TRUE(contains(s.output(), "is a stream")) << s.output();
  EXPECT_TRUE(contains(s.output(), "--yes")) << s.output();
  f.expect_nothing_sent_or_written(0);

  // -y is --yes.
  auto argv = asking_argv(f.emu, f.dir / "users.txt", f.dir.path(), {"-y"});
  r = run(argv, client_env(f.dir.path()), 1min);
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(f.emu.stat("invites_applied"), 60u);
}

}  // namespace
