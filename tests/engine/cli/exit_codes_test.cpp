// Every exit code a script can act on, from the real `chime-onboard` binary against the real
// emulator, with the message a person needs next to it; and every command's --help.
#include "cli_env.hpp"

#include <onboard/journal/journal.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <sys/resource.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

TEST(exit_codes, zero_when_every_address_is_valid_and_invited) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(120));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(ledger_counts(emu.ledger_path()).size(), 120u);
}

TEST(exit_codes, two_for_usage_errors_each_naming_the_flag) {
  temp_dir dir;
  write_file(dir / "users.txt", "a@example.com\n");
  const std::string input = (dir / "users.txt").string();
  struct usage_case {
    std::vector<std::string> args;
    std::string must_name;
  };
  const usage_case cases[] = {
      {{"invite", "--account-id", "acct-1", "--input", input, "--bogus"}, "--bogus"},
      {{"invite", "--input", input}, "--account-id"},
      {{"invite", "--account-id", "acct-1", "--input", input, "--rate", "fast"}, "--rate"},
      {{"invite", "--account-id", "acct-1", "--input", input, "--rate", "-3"}, "--rate"},
      {{"invite", "--account-id", "acct-1", "--input", input, "--max-attempts", "0"},
       "--max-attempts"},
      {{"invite", "--account-id", "acct-1", "--input", input, "--progress", "loud"}, "--progress"},
      {{"invite", "--account-id", "acct-1", "--input"}, "--input"},
      {{"demo", "--rows", "many"}, "--rows"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {cli()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = run(argv, client_env(dir.path()), 30s);
    std::string shown;
    for (const auto& a : c.args) shown += a + " ";
    EXPECT_EQ(r.status, 2) << shown << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, c.must_name)) << shown << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "--help")) << "points to the help: " << r.err;
    EXPECT_TRUE(r.out.empty()) << "nothing on stdout for a usage error: " << r.out;
  }
  auto r = run({cli(), "no-such-command"}, client_env(dir.path()), 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(contains(r.err, "no-such-command")) << r.err;
}

TEST(exit_codes, two_for_a_report_path_that_cannot_be_written_before_any_journal_exists) {
  temp_dir dir;
  write_file(dir / "users.txt", "a@example.com\n");
  const std::string input = (dir / "users.txt").string();
  struct bad_report {
    std::string path, must_say;
  };
  fs::create_directory(dir / "folder.csv");
  const bad_report cases[] = {
      {(dir / "no-such-dir" / "r.csv").string(), "no-such-dir"},
      {(dir / "folder.csv").string(), "is a directory"},
      {(dir / "report.txt").string(), "must end in .csv or .jsonl"},
  };
  for (const auto& c : cases) {
    auto r = run({cli(), "invite", "--account-id", "acct-1", "--input", input, "--endpoint-url",
                  "https://127.0.0.1:9", "--report", c.path, "--yes"},
                 client_env(dir.path()), 30s);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_TRUE(contains(r.err, "--report")) << r.err;
    EXPECT_TRUE(contains(r.err, c.must_say)) << r.err;
    EXPECT_FALSE(fs::exists(dir.path() / ".local" / "state" / "chime-onboard"))
        << "no journal (nor its folder) for a run that never started";
  }
}

TEST(exit_codes, three_when_some_input_lines_were_rejected) {
  emulator_process emu({"--accounts", "acct-1"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(60) + "not-an-address\nsomeone@@example.com\n");
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(),
                           {"--rejects", (dir / "rejects.csv").string()}),
               client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 3) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "rejected_total"), 2u);
  EXPECT_EQ(u64(*j, "invited"), 60u);
  EXPECT_EQ(csv_lines(dir / "rejects.csv").size(), 2u);
}

TEST(exit_codes, four_when_the_service_refused_addresses_even_with_rejected_lines_too) {
  emulator_process emu({"--accounts", "acct-1", "--refuse-domain", "blocked.example.net"},
                       emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(30) + "victim@blocked.example.net\n");
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 4) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "failed"), 1u);
  EXPECT_EQ(u64(*j, "invited"), 30u);

  // Failed addresses outrank rejected lines: 4 says "look at the report", the more urgent news.
  emulator_process all_fail({"--accounts", "acct-1", "--p-failed-invite", "1"});
  temp_dir dir2;
  write_file(dir2 / "users.txt", numbered_addresses(10) + "not-an-address\n");
  r = run(invite_argv(all_fail, dir2 / "users.txt", dir2.path()), client_env(dir2.path()), 1min);
  EXPECT_EQ(r.status, 4) << r.err;
  j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "failed"), 10u);
  EXPECT_EQ(u64(*j, "rejected_total"), 1u);
}

TEST(exit_codes, five_when_interrupted_with_a_resume_hint) {
  // 5 requests/s: 2,000 addresses (40 batches) would take ~8 s; the signal lands after ~1 s.
  emulator_process emu({"--accounts", "acct-1", "--rate", "5"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(2000));
  auto opts = client_env(dir.path());
  opts.merge_stderr = true;
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"});
  auto p = child_process::spawn(argv, opts);
  // Wait (bounded) for a progress object showing work done: the run is under way and its signal
  // handler installed (progress is drawn from the same event loop).
  bool under_way = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!under_way && std::chrono::steady_clock::now() < deadline) {
    auto line = p.read_stdout_line(5s);
    if (!line) break;
    if (line->rfind("{\"event\":\"progress\"", 0) != 0) continue;
    auto o = parse_json_object(*line);
    under_way = o && u64(*o, "done") > 0 && u64(*o, "done") < 2000;
  }
  ASSERT_TRUE(under_way) << p.stdout_text();
  p.signal(SIGINT);
  auto status = p.wait(30s);
  ASSERT_TRUE(status) << "did not stop after SIGINT: " << p.stdout_text();
  EXPECT_EQ(*status, 5) << p.stdout_text();
  const std::string& text = p.stdout_text();
  EXPECT_TRUE(contains(text, "interrupted; nothing is lost. Resume with:")) << text;
  EXPECT_TRUE(contains(text, "chime-onboard invite --account-id acct-1")) << text;
  EXPECT_TRUE(contains(text, (dir / "run.journal").string())) << text;
  // The drain let every request in hand finish, and the intents of batches nothing applied (taken
  // ahead, or throttled when the signal came) were withdrawn: the resume has nothing to verify.
  auto journal = onboard::replay_journal(dir / "run.journal");
  EXPECT_EQ(journal.counts().in_doubt, 0u);
  EXPECT_GT(journal.counts().invited, 0u);
  EXPECT_EQ(journal.counts().addresses, journal.counts().invited);
}

// `ulimit -n 64` and `--connections 200`: the connections the system has no descriptor for cannot
// send what their senders took. The connections are capped to what the limit leaves room for,
// with a warning naming both numbers, and everyone is invited exactly once.
TEST(exit_codes, connections_are_capped_by_the_open_file_limit_with_a_warning) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10'000));
  auto opts = client_env(dir.path());
  opts.max_open_files = 64;
  auto r =
      run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "200"}), opts, 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "--connections 200")) << r.err;
  EXPECT_TRUE(contains(r.err, "open-file limit is 64")) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 10'000u);
  EXPECT_EQ(u64(*j, "not_done"), 0u);
  ASSERT_EQ(emu.stop(), 0);
  auto counts = ledger_counts(emu.ledger_path());
  EXPECT_EQ(counts.size(), 10'000u);
  for (const auto& [address, times] : counts) ASSERT_EQ(times, 1) << address;
}

// open_descriptors: how many file descriptors process `pid` holds.
std::size_t open_descriptors(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Whatever ends a run, it exits 0 (or 3, 4) only when every address it read for sending has an
// outcome; otherwise it exits non-zero, says how many have none, and how to resume. Provoked here
// by taking the descriptors away from a run already under way, after the connection cap was
// decided: most of its connections cannot open.
TEST(exit_codes, a_run_that_ends_with_addresses_unsettled_never_exits_zero) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  const std::string corpus = numbered_addresses(2'000);
  auto opts = client_env(dir.path());
  opts.merge_stderr = true;
  opts.stdin_stays_open = true;
  auto argv = invite_argv(emu, "-", dir.path(), {"--connections", "8", "--progress", "json"});
  auto p = child_process::spawn(argv, opts);
  // The first progress object: the run is set up, its input (stdin) still empty, so no connection
  // has been opened yet.
  bool set_up = false;
  while (!set_up) {
    auto line = p.read_stdout_line(20s);
    if (!line) break;
    set_up = line->rfind("{\"event\":\"progress\"", 0) == 0;
  }
  ASSERT_TRUE(set_up) << p.stdout_text();
  // Room for a few of the 8 connections, not all.
  const rlim_t room = open_descriptors(p.pid()) + 4;
  const rlimit lim{room, room};
  ASSERT_EQ(::prlimit(p.pid(), RLIMIT_NOFILE, &lim, nullptr), 0) << std::strerror(errno);
  p.write_stdin(corpus);
  p.close_stdin();
  auto status = p.wait(60s);
  ASSERT_TRUE(status) << p.stdout_text();
  const std::string& text = p.stdout_text();
  if (*status == 0) {
    // Every address settled after all: then each must have arrived (the counter, not the ledger,
    // which the emulator flushes on a timer).
    EXPECT_EQ(emu.stat("invites_applied"), 2'000u) << "exit 0, yet not everyone was invited:\n"
                                                   << text;
  } else {
    EXPECT_TRUE(contains(text, "not settled") || contains(text, "have no outcome")) << text;
    EXPECT_TRUE(contains(text, "esume with:")) << text;
    EXPECT_TRUE(contains(text, "chime-onboard invite --account-id acct-1")) << text;
  }

  // The same command, with descriptors enough, finishes the job: everyone exactly once.
  auto again = client_env(dir.path());
  again.stdin_data = corpus;
  auto r = run(argv, again, 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto counts = ledger_counts(emu.ledger_path());
  EXPECT_EQ(counts.size(), 2'000u);
  for (const auto& [address, times] : counts) ASSERT_EQ(times, 1) << address;
}

TEST(exit_codes, six_for_a_wrong_secret) {
  emulator_process emu({"--accounts", "acct-1"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(100));
  auto env = client_env(dir.path());
  env.env_set["AWS_SECRET_ACCESS_KEY"] = "not-the-secret";
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), env, 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "refused our credentials")) << r.err;
  EXPECT_FALSE(contains(r.err, "not-the-secret")) << "the secret is never printed";
  EXPECT_EQ(emu.stat("invites_applied"), 0u);
}

TEST(exit_codes, six_for_missing_credentials_naming_what_was_tried) {
  emulator_process emu({"--accounts", "acct-1"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), clean_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "unable to locate credentials")) << r.err;
  EXPECT_TRUE(contains(r.err, "AWS_ACCESS_KEY_ID")) << "names the environment: " << r.err;
  EXPECT_TRUE(contains(r.err, (dir / ".aws" / "credentials").string())) << r.err;
  EXPECT_TRUE(contains(r.err, (dir / ".aws" / "config").string())) << r.err;
  EXPECT_LE(emu.stat("requests"), 1u)
      << "nothing is sent without credentials (1: this stats request)";
}

TEST(exit_codes, six_for_a_journal_of_another_account_saying_what_differs) {
  emulator_process emu;  // any account exists
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10));
  auto first = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  ASSERT_EQ(first.status, 0) << first.err;
  auto argv = invite_argv(emu, dir / "users.txt", dir.path());
  auto acct = std::find(argv.begin(), argv.end(), "acct-1");
  *acct = "acct-2";
  auto r = run(argv, client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "was written for account acct-1, this run is for account acct-2"))
      << r.err;
  EXPECT_TRUE(contains(r.err, (dir / "run.journal").string())) << r.err;
}

// The pre-flight's GetAccount finds no such account: refused before anything is written.
TEST(exit_codes, six_for_an_unknown_account_with_nothing_written) {
  emulator_process emu({"--accounts", "other"});
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(100));
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path()), client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "account acct-1 does not exist")) << r.err;
  EXPECT_FALSE(fs::exists(dir / "run.journal"));
}

TEST(exit_codes, invite_help_lists_the_exit_codes_and_an_example) {
  auto r = run({cli(), "invite", "--help"}, {}, 30s);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "exit codes:")) << r.out;
  for (const char* line :
       {"  0  everything done", "  2  usage error", "  3  done, some input lines",
        "  4  done, some addresses failed", "  5  interrupted",
        "  6  configuration or authentication", "  7  the service stayed unreachable"})
    EXPECT_TRUE(contains(r.out, line)) << line << "\n" << r.out;
  EXPECT_TRUE(contains(r.out, "example:\n  chime-onboard invite --account-id")) << r.out;
}

TEST(exit_codes, every_command_has_help_with_an_example) {
  for (const char* command :
       {"demo", "invite", "create-users", "plan", "status", "report", "sign", "emulator"}) {
    auto r = run({cli(), command, "--help"}, {}, 30s);
    EXPECT_EQ(r.status, 0) << command << "\n" << r.err;
    EXPECT_TRUE(contains(r.out, "example:")) << command << "\n" << r.out;
    EXPECT_TRUE(contains(r.out, std::string("chime-onboard ") + command) ||
                contains(r.out, "chime-emulator"))
        << command << "\n"
        << r.out;
  }
}

}  // namespace
