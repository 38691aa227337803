// What `chime-onboard invite` shows while it works, as a user sees it: on a terminal (a real
// pseudo-terminal from util-linux `script`) `--progress auto` redraws one line with '\r'; through
// pipes it prints plain lines; `--progress json` prints one object a line for wrappers.
#include "cli_env.hpp"
#include "pty_session.hpp"

#include <onboard/cli/progress.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <regex>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// shell_quote: one argument for `script -c` (which runs it with /bin/sh -c).
std::string shell_quote(const std::string& s) {
  std::string r = "'";
  for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return r + "'";
}

// The emulator allows 100 requests/s (small bucket); 5,000 addresses (100 batches) take the
// engine, starting cautiously, 1-4 s: several redraws at 4 a second. Without a terminal fewer
// addresses do (a first line and a final one are all there is to see).
struct fixture {
  emulator_process emu{{"--accounts", "acct-1", "--rate", "100", "--burst", "10"}};
  temp_dir dir;
  std::size_t n;
  explicit fixture(std::size_t addresses = 5000) : n(addresses) {
    write_file(dir / "users.txt", numbered_addresses(n));
  }
  std::vector<std::string> argv(const std::string& progress, const std::string& output) {
    auto a = invite_argv(emu, dir / "users.txt", dir.path(), {});
    // invite_argv says --progress off --output json; these come later and win.
    a.insert(a.end(), {"--progress", progress, "--output", output});
    return a;
  }
};

TEST(progress, on_a_terminal_auto_redraws_one_line_to_100_percent_then_prints_the_summary) {
  fixture f;
  std::string command;
  for (const auto& a : f.argv("auto", "text"))
    command += (command.empty() ? "" : " ") + shell_quote(a);
  // script: -q quiet, -f flush at once, -e the child's exit code, -c the command; the PTY's
  // output (stdout and stderr of the command) comes out on script's stdout.
  auto r = run({"/usr/bin/script", "-qfec", command, "/dev/null"}, client_env(f.dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string& tty = r.out;
  // The bar is redrawn in place: each draw starts with '\r' right before the percentage (a lone
  // '\r' proves nothing: the terminal turns every '\n' into "\r\n"). The first draw, the last
  // and at least one in between (~1 s at 4 draws a second).
  static const std::regex draw("\r[ 0-9]{3}\\.[0-9]% [0-9]+/5000");
  auto draws =
      std::distance(std::sregex_iterator(tty.begin(), tty.end(), draw), std::sregex_iterator());
  EXPECT_GE(draws, 3) << tty;
  EXPECT_TRUE(contains(tty, "100.0% 5000/5000")) << tty;
  EXPECT_TRUE(contains(tty, "emails/s")) << tty;
  EXPECT_TRUE(contains(tty, "ETA")) << tty;
  // The final summary follows the bar.
  auto bar_end = tty.rfind("100.0%");
  auto summary = tty.find("summary", bar_end == std::string::npos ? 0 : bar_end);
  ASSERT_NE(summary, std::string::npos) << tty;
  EXPECT_TRUE(contains(tty.substr(summary), "invited")) << tty;
  EXPECT_TRUE(contains(tty.substr(summary), "5000")) << tty;
}

TEST(progress, through_pipes_auto_prints_plain_lines_without_carriage_returns) {
  fixture f(1000);
  auto r = run(f.argv("auto", "text"), client_env(f.dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  std::istringstream in(r.err);
  std::string line;
  std::size_t progress_lines = 0;
  bool reached_end = false;
  while (std::getline(in, line)) {
    if (!contains(line, "emails/s")) continue;
    ++progress_lines;
    EXPECT_TRUE(contains(line, "/1000")) << line;
    reached_end = reached_end || contains(line, "100.0% 1000/1000");
  }
  EXPECT_GE(progress_lines, 2u) << "a first line and a final one: " << r.err;
  EXPECT_TRUE(reached_end) << r.err;
  EXPECT_TRUE(contains(r.out, "summary")) << r.out;
}

TEST(progress, json_mode_prints_one_object_a_line_with_done_total_and_rate) {
  fixture f(1000);
  auto r = run(f.argv("json", "json"), client_env(f.dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  std::istringstream in(r.err);
  std::string line;
  std::size_t objects = 0;
  std::uint64_t last_done = 0;
  while (std::getline(in, line)) {
    auto o = parse_json_object(line);
    ASSERT_TRUE(o) << "not one JSON object: " << line;
    // The other events (started, log lines, summary) are run_events_e2e_test's.
    if (o->at("event") != "progress") continue;
    ASSERT_TRUE(o->contains("done") && o->contains("total") && o->contains("rate")) << line;
    EXPECT_TRUE(o->at("rate").is_number()) << line;
    EXPECT_EQ(u64(*o, "total"), 1000u) << line;
    EXPECT_GE(u64(*o, "done"), last_done) << "done never goes back: " << line;
    last_done = u64(*o, "done");
    ++objects;
  }
  EXPECT_GE(objects, 2u) << r.err;
  EXPECT_EQ(last_done, 1000u) << "the last object is the final state: " << r.err;
  // The summary on stdout is JSON too, and separate from the progress stream.
  auto summary = parse_json_object(r.out);
  ASSERT_TRUE(summary) << r.out;
  EXPECT_EQ(u64(*summary, "invited"), 1000u);
}

// progress_lines: the drawings of the progress line in a terminal's output: every piece between
// carriage returns and newlines that mentions the total, without the erase-to-end-of-line code.
std::vector<std::string> progress_lines(const std::string& tty, const std::string& total) {
  std::vector<std::string> lines;
  std::string piece;
  auto flush = [&] {
    for (std::size_t k; (k = piece.find("\x1b[K")) != std::string::npos;) piece.erase(k, 3);
    if (contains(piece, "/" + total + " ")) lines.push_back(piece);
    piece.clear();
  };
  for (char c : tty) {
    if (c == '\r' || c == '\n')
      flush();
    else
      piece += c;
  }
  flush();
  return lines;
}

// In a terminal 80 and 200 columns wide, the redrawn line never reaches the last column (which
// would wrap it, and every later redraw would land on a new line): at 80 the fields at its end
// give way, at 200 it is whole.
TEST(progress, the_redrawn_line_never_wraps_at_80_or_200_columns) {
  for (unsigned short cols : {80, 200}) {
    fixture f(3000);
    pty_session s(f.argv("auto", "text"), client_env(f.dir.path()), cols);
    auto status = s.wait(1min);
    ASSERT_TRUE(status) << s.output();
    ASSERT_EQ(*status, 0) << s.output();
    auto lines = progress_lines(s.output(), "3000");
    ASSERT_GE(lines.size(), 2u) << s.output();
    bool whole = false;
    for (const auto& l : lines) {
      EXPECT_LT(l.size(), cols) << cols << " columns: \"" << l << "\"";
      EXPECT_TRUE(contains(l, "emails/s")) << l;
      whole = whole || contains(l, "| failed ");
    }
    EXPECT_EQ(whole, cols == 200) << s.output();
    EXPECT_TRUE(contains(lines.back(), "100.0% 3000/3000")) << lines.back();
  }
}

TEST(progress, fit_line_drops_whole_fields_from_the_end_then_cuts) {
  const std::string l = "12.5% 10/80 | 3 emails/s | ETA 4s | in flight 2";
  EXPECT_EQ(onboard::fit_line(l, 100), l);
  EXPECT_EQ(onboard::fit_line(l, l.size()), l);
  EXPECT_EQ(onboard::fit_line(l, 40), "12.5% 10/80 | 3 emails/s | ETA 4s");
  EXPECT_EQ(onboard::fit_line(l, 12), "12.5% 10/80");
  EXPECT_EQ(onboard::fit_line(l, 5), "12.5%");
}

// --quiet: the summary and errors only: no banner, no journal line, no progress, even on a
// terminal with --progress auto.
TEST(progress, quiet_shows_only_the_summary_on_a_terminal) {
  fixture f(1000);
  auto argv = f.argv("auto", "text");
  argv.push_back("--quiet");
  pty_session s(argv, client_env(f.dir.path()), 80);
  auto status = s.wait(1min);
  ASSERT_TRUE(status) << s.output();
  ASSERT_EQ(*status, 0) << s.output();
  const std::string& tty = s.output();
  EXPECT_FALSE(contains(tty, "emails/s |")) << tty;
  EXPECT_FALSE(contains(tty, "invite: account")) << tty;
  EXPECT_FALSE(contains(tty, "(new)")) << tty;
  EXPECT_TRUE(contains(tty, "summary")) << tty;
  EXPECT_TRUE(contains(tty, "invited")) << tty;
}

// A stream (stdin, a FIFO) is read once, as it is sent: until it ends there is no total, so the
// display shows what is done and what has been read, with no percentage or ETA made up from a
// number that is still growing; JSON says "total": null and gives "read".
TEST(progress, a_stream_shows_counts_without_a_total_until_it_ends) {
  onboard::run_stats stats;
  stats.total = 120;
  stats.done = 100;
  const auto now = std::chrono::steady_clock::now();
  std::ostringstream plain;
  onboard::progress_display p(onboard::progress_mode::plain, stats, plain, false);
  p.set_total_final(false);
  p.tick(now);
  EXPECT_TRUE(contains(plain.str(), "100 done, 120 read so far")) << plain.str();
  EXPECT_FALSE(contains(plain.str(), "%")) << plain.str();
  EXPECT_FALSE(contains(plain.str(), "ETA")) << plain.str();

  std::ostringstream json;
  onboard::progress_display j(onboard::progress_mode::json, stats, json, false);
  j.set_total_final(false);
  j.tick(now);
  auto o = parse_json_object(json.str());
  ASSERT_TRUE(o) << json.str();
  EXPECT_TRUE(o->at("total").is_null()) << json.str();
  EXPECT_EQ(u64(*o, "read"), 120u);
  EXPECT_EQ(u64(*o, "done"), 100u);
  EXPECT_FALSE(o->at("total_final").as_bool());

  // The stream ended: the total is what was read, and the percentage means something.
  stats.total = 150;
  stats.done = 150;
  plain.str("");
  p.set_total_final(true);
  p.tick(now);
  EXPECT_TRUE(contains(plain.str(), "100.0% 150/150")) << plain.str();
  json.str("");
  j.set_total_final(true);
  j.tick(now);
  o = parse_json_object(json.str());
  ASSERT_TRUE(o) << json.str();
  EXPECT_EQ(u64(*o, "total"), 150u);
  EXPECT_FALSE(o->contains("read")) << json.str();
  EXPECT_TRUE(o->at("total_final").as_bool());
}

}  // namespace
