// The crash test at scale, on the paths users take: a 50,000-address run against an emulator that
// answers 503s and drops connections (dropped requests are applied half of the time: in doubt),
// killed with SIGKILL at 20 random moments. Every restart is a resume the way people resume: half
// of them read the input from a FIFO (as `--input <(zcat staff.csv.gz)` does), half from the file
// re-exported under a new name since the last try (and with some addresses in another case), all on
// the default journal (one per account, in the state directory), under --in-doubt verify. At the
// end the ledger must hold every address exactly once.
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <map>
#include <optional>
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
  for (std::string line; std::getline(in, line);)
    if (line.rfind("invite\t", 0) == 0) ++m[line.substr(line.rfind('\t') + 1)];
  return m;
}

child_process::options env_for(const temp_dir& dir) {
  child_process::options o;
  o.env_set = {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
               {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
               {"HOME", dir.path().string()},
               {"XDG_STATE_HOME", (dir / "state").string()},
               {"AWS_CONFIG_FILE", (dir / "none").string()},
               {"AWS_SHARED_CREDENTIALS_FILE", (dir / "none").string()}};
  o.env_unset = {"AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CHIME", "AWS_CA_BUNDLE"};
  return o;
}

std::vector<std::string> invite(const emulator_process& emu, const fs::path& input) {
  return {cli(),
          "invite",
          "--account-id",
          "acct-1",
          "--input",
          input.string(),
          "--endpoint-url",
          emu.url(),
          "--ca-bundle",
          emu.ca_path().string(),
          "--connections",
          "6",
          "--progress",
          "off",
          "--yes"};
}

// feeder: a child that writes the corpus into a FIFO, as a shell's process substitution does.
// It ends by itself when the reader goes away (EPIPE).
child_process feed_fifo(const fs::path& corpus, const fs::path& fifo) {
  ::unlink(fifo.c_str());
  EXPECT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  return child_process::spawn(
      {"/bin/sh", "-c", "exec cat \"$0\" > \"$1\"", corpus.string(), fifo.string()});
}

TEST(crash_e2e, twenty_kills_resumed_from_fifos_and_renamed_inputs_invite_everyone_once) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "200", "--burst", "200", "--latency-ms",
                        "5", "--p503", "0.02", "--p-drop", "0.01", "--seed", "2107"},
                       emulator_process::with_ledger());
  temp_dir dir;
  // export: the corpus as an HR system would export it again; every seventh address changes
  // the case of its local part from one export to the next (the same person to the service).
  std::set<std::string> expected;
  auto write_export = [&](const fs::path& path, int version) {
    std::ostringstream out;
    for (int i = 0; i < 50'000; ++i) {
      std::string local = "staff" + std::to_string(i);
      expected.insert(local + "@example.org");
      if (i % 7 == 0 && version % 3 == 1) local[0] = 'S';
      if (i % 7 == 0 && version % 3 == 2) local = "STAFF" + std::to_string(i);
      out << local << "@example.org\n";
    }
    write_file(path, out.str());
  };
  write_export(dir / "export-0.txt", 0);
  fs::path current = dir / "export-0.txt";
  std::mt19937_64 rng(2107);
  std::uniform_int_distribution<int> pause_ms(200, 1500);

  int kills = 0;
  bool finished_early = false;
  for (int i = 0; i < 20 && !finished_early; ++i) {
    std::optional<child_process> feeder;
    fs::path input = current;
    if (i % 2 == 0) {
      input = dir / "input.fifo";
      feeder.emplace(feed_fifo(current, input));
    } else {
      fs::path renamed = dir / ("export-" + std::to_string(i) + ".txt");
      fs::remove(current);
      write_export(renamed, i);
      current = input = renamed;
    }
    auto p = child_process::spawn(invite(emu, input), env_for(dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    if (auto st = p.wait(0ms)) {
      EXPECT_EQ(*st, 0) << p.stderr_text();
      finished_early = true;
    } else {
      p.signal(SIGKILL);
      EXPECT_EQ(p.wait(10s), 128 + SIGKILL);
      ++kills;
    }
    if (feeder) {
      feeder->signal(SIGTERM);  // a writer still blocked on a FIFO nobody will open again
      feeder->wait(10s);
    }
  }
  EXPECT_GE(kills, 15) << "the run should mostly be killed, not finish between kills";

  // The last resume: from a FIFO, to the end.
  auto feeder = feed_fifo(current, dir / "input.fifo");
  auto r = run(invite(emu, dir / "input.fifo"), env_for(dir), 5min);
  feeder.wait(10s);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);

  // The service's ledger keeps the spelling each request carried: fold it to count people.
  std::map<std::string, int> people;
  for (const auto& [a, n] : applied_invites(emu.ledger_path())) {
    std::string folded = a;
    for (auto& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    people[folded] += n;
  }
  std::set<std::string> got;
  std::vector<std::string> twice;
  for (const auto& [a, n] : people) {
    got.insert(a);
    if (n > 1) twice.push_back(a);
  }
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected) << "every address arrives";
  EXPECT_TRUE(twice.empty()) << twice.size() << " people invited twice, e.g. "
                             << (twice.empty() ? "" : twice.front());
}

}  // namespace
