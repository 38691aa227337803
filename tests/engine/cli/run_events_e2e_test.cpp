// Watching a run, as a wrapper and a support engineer do, against the emulator: `--progress json`
// leaves only JSON events on stderr, started first and summary last, with a warning event for
// what the run warns about; `--debug --log-file` records the banner, the statistics, the summary
// and a line for every request the emulator counted, and never a key, a token or (with --redact)
// an address.
#include "cli_env.hpp"

#include <onboard/cli/progress.hpp>
#include <onboard/cli/run_events.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(run_events, json_progress_leaves_only_events_on_stderr_started_first_and_summary_last) {
  emulator_process emu{{"--accounts", "acct-1", "--rate", "100", "--burst", "10"}};
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(600));
  // --no-verify-ssl: something the run warns about, at its start.
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(),
                          {"--progress", "json", "--stats", "200ms", "--no-verify-ssl"});
  auto r = run(argv, client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;

  std::vector<std::string> events, journal_lines;
  for (const auto& line : lines_of(r.err)) {
    auto o = parse_json_object(line);
    ASSERT_TRUE(o) << "not one JSON object: \"" << line << "\" in:\n" << r.err;
    ASSERT_TRUE(o->contains("event") && o->at("event").is_string()) << line;
    events.emplace_back(o->at("event").as_string());
    if (events.back() == "started") {
      EXPECT_EQ(o->at("operation").as_string(), "invite") << line;
      EXPECT_EQ(u64(*o, "total"), 600u) << line;
      EXPECT_EQ(o->at("journal").as_string(), (dir / "run.journal").string()) << line;
      EXPECT_EQ(o->at("accounts").as_array().at(0).as_object().at("account_id").as_string(),
                "acct-1")
          << line;
    }
    if (events.back() == "warning") {
      EXPECT_TRUE(contains(std::string(o->at("message").as_string()), "--no-verify-ssl")) << line;
    }
    if (events.back() == "summary") {
      EXPECT_EQ(o->at("exit_code").as_int64(), 0) << line;
      EXPECT_EQ(u64(o->at("summary").as_object(), "invited"), 600u) << line;
    }
    EXPECT_TRUE(o->contains("time") && o->at("time").is_string()) << line;
    // A line the run writes in pieces (std::cerr flushes after each) is still one message.
    if (events.back() == "message" &&
        contains(std::string(o->at("message").as_string()), "journal: "))
      journal_lines.emplace_back(o->at("message").as_string());
  }
  // Before the start, only what the preparation logs (the pre-flight's findings, the warning).
  const auto started = std::find(events.begin(), events.end(), "started");
  ASSERT_NE(started, events.end()) << r.err;
  for (auto e = events.begin(); e != started; ++e)
    EXPECT_TRUE(*e == "log" || *e == "warning" || *e == "message") << *e << " in:\n" << r.err;
  EXPECT_EQ(events.back(), "summary") << r.err;
  const auto first_progress = std::find(events.begin(), events.end(), "progress");
  ASSERT_NE(first_progress, events.end()) << r.err;
  EXPECT_LT(started, first_progress) << r.err;
  EXPECT_EQ(std::count(events.begin(), events.end(), "warning"), 1) << r.err;
  EXPECT_EQ(std::count(events.begin(), events.end(), "summary"), 1) << r.err;
  ASSERT_FALSE(journal_lines.empty()) << r.err;
  EXPECT_EQ(journal_lines.front(), "journal: " + (dir / "run.journal").string() + " (new)");
  // stdout keeps the summary --output json asks for.
  auto summary = parse_json_object(r.out);
  ASSERT_TRUE(summary) << r.out;
  EXPECT_EQ(u64(*summary, "invited"), 600u);
}

TEST(run_events, json_progress_without_yes_is_refused_before_anything_is_sent) {
  emulator_process emu{{"--accounts", "acct-1"}};
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(3));
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(), {"--progress", "json"});
  std::erase(argv, std::string("--yes"));
  auto r = run(argv, client_env(dir.path()), 30s);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--progress json")) << r.err;
  EXPECT_TRUE(contains(r.err, "--yes")) << r.err;
  EXPECT_EQ(emu.stat("requests"), 0u);
}

TEST(run_events, debug_log_file_has_a_line_per_request_the_banner_stats_and_summary) {
  // Whether a line says why a request is sent again is request_log_test's (a scripted service
  // decides what is retried there); here, each request the service counted has its line.
  emulator_process emu{{"--accounts", "acct-1"}};
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(250));
  const auto log = dir / "run.log";
  auto argv = invite_argv(emu, dir / "users.txt", dir.path(),
                          {"--debug", "--redact", "--log-file", log.string()});
  auto r = run(argv, client_env(dir.path()), 1min);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(file_mode(log), 0600);
  const std::string text = read_file(log);
  std::size_t requests = 0, throttled = 0;
  for (const auto& l : lines_of(text)) {
    if (!contains(l, " debug request ")) continue;
    ++requests;
    throttled += contains(l, " 429 id=");
    EXPECT_TRUE(contains(l, " ms attempt ")) << l;
  }
  const std::string stats = emu.stats();
  EXPECT_EQ(requests, json_counter(stats, "requests")) << stats << "\n" << text;
  EXPECT_EQ(throttled, json_counter(stats, "status.429")) << stats;
  EXPECT_TRUE(contains(text, "info invite: account acct-1")) << "the banner";
  EXPECT_TRUE(contains(text, "info stats: 100.0% 250/250")) << "the final statistics";
  EXPECT_TRUE(contains(text, "info summary")) << "the summary";
  // No key, signature or address: the requests' lines hold neither, and --redact hides the
  // addresses everywhere else.
  EXPECT_FALSE(contains(text, secret_key)) << text;
  EXPECT_FALSE(contains(text, "Signature=")) << text;
  EXPECT_FALSE(contains(text, "Authorization")) << text;
  EXPECT_FALSE(contains(text, "@example.com")) << text;
}

// The pure parts: the events' shapes (durations_test.cpp reads --stats' interval).
TEST(run_events, events_have_their_name_first_a_time_and_the_summary_as_an_object) {
  std::ostringstream out;
  onboard::event_stream ev(out);
  onboard::run_banner b;
  b.operation = "invite";
  b.pending = 1000;
  b.limit = 10;
  b.report = "r.csv";
  ev.emit(onboard::started_event(b, {{"acct-1", "\"Acme\", Team, Active", "/j/a.journal"}}));
  ev.emit(onboard::interrupted_event("SIGINT", "chime-onboard invite --account-id acct-1"));
  ev.emit(onboard::summary_event("{\"invited\":7}", 5));
  ev.emit(onboard::summary_event("", 3));
  auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 4u) << out.str();
  for (const auto& l : lines) {
    EXPECT_EQ(l.rfind("{\"event\":\"", 0), 0u) << l;
    auto o = parse_json_object(l);
    ASSERT_TRUE(o) << l;
    EXPECT_TRUE(o->at("time").is_string()) << l;
  }
  auto started = *parse_json_object(lines[0]);
  EXPECT_EQ(u64(started, "total"), 10u) << "the pilot's --limit caps it";
  EXPECT_EQ(started.at("journal").as_string(), "/j/a.journal");
  EXPECT_TRUE(started.at("rejects").is_null());
  EXPECT_EQ(started.at("report").as_string(), "r.csv");
  auto interrupted = *parse_json_object(lines[1]);
  EXPECT_EQ(interrupted.at("reason").as_string(), "SIGINT");
  EXPECT_TRUE(contains(std::string(interrupted.at("resume").as_string()), "invite"));
  auto summary = *parse_json_object(lines[2]);
  EXPECT_EQ(summary.at("exit_code").as_int64(), 5);
  EXPECT_EQ(u64(summary.at("summary").as_object(), "invited"), 7u);
  EXPECT_TRUE(parse_json_object(lines[3])->at("summary").is_null());
}

}  // namespace
