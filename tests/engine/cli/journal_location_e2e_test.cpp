// Where the journal lives when nobody says: one per (account, operation) in the user's state
// folder, whatever the input is called, so that a pilot, a renamed export and stdin from another
// folder all resume the same journal and nobody is invited twice; --new-journal as the one
// explicit way to start afresh, keeping the old journal; and a journal that an earlier version
// left beside the input is not silently replaced by a new one.
#include "cli_env.hpp"

#include <onboard/cli/run.hpp>
#include <onboard/cli/run_picture.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/signing/credentials.hpp>

#include <gtest/gtest.h>

#include <chrono>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// default_invite_argv: invite_argv without --journal (and without --report unless given).
std::vector<std::string> default_invite_argv(const emulator_process& emu, const std::string& input,
                                             std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {cli(),
                                   "invite",
                                   "--account-id",
                                   "acct-1",
                                   "--input",
                                   input,
                                   "--endpoint-url",
                                   emu.url(),
                                   "--ca-bundle",
                                   emu.ca_path().string(),
                                   "--progress",
                                   "off",
                                   "--output",
                                   "json",
                                   "--yes"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

fs::path state_dir(const temp_dir& home) { return home / ".local" / "state" / "chime-onboard"; }

TEST(journal_location, state_folder_follows_xdg_state_home_then_home) {
  using onboard::signing::map_environment;
  EXPECT_EQ(onboard::state_directory(
                map_environment({{"XDG_STATE_HOME", "/x/state"}, {"HOME", "/home/ann"}})),
            fs::path("/x/state/chime-onboard"));
  // The XDG rule: a relative XDG_STATE_HOME is ignored.
  EXPECT_EQ(onboard::state_directory(
                map_environment({{"XDG_STATE_HOME", "rel/state"}, {"HOME", "/home/ann"}})),
            fs::path("/home/ann/.local/state/chime-onboard"));
  EXPECT_EQ(onboard::default_journal_path(onboard::operation::invite, "acct/1",
                                          map_environment({{"HOME", "/home/ann"}}))
                .parent_path(),
            fs::path("/home/ann/.local/state/chime-onboard"));
  EXPECT_EQ(onboard::default_journal_path(onboard::operation::create, "acct-1",
                                          map_environment({{"HOME", "/home/ann"}})),
            fs::path("/home/ann/.local/state/chime-onboard/create-users-acct-1.journal"));
}

TEST(journal_location, pilot_then_renamed_full_export_then_stdin_elsewhere_invite_each_once) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir home;
  const auto env = client_env(home.path());
  std::string all = numbered_addresses(1500, "staff");
  write_file(home / "staff.csv", "email\n" + all);
  std::string pilot = "email\n";
  for (std::size_t i = 0, at = 0; i < 1000; ++i) {
    auto nl = all.find('\n', at);
    pilot += all.substr(at, nl + 1 - at);
    at = nl + 1;
  }
  write_file(home / "pilot.csv", pilot);
  const fs::path journal = state_dir(home) / "invite-acct-1.journal";

  // 1. The pilot: a new journal in the state folder, said at the start.
  auto r = run(default_invite_argv(emu, (home / "pilot.csv").string()), env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "journal: " + journal.string() + " (new)")) << r.err;
  EXPECT_EQ(file_mode(journal), 0600);
  EXPECT_EQ(file_mode(state_dir(home)), 0700);
  EXPECT_EQ(file_mode(home / ".local" / "state"), 0700);
  EXPECT_FALSE(fs::exists(home / "pilot.csv.journal"));

  // 2. The full export, renamed meanwhile: the same journal, only the 500 new ones are sent.
  fs::rename(home / "staff.csv", home / "staff-export-final.csv");
  r = run(default_invite_argv(emu, (home / "staff-export-final.csv").string()), env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "journal: " + journal.string() + " (resuming: 1000 addresses"))
      << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 500u) << r.out;
  EXPECT_EQ(u64(*j, "already_done"), 1000u) << r.out;

  // 3. Everyone again, from stdin in another folder: nothing left to send.
  fs::create_directory(home / "elsewhere");
  auto stdin_env = env;
  stdin_env.stdin_data = all;
  stdin_env.cwd = (home / "elsewhere").string();
  r = run(default_invite_argv(emu, "-"), stdin_env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 0u) << r.out;
  EXPECT_EQ(u64(*j, "already_done"), 1500u) << r.out;

  ASSERT_EQ(emu.stop(), 0);
  auto applied = ledger_counts(emu.ledger_path());
  EXPECT_EQ(applied.size(), 1500u);
  for (const auto& [address, n] : applied) EXPECT_EQ(n, 1) << address << " invited " << n << "x";
  std::size_t journals = 0;
  for (const auto& e : fs::directory_iterator(state_dir(home)))
    journals += e.path().extension() == ".journal";
  EXPECT_EQ(journals, 1u) << "one journal for the account, whatever the inputs";
}

TEST(journal_location, new_journal_keeps_the_old_one_and_is_not_repeated_by_the_resume_hint) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir home;
  const auto env = client_env(home.path());
  write_file(home / "users.txt", numbered_addresses(60));
  const fs::path journal = state_dir(home) / "invite-acct-1.journal";
  auto r = run(default_invite_argv(emu, (home / "users.txt").string()), env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string first = read_file(journal);

  // Explicitly afresh: the old journal is renamed, never deleted, and the run says where it is.
  r = run(default_invite_argv(emu, (home / "users.txt").string(), {"--new-journal"}), env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<fs::path> old;
  for (const auto& e : fs::directory_iterator(state_dir(home)))
    if (e.path() != journal && e.path().extension() == ".journal") old.push_back(e.path());
  ASSERT_EQ(old.size(), 1u);
  EXPECT_TRUE(old[0].filename().string().starts_with("invite-acct-1.old-")) << old[0];
  EXPECT_EQ(read_file(old[0]), first);
  EXPECT_TRUE(contains(r.err, "kept as " + old[0].string())) << r.err;
  EXPECT_TRUE(contains(r.err, "journal: " + journal.string() + " (new)")) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out;
  EXPECT_EQ(u64(*j, "invited"), 60u) << "a new journal knows nobody: " << r.out;

  // An unknown account is refused by the pre-flight, before --new-journal sets anything aside:
  // the account's journal stays as it is, and no other is made.
  const auto kept = read_file(journal);
  auto argv = default_invite_argv(emu, (home / "users.txt").string(), {"--new-journal"});
  argv[3] = "acct-unknown";
  r = run(argv, env, 1min);
  ASSERT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(r.err, "acct-unknown does not exist")) << r.err;
  EXPECT_EQ(read_file(journal), kept);
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(state_dir(home))) files += e.is_regular_file();
  // The two journals, each with its timeline, and the new journal's HTML page.
  EXPECT_EQ(files, 5u) << "the journal and the one set aside above, nothing new";
  EXPECT_TRUE(fs::exists(onboard::timeline_path(old[0])));
  ASSERT_EQ(emu.stop(), 0);
}

TEST(journal_location, a_journal_an_earlier_version_left_beside_the_input_is_not_replaced) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir home;
  const auto env = client_env(home.path());
  const fs::path input = home / "users.txt";
  write_file(input, numbered_addresses(20));
  const fs::path beside = home / "users.txt.journal";
  auto r = run(default_invite_argv(emu, input.string(), {"--journal", beside.string()}), env, 1min);
  ASSERT_EQ(r.status, 0) << r.err;

  // A new journal would send the 20 again: refused, saying how to carry on.
  r = run(default_invite_argv(emu, input.string()), env, 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_TRUE(contains(
      r.err, "mv " + beside.string() + " " + (state_dir(home) / "invite-acct-1.journal").string()))
      << r.err;
  EXPECT_TRUE(contains(r.err, "--new-journal")) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(ledger_counts(emu.ledger_path()).size(), 20u);
  for (const auto& [address, n] : ledger_counts(emu.ledger_path())) EXPECT_EQ(n, 1) << address;
}

}  // namespace
