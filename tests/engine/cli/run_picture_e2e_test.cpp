// The run as a picture: a throttled run interrupted by Ctrl-C and resumed leaves a timeline and an
// HTML page beside its journal; headless Chromium (Debian's) loads the page, and the charts it
// renders carry every sample of the timeline, with the interruption and the resume marked.
#include "cli_env.hpp"

#include <onboard/cli/run_picture.hpp>
#include <onboard/journal/journal.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <regex>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// series_points: the points Chromium's DOM holds for one series, over all its polylines.
std::size_t series_points(const std::string& dom, const std::string& series) {
  static const std::regex polyline(
      R"re(<polyline[^>]*data-series="([^"]*)"[^>]*points="([^"]*)")re");
  std::size_t n = 0;
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[1] != series) continue;
    std::string pts = (*it)[2];
    n += pts.empty() ? 0 : count(pts, " ") + 1;
  }
  return n;
}

TEST(run_picture_e2e, a_throttled_interrupted_and_resumed_run_is_drawn_with_every_sample) {
  emulator_process emu({"--accounts", "acct-1", "--rate", "12", "--burst", "4"},
                       emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(3000));
  auto env = client_env(dir.path());
  env.merge_stderr = true;
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"});
  auto p = child_process::spawn(argv, env);
  // Ctrl-C once a third is done (a few seconds at 12 requests/s): the run ends with 5.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool third = false;
  while (!third && std::chrono::steady_clock::now() < deadline) {
    auto line = p.read_stdout_line(2s);
    if (!line) continue;
    if (auto o = parse_json_object(*line); o && line->starts_with("{\"event\":\"progress\""))
      third = u64(*o, "done") >= 1000;
  }
  ASSERT_TRUE(third) << p.stdout_text();
  p.signal(SIGINT);
  auto status = p.wait(30s);
  ASSERT_TRUE(status);
  ASSERT_EQ(*status, 5) << p.stdout_text();
  auto r = run(argv, client_env(dir.path()), 2min);
  ASSERT_EQ(r.status, 0) << r.err;

  const fs::path journal = dir / "run.journal", page = dir / "run.html";
  EXPECT_TRUE(contains(r.err, "picture: " + page.string())) << r.err;
  EXPECT_EQ(file_mode(page), 0600);
  EXPECT_EQ(file_mode(onboard::timeline_path(journal)), 0600);
  auto tl = onboard::read_timeline(onboard::timeline_path(journal));
  ASSERT_EQ(tl.events.size(), 4u) << "two starts, two ends";
  EXPECT_EQ(tl.events[1].status, "interrupted");
  EXPECT_EQ(tl.events[1].exit_code, 5);
  EXPECT_EQ(tl.events[3].status, "complete");
  ASSERT_GE(tl.samples.size(), 4u);
  std::uint64_t throttled = 0;
  for (const auto& s : tl.samples) throttled = std::max(throttled, s.throttled);
  EXPECT_GT(throttled, 0u) << "the emulator's limit of 12/s was never hit: no throttling to draw";

  // What a browser makes of it: the page renders, and its DOM has every sample in each chart.
  auto dom = run({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                  "file://" + page.string()},
                 clean_env(dir.path()), 2min);
  ASSERT_EQ(dom.status, 0) << dom.err;
  EXPECT_EQ(count(dom.out, "<svg class=\"chart\""), 3u);
  for (const char* series : {"settled", "requests", "throttled (429)", "5xx", "rate"})
    EXPECT_EQ(series_points(dom.out, series), tl.samples.size()) << series;
  EXPECT_EQ(count(dom.out, "class=\"marker start\""), 3u * 2) << "each run's start, on each chart";
  EXPECT_EQ(count(dom.out, "class=\"marker end\""), 3u) << "the interruption, on each chart";
  EXPECT_TRUE(contains(dom.out, "interrupted (exit 5)"));
  EXPECT_TRUE(contains(dom.out, "complete (exit 0)"));
  EXPECT_TRUE(contains(dom.out, "<td>3000</td>")) << "the summary's addresses";

  ASSERT_EQ(emu.stop(), 0);
  auto applied = ledger_counts(emu.ledger_path());
  EXPECT_EQ(applied.size(), 3000u);
  for (const auto& [address, n] : applied) ASSERT_EQ(n, 1) << address;
}

TEST(run_picture, a_torn_timeline_line_is_skipped_and_the_files_are_named_after_the_journal) {
  temp_dir dir;
  write_file(
      dir / "t.timeline",
      "{\"event\":\"start\",\"t\":1000,\"command\":\"invite\",\"pid\":1}\n"
      "{\"t\":2000,\"done\":50,\"requests\":1,\"throttled\":0,\"unavailable\":0,\"rate\":1}\n"
      "{\"t\":3000,\"done\":100,\"req");
  auto t = onboard::read_timeline(dir / "t.timeline");
  EXPECT_EQ(t.samples.size(), 1u);
  EXPECT_EQ(t.unreadable_lines, 1u);
  ASSERT_EQ(t.events.size(), 1u);
  EXPECT_TRUE(t.events[0].start);
  EXPECT_EQ(onboard::read_timeline(dir / "absent").samples.size(), 0u);
  EXPECT_EQ(onboard::picture_path("/x/invite-acct.journal"), "/x/invite-acct.html");
  EXPECT_EQ(onboard::run_status(4), "complete");
  EXPECT_EQ(onboard::run_status(5), "interrupted");
  EXPECT_EQ(onboard::run_status(7), "failed");
}

}  // namespace
