// Inputs that are not regular files, as an IT admin gives them: a FIFO another program writes, a
// process substitution's /dev/fd/N, /dev/stdin. Each can be read once only, so it must be read
// exactly once, like `-`: the real `chime-onboard invite` against the real emulator, auditing its
// ledger (every address invited exactly once) and what progress shows without a total.
#include "cli_env.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sys/stat.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

constexpr std::size_t addresses = 20'000;  // far beyond a pipe's 64 KiB: several reads

// expect_everyone_invited_once: the ledger holds exactly the addresses of the corpus, once each.
void expect_everyone_invited_once(const fs::path& ledger, std::size_t n) {
  auto counts = ledger_counts(ledger);
  EXPECT_EQ(counts.size(), n) << "every address arrives";
  std::size_t twice = 0, strangers = 0;
  for (const auto& [address, times] : counts) {
    twice += times > 1;
    strangers += address.rfind("user", 0) != 0;
  }
  EXPECT_EQ(twice, 0u) << "no address is invited twice";
  EXPECT_EQ(strangers, 0u) << "and nothing else is";
}

TEST(inputs_e2e, a_fifo_written_by_another_program_is_read_once_and_everyone_is_invited_once) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(addresses));
  const fs::path fifo = dir / "staff.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The writer opens the FIFO and waits there until the run opens it for reading.
  auto writer = child_process::spawn(
      {"/bin/sh", "-c", "exec cat \"$0\" > \"$1\"", (dir / "users.txt").string(), fifo.string()},
      {});
  auto r =
      run(invite_argv(emu, fifo, dir.path(), {"--progress", "plain"}), client_env(dir.path()), 60s);
  EXPECT_EQ(writer.wait(10s), 0) << "the writer delivered everything";
  EXPECT_EQ(r.status, 0) << r.err;
  auto summary = parse_json_object(r.out);
  ASSERT_TRUE(summary) << r.out;
  EXPECT_EQ(u64(*summary, "lines"), addresses);
  EXPECT_EQ(u64(*summary, "rejected_total"), 0u) << "no line was cut in two";
  EXPECT_EQ(u64(*summary, "invited"), addresses);
  ASSERT_EQ(emu.stop(), 0);
  expect_everyone_invited_once(emu.ledger_path(), addresses);

  // Progress: no percentage or ETA from a total that is still growing; 100% once it is known.
  std::istringstream err(r.err);
  std::string line;
  std::size_t lines = 0;
  bool final_line = false;
  while (std::getline(err, line)) {
    if (!contains(line, "emails/s")) continue;
    ++lines;
    if (contains(line, "read so far")) {
      EXPECT_FALSE(contains(line, "%")) << line;
      EXPECT_FALSE(contains(line, "ETA")) << line;
    } else {
      final_line = final_line || contains(line, "100.0% 20000/20000");
    }
  }
  EXPECT_GE(lines, 2u) << r.err;
  EXPECT_TRUE(final_line) << r.err;
}

TEST(inputs_e2e, dev_stdin_is_read_once_like_dash_and_json_progress_has_no_total_until_the_end) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  auto opts = client_env(dir.path());
  opts.stdin_data = numbered_addresses(addresses);
  auto p = child_process::spawn(invite_argv(emu, "/dev/stdin", dir.path(), {"--progress", "json"}),
                                opts);
  auto status = p.wait(60s);
  ASSERT_TRUE(status) << "did not finish: " << p.stderr_text();
  EXPECT_EQ(*status, 0) << p.stderr_text();
  auto summary = parse_json_object(p.stdout_text());
  ASSERT_TRUE(summary) << p.stdout_text();
  EXPECT_EQ(u64(*summary, "lines"), addresses);
  EXPECT_EQ(u64(*summary, "invited"), addresses);
  ASSERT_EQ(emu.stop(), 0);
  expect_everyone_invited_once(emu.ledger_path(), addresses);

  std::istringstream err(p.stderr_text());
  std::string line;
  std::optional<boost::json::object> last;
  while (std::getline(err, line)) {
    if (line.rfind("{\"event\":\"progress\"", 0) != 0) continue;
    auto o = parse_json_object(line);
    ASSERT_TRUE(o) << line;
    if (!o->at("total_final").as_bool()) {
      EXPECT_TRUE(o->at("total").is_null()) << line;
      EXPECT_GE(u64(*o, "read"), u64(*o, "done")) << line;
    }
    last = o;
  }
  ASSERT_TRUE(last) << p.stderr_text();
  EXPECT_TRUE(last->at("total_final").as_bool());
  EXPECT_EQ(u64(*last, "total"), addresses);
  EXPECT_EQ(u64(*last, "done"), addresses);
}

}  // namespace
