// Resume under fire: the real `chime-onboard invite` process killed with SIGKILL at random
// moments, again and again, against one emulator (which keeps what it applied), then resumed to
// the end; Ctrl-C, which must drain, print the resume command and lose nothing; and a journal
// damaged in the middle, repaired with `chime-onboard journal repair`, then resumed.
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

namespace {

using namespace onboard::testkit;
using namespace std::chrono_literals;

std::map<std::string, int> applied_invites(const fs::path& ledger) {
  std::map<std::string, int> m;
  std::istringstream in(read_file(ledger));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("invite\t", 0) == 0) ++m[line.substr(line.rfind('\t') + 1)];
  return m;
}

std::set<std::string> write_corpus(const fs::path& path, std::size_t n) {
  std::set<std::string> expected;
  std::ostringstream out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string a = "member" + std::to_string(i) + "@example.org";
    expected.insert(a);
    out << a << "\n";
  }
  write_file(path, out.str());
  return expected;
}

child_process::options env_for(const temp_dir& home) {
  child_process::options o;
  o.env_set = {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
               {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
               {"HOME", home.path().string()},
               {"AWS_CONFIG_FILE", (home / "none").string()},
               {"AWS_SHARED_CREDENTIALS_FILE", (home / "none").string()}};
  o.env_unset = {"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CHIME", "AWS_CA_BUNDLE"};
  return o;
}

std::vector<std::string> argv_for(const emulator_process& emu, const temp_dir& dir,
                                  const std::string& in_doubt) {
  return {cli(),
          "invite",
          "--account-id",
          "acct-1",
          "--input",
          (dir / "users.txt").string(),
          "--endpoint-url",
          emu.url(),
          "--ca-bundle",
          emu.ca_path().string(),
          "--journal",
          (dir / "run.journal").string(),
          "--in-doubt",
          in_doubt,
          "--connections",
          "6",
          "--progress",
          "off",
          "--yes"};
}

struct crash_result {
  std::map<std::string, int> applied;
  std::set<std::string> expected;
  int kills = 0;

  // arrived: the addresses the service applied, and how many of them more than once.
  std::pair<std::set<std::string>, std::size_t> arrived() const {
    std::set<std::string> got;
    std::size_t twice = 0;
    for (const auto& [a, n] : applied) {
      got.insert(a);
      twice += n > 1;
    }
    return {got, twice};
  }
};

crash_result kill_and_resume(const std::string& in_doubt, std::uint64_t seed) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "150", "--burst", "150", "--latency-ms",
                        "5", "--p-drop", "0.02", "--seed", std::to_string(seed)},
                       emulator_process::with_ledger());
  temp_dir dir;
  crash_result res;
  res.expected = write_corpus(dir / "users.txt", 15'000);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pause_ms(150, 1200);

  for (int i = 0; i < 12; ++i) {
    auto p = child_process::spawn(argv_for(emu, dir, in_doubt), env_for(dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    if (p.wait(0ms)) break;  // finished before we could kill it
    p.signal(SIGKILL);
    EXPECT_EQ(p.wait(10s), 128 + SIGKILL);
    ++res.kills;
  }
  auto r = run(argv_for(emu, dir, in_doubt), env_for(dir), 5min);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(emu.stop(), 0);
  res.applied = applied_invites(emu.ledger_path());
  return res;
}

TEST(resume_e2e, kill_9_at_random_moments_then_resume_verify_invites_everyone_exactly_once) {
  auto res = kill_and_resume("verify", 21);
  EXPECT_GE(res.kills, 10);
  auto [got, twice] = res.arrived();
  EXPECT_EQ(got, res.expected) << "every address arrives";
  EXPECT_EQ(twice, 0u) << "--in-doubt verify never sends an address twice";
}

TEST(resume_e2e, kill_9_then_resume_resend_duplicates_only_what_was_in_flight) {
  auto res = kill_and_resume("resend", 33);
  EXPECT_GE(res.kills, 10);
  auto [got, twice] = res.arrived();
  EXPECT_EQ(got, res.expected);
  // Only batches in flight at a kill (<= 6 connections x 50) or on a dropped connection can repeat.
  EXPECT_LE(twice, static_cast<std::size_t>(res.kills) * 6 * 50 + 2000);
}

TEST(resume_e2e, ctrl_c_drains_prints_the_resume_command_and_the_same_command_finishes) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "20", "--burst", "20"},
                       emulator_process::with_ledger());
  temp_dir dir;
  auto expected = write_corpus(dir / "users.txt", 10'000);
  auto argv = argv_for(emu, dir, "verify");
  auto p = child_process::spawn(argv, env_for(dir));
  std::this_thread::sleep_for(2s);
  p.signal(SIGINT);
  // The drain is bounded at 20 s; the rest is slack for a loaded CI machine.
  auto status = p.wait(45s);
  ASSERT_TRUE(status.has_value()) << "Ctrl-C must end the run within the drain timeout\n"
                                  << p.stderr_text();
  EXPECT_EQ(*status, 5) << p.stderr_text();
  const std::string& err = p.stderr_text();
  EXPECT_NE(err.find("finishing requests in flight"), std::string::npos) << err;
  EXPECT_NE(err.find("Resume with:"), std::string::npos) << err;
  EXPECT_NE(err.find("chime-onboard invite --account-id acct-1 --input"), std::string::npos) << err;

  auto before = applied_invites(emu.ledger_path());
  EXPECT_GT(before.size(), 0u);
  EXPECT_LT(before.size(), expected.size());

  // The journal knows every address that finished; the resumed run skips them.
  auto r = run(argv, env_for(dir), 5min);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto after = applied_invites(emu.ledger_path());
  std::set<std::string> got;
  for (const auto& [a, n] : after) {
    got.insert(a);
    EXPECT_EQ(n, 1) << a;
  }
  EXPECT_EQ(got, expected);
}

// damage_batch: overwrites four bytes of the batch id of batch `batch`'s records of `type` ('I'
// intent, 'C' compact outcome) in the journal's bytes, leaving its addresses legible; how many
// records.
int damage_batch(std::string& bytes, char type, std::uint64_t batch) {
  int hit = 0;
  for (std::size_t off = 8; off + 17 <= bytes.size();) {
    std::uint32_t len = 0;
    std::uint64_t id = 0;
    std::memcpy(&len, bytes.data() + off, 4);
    std::memcpy(&id, bytes.data() + off + 9, 8);
    if (bytes[off + 8] == type && id == batch) {
      std::memset(bytes.data() + off + 12, 0xFF, 4);
      ++hit;
    }
    off += 8 + len;
  }
  return hit;
}

TEST(resume_e2e, journal_damaged_in_the_middle_repaired_then_resumed_invites_nobody_twice) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  auto expected = write_corpus(dir / "users.txt", 600);
  auto argv = argv_for(emu, dir, "verify");
  auto r = run(argv, env_for(dir), 2min);
  ASSERT_EQ(r.status, 0) << r.err;

  // Batch 3 loses both its records (only the damaged bytes still name its addresses), batch 7
  // its outcome (its intent still names them): 100 addresses the journal can no longer vouch for.
  // A compact outcome names no address itself: the lost bytes name batch 3's 50.
  const fs::path journal = dir / "run.journal";
  std::string bytes = read_file(journal);
  ASSERT_EQ(damage_batch(bytes, 'I', 3) + damage_batch(bytes, 'C', 3), 2);
  ASSERT_EQ(damage_batch(bytes, 'C', 7), 1);
  write_file(journal, bytes);

  // A run refuses it and names the command that repairs it.
  r = run(argv, env_for(dir), 1min);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_NE(r.err.find("chime-onboard journal repair --journal " + journal.string()),
            std::string::npos)
      << r.err;

  r = run({cli(), "journal", "repair", "--journal", journal.string()}, env_for(dir), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("in doubt  50 of the 50 addresses"), std::string::npos) << r.out;
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(dir.path()))
    if (e.path().filename().string().starts_with("run.damaged-")) kept.push_back(e.path());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(read_file(kept[0]), bytes) << "the damaged original is kept as it was";
  EXPECT_NE(r.out.find(kept[0].string()), std::string::npos) << r.out;
  struct stat st {};
  ASSERT_EQ(::stat(journal.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Resumed: the 100 are checked with ListUsers, found (recorded invited), and not sent again.
  r = run(argv, env_for(dir), 2min);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto applied = applied_invites(emu.ledger_path());
  std::set<std::string> got;
  for (const auto& [a, n] : applied) {
    got.insert(a);
    EXPECT_EQ(n, 1) << a << " invited " << n << " times";
  }
  EXPECT_EQ(got, expected);
  auto status = run({cli(), "status", "--journal", journal.string()}, env_for(dir), 30s);
  EXPECT_NE(status.out.find("in doubt      0"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("invited       600"), std::string::npos) << status.out;
}

}  // namespace
