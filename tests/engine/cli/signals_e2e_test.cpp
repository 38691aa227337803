// Signals for the whole life of a run, and output nobody reads: the real `chime-onboard invite`
// against the real emulator. Ctrl-C while the input waits (a stdin that never ends, a FIFO
// nobody writes), a second Ctrl-C while requests are in flight, SIGHUP (a closed SSH session),
// stderr piped into a reader that goes away, a run started without stdout and stderr. After each,
// the journal replays and the ledger holds every address exactly once (after a resume when the
// run was stopped).
#include "cli_env.hpp"

#include <onboard/journal/journal.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <sstream>
#include <sys/stat.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// wait_for_progress: reads the child's stdout (stderr merged) until a progress object satisfies
// `ok`; false after `timeout` or at the end of its output.
template <class Pred>
bool wait_for_progress(child_process& p, Pred ok, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto line = p.read_stdout_line(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!line) return false;
    if (line->rfind("{\"event\":\"progress\"", 0) != 0) continue;
    auto o = parse_json_object(*line);
    if (o && ok(*o)) return true;
  }
  return false;
}

// wait_for_text: reads the child's stdout (stderr merged) until `text` has appeared.
bool wait_for_text(child_process& p, std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!contains(p.stdout_text(), text) && std::chrono::steady_clock::now() < deadline)
    if (!p.read_stdout_line(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now())))
      break;
  return contains(p.stdout_text(), text);
}

void expect_each_once(const fs::path& ledger, std::size_t n) {
  auto counts = ledger_counts(ledger);
  EXPECT_EQ(counts.size(), n);
  for (const auto& [address, times] : counts) ASSERT_EQ(times, 1) << address;
}

child_process::options merged(const fs::path& home) {
  auto o = client_env(home);
  o.merge_stderr = true;
  return o;
}

// 120 addresses then nothing, on a stdin that stays open: two batches are sent, the reader waits
// for more (the last 20 wait for their batch). Ctrl-C must end the run, though the reader never
// gets its end of input; today's model is that a second Ctrl-C always does.
TEST(signals_e2e, a_stdin_that_never_ends_gets_ctrl_c_then_ctrl_c_again_and_the_run_ends_with_5) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  auto opts = merged(dir.path());
  opts.stdin_data = numbered_addresses(120);
  opts.stdin_stays_open = true;
  auto p = child_process::spawn(invite_argv(emu, "-", dir.path(), {"--progress", "json"}), opts);
  ASSERT_TRUE(wait_for_progress(p, [](const auto& o) { return u64(o, "done") == 100; }))
      << p.stdout_text();
  p.signal(SIGINT);
  ASSERT_TRUE(wait_for_text(p, "finishing requests in flight", 10s)) << p.stdout_text();
  // Nothing is in flight to drain: the first Ctrl-C should be enough. If it is not, the second
  // must be.
  auto status = p.wait(5s);
  const bool first_was_enough = status.has_value();
  if (!status) {
    p.signal(SIGINT);
    status = p.wait(5s);
  }
  ASSERT_TRUE(status) << "SIGINT twice did not end a run waiting on its stdin\n" << p.stdout_text();
  EXPECT_EQ(*status, 5) << p.stdout_text();
  EXPECT_TRUE(first_was_enough) << "the reader's wait kept the run alive after the first Ctrl-C";
  const std::string& text = p.stdout_text();
  EXPECT_TRUE(contains(text, "20 of the 120 addresses read so far have no outcome yet")) << text;
  EXPECT_TRUE(contains(text, "interrupted; nothing is lost. Resume with:")) << text;
  // --progress json: the stop is an interrupted event naming the signal and the command that
  // resumes; the summary event is the last, with the exit code.
  std::optional<boost::json::object> interrupted, last_event;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{\"event\":", 0) != 0) continue;
    last_event = parse_json_object(line);
    ASSERT_TRUE(last_event) << line;
    if (last_event->at("event") == "interrupted") interrupted = last_event;
  }
  ASSERT_TRUE(interrupted) << text;
  EXPECT_EQ(interrupted->at("reason"), "SIGINT");
  EXPECT_TRUE(contains(std::string(interrupted->at("resume").as_string()), "chime-onboard invite"));
  ASSERT_TRUE(last_event);
  EXPECT_EQ(last_event->at("event"), "summary") << text;
  EXPECT_EQ(last_event->at("exit_code"), 5) << text;

  auto journal = onboard::replay_journal(dir / "run.journal");
  EXPECT_EQ(journal.tail(), onboard::tail_state::clean) << journal.tail_note();
  EXPECT_EQ(journal.counts().invited, 100u);
  EXPECT_EQ(journal.counts().in_doubt, 0u);
  ASSERT_EQ(emu.stop(), 0);
  expect_each_once(emu.ledger_path(), 100);
}

// Requests in flight for seconds (the emulator answers after ~3 s): the first Ctrl-C waits for
// them, the second stops at once, the journal synced first: it replays, with the requests that
// were in flight in doubt (a resume checks them with ListUsers before sending them again).
TEST(signals_e2e, a_second_ctrl_c_stops_at_once_with_the_journal_synced) {
  emulator_process emu({"--accounts", "acct-1", "--latency-ms", "3000"},
                       emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(400));
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"});
  auto p = child_process::spawn(argv, merged(dir.path()));
  ASSERT_TRUE(wait_for_progress(p, [](const auto& o) { return u64(o, "in_flight") > 0; }))
      << p.stdout_text();
  p.signal(SIGINT);
  ASSERT_TRUE(wait_for_text(p, "finishing requests in flight", 10s)) << p.stdout_text();
  const auto second = std::chrono::steady_clock::now();
  p.signal(SIGINT);
  auto status = p.wait(10s);
  ASSERT_TRUE(status) << p.stdout_text();
  EXPECT_EQ(*status, 5) << p.stdout_text();
  EXPECT_LT(std::chrono::steady_clock::now() - second, 1500ms)
      << "the second Ctrl-C does not wait for the answers";
  EXPECT_TRUE(contains(p.stdout_text(), "second signal, stopping now")) << p.stdout_text();

  auto journal = onboard::replay_journal(dir / "run.journal");
  EXPECT_EQ(journal.tail(), onboard::tail_state::clean) << journal.tail_note();
  EXPECT_GT(journal.counts().in_doubt, 0u) << "the requests in flight are in doubt";
  ASSERT_EQ(emu.stop(), 0) << emu.stderr_text();
  // Whatever the emulator applied was in the journal first, once.
  auto counts = ledger_counts(emu.ledger_path());
  for (const auto& [address, times] : counts) {
    ASSERT_EQ(times, 1) << address;
    ASSERT_TRUE(journal.find(address)) << address << " was applied without an intent";
  }
}

// A closed SSH session sends SIGHUP: the run stops as for SIGTERM (drains, exit 5, resume hint),
// and the same command finishes.
TEST(signals_e2e, sighup_mid_run_acts_as_sigterm_and_the_resume_finishes) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "20", "--burst", "20"},
                       emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(2'000));
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"});
  auto p = child_process::spawn(argv, merged(dir.path()));
  ASSERT_TRUE(wait_for_progress(p, [](const auto& o) { return u64(o, "done") > 0; }))
      << p.stdout_text();
  p.signal(SIGHUP);
  auto status = p.wait(30s);
  ASSERT_TRUE(status) << p.stdout_text();
  EXPECT_EQ(*status, 5) << p.stdout_text();
  const std::string& text = p.stdout_text();
  EXPECT_TRUE(contains(text, "hung up (SIGHUP)")) << text;
  EXPECT_TRUE(contains(text, "Resume with:")) << text;
  auto journal = onboard::replay_journal(dir / "run.journal");
  EXPECT_EQ(journal.counts().in_doubt, 0u) << "drained as for SIGTERM";
  EXPECT_LT(journal.counts().invited, 2'000u);

  auto r = run(argv, client_env(dir.path()), 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(emu.stop(), 0);
  expect_each_once(emu.ledger_path(), 2'000);
}

// `chime-onboard invite ... 2>&1 | head -1`: once the reader of stderr is gone, every write there
// fails. The run must neither die of it (SIGPIPE) nor stop: journal, report and ledger complete.
TEST(signals_e2e, a_stderr_pipe_closed_early_never_stops_the_run) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "400"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(10'000));
  auto p =
      child_process::spawn(invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"}),
                           client_env(dir.path()));
  // Progress goes to stderr once a second for the rest of the run (~2 s at 400 requests/s).
  p.close_stderr();
  auto status = p.wait(60s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << "stdout: " << p.stdout_text();
  auto summary = parse_json_object(p.stdout_text());
  ASSERT_TRUE(summary) << p.stdout_text();
  EXPECT_EQ(u64(*summary, "invited"), 10'000u);
  EXPECT_EQ(csv_lines(dir / "report.csv").size(), 10'000u);
  EXPECT_EQ(onboard::replay_journal(dir / "run.journal").counts().invited, 10'000u);
  ASSERT_EQ(emu.stop(), 0);
  expect_each_once(emu.ledger_path(), 10'000);
}

// Started without stdout and stderr (`>&- 2>&-`, some schedulers do): the journal and the report
// must not be opened as descriptor 1 or 2 and receive the summary or the log (debug, so that
// there is log to receive).
TEST(signals_e2e, a_run_started_without_stdout_and_stderr_keeps_its_files_clean) {
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(2'000));
  auto opts = client_env(dir.path());
  opts.output_closed = true;
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(),
                           {"--progress", "plain", "--log-level", "debug"}),
               opts, 1min);
  EXPECT_EQ(r.status, 0);
  auto journal = onboard::replay_journal(dir / "run.journal");
  EXPECT_EQ(journal.counts().invited, 2'000u);
  EXPECT_EQ(journal.tail(), onboard::tail_state::clean) << journal.tail_note();
  EXPECT_EQ(journal.bad_bytes(), 0u) << "no stray bytes after the last record";
  auto rows = csv_lines(dir / "report.csv");
  EXPECT_EQ(rows.size(), 2'000u);
  for (const auto& row : rows) ASSERT_EQ(row.rfind("user", 0), 0u) << row;
  ASSERT_EQ(emu.stop(), 0);
  expect_each_once(emu.ledger_path(), 2'000);
}

// Ctrl-C while the input is being opened: a FIFO nobody has opened for writing yet. The run stops
// at once (nothing was sent) with the resume command, instead of dying of the signal.
TEST(signals_e2e, ctrl_c_while_a_fifo_waits_for_its_writer_stops_cleanly) {
  emulator_process emu({"--accounts", "acct-1"});  // answers the pre-flight; nothing is sent
  temp_dir dir;
  const fs::path fifo = dir / "staff.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto p = child_process::spawn(
      {cli(), "invite", "--account-id", "acct-1", "--input", fifo.string(), "--endpoint-url",
       emu.url(), "--ca-bundle", emu.ca_path().string(), "--journal",
       (dir / "run.journal").string(), "--progress", "json", "--yes"},
      merged(dir.path()));
  // Waiting for the FIFO's writer, the run is set up: its first progress object is out.
  ASSERT_TRUE(wait_for_progress(p, [](const auto&) { return true; })) << p.stdout_text();
  p.signal(SIGINT);
  auto status = p.wait(10s);
  ASSERT_TRUE(status) << p.stdout_text();
  EXPECT_EQ(*status, 5) << p.stdout_text();
  EXPECT_TRUE(contains(p.stdout_text(), "Resume with:")) << p.stdout_text();
  EXPECT_EQ(onboard::replay_journal(dir / "run.journal").counts().addresses, 0u);
}

}  // namespace
