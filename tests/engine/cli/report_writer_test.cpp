// report_writer_test.cpp: CSV/JSONL rows, spreadsheet neutralisation, and the status / report
// commands over a real journal (called as functions: the binary may not link mid-development).
#include <onboard/cli/journal_views.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/cli/report_writer.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <iostream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;

std::string csv(std::string_view cell) {
  std::string out;
  csv_cell(out, cell);
  return out;
}

TEST(ReportWriter, CsvNeutralisesFormulasAndQuotes) {
  EXPECT_EQ(csv("plain@example.com"), "plain@example.com");
  EXPECT_EQ(csv("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(csv("+1"), "'+1");
  EXPECT_EQ(csv("-2"), "'-2");
  EXPECT_EQ(csv("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv("\tx"), "'\tx");
  EXPECT_EQ(csv("a,b"), "\"a,b\"");
  EXPECT_EQ(csv("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv(""), "");
}

TEST(ReportWriter, JsonEscapes) {
  std::string out;
  json_string(out, "a\"b\\c\n\x01\xC3\xA9\xFF");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xC3\xA9\xEF\xBF\xBD\"");
}

address_outcome sample() {
  address_outcome o;
  o.email = "=cmd@example.com";
  o.kind = outcome_kind::failed;
  o.error_code = "BadRequestException";
  o.message = "Invalid, \"email\"";
  o.attempts = 2;
  o.request_id = "r-1";
  return o;
}

TEST(ReportWriter, CsvAndJsonlRows) {
  std::string out;
  {
    report_writer w([&](std::string_view b) { out.append(b); }, report_format::csv, true);
    w.write(report_row::from(sample()).with_source("users.csv", 42));
    w.finish();
    EXPECT_EQ(w.rows(), 1u);
  }
  EXPECT_EQ(out,
            "email,account_id,outcome,id,status,email_status,error_code,message,attempts,request_"
            "id,source,line\n"
            "'=cmd@example.com,,failed,,,,BadRequestException,\"Invalid, \"\"email\"\"\",2,r-1,"
            "users.csv,42\n");
  out.clear();
  report_writer w([&](std::string_view b) { out.append(b); }, report_format::jsonl);
  w.write(sample());
  w.finish();
  auto v = boost::json::parse(out);
  EXPECT_EQ(v.at("email").as_string(), "=cmd@example.com");  // JSON is not neutralised
  EXPECT_EQ(v.at("message").as_string(), "Invalid, \"email\"");
  EXPECT_EQ(v.at("attempts").as_int64(), 2);
  // An empty CSV report still has its header.
  out.clear();
  report_writer e([&](std::string_view b) { out.append(b); }, report_format::csv);
  e.finish();
  EXPECT_EQ(
      out,
      "email,account_id,outcome,id,status,email_status,error_code,message,attempts,request_id\n");
}

// sample_journal: two invited, one failed, two in doubt.
std::filesystem::path sample_journal(const tk::temp_dir& dir) {
  auto path = dir / "run.journal";
  journal_header h;
  h.account_id = "acct-9";
  auto j = journal::open(path, h);
  std::vector<std::string> a{"a@x.com", "b@x.com", "-c@x.com"};
  j->record_intent(1, a);
  std::vector<address_outcome> out(3);
  for (int i = 0; i < 3; ++i) {
    out[i].email = a[i];
    out[i].kind = i < 2 ? outcome_kind::invited : outcome_kind::failed;
    out[i].id = i < 2 ? "id-" + a[i] : "";
    out[i].request_id = "req";
  }
  j->record_outcomes(1, out);
  std::vector<std::string> b{"d@x.com", "e@x.com"};
  j->wait_durable(j->record_intent(2, b));
  j->close();
  return path;
}

TEST(JournalReport, WriteReportAllAndFailedOnly) {
  tk::temp_dir dir;
  auto s = replay_journal(sample_journal(dir));
  std::string out;
  report_writer w([&](std::string_view b) { out.append(b); }, report_format::csv);
  EXPECT_EQ(write_report(s, w, false), 5u);
  EXPECT_NE(out.find("\na@x.com,acct-9,invited,id-a@x.com,"), std::string::npos) << out;
  EXPECT_NE(out.find("\n'-c@x.com,acct-9,failed,"), std::string::npos) << out;
  EXPECT_NE(out.find("\nd@x.com,acct-9,in_doubt,"), std::string::npos) << out;
  out.clear();
  report_writer f([&](std::string_view b) { out.append(b); }, report_format::jsonl);
  EXPECT_EQ(write_report(s, f, true), 1u);
  EXPECT_EQ(boost::json::parse(out).at("email").as_string(), "-c@x.com");
  EXPECT_EQ(boost::json::parse(out).at("account_id").as_string(), "acct-9");
}

TEST(JournalReport, StatusTextAndJson) {
  tk::temp_dir dir;
  auto s = replay_journal(sample_journal(dir));
  auto text = status_text(s, s.last_activity_unix_ms() + 180000);
  EXPECT_NE(text.find("invite into account acct-9"), std::string::npos) << text;
  EXPECT_NE(text.find("  invited       2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  failed        1"), std::string::npos) << text;
  EXPECT_NE(text.find("  in doubt      2 in 1 batch "), std::string::npos) << text;
  EXPECT_NE(text.find("batch 2 (attempt 1"), std::string::npos) << text;
  EXPECT_NE(text.find("(3m00s ago)"), std::string::npos) << text;
  auto v = boost::json::parse(status_json(s));
  EXPECT_EQ(v.at("totals").at("invited").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(v.at("totals").at("in_doubt").to_number<std::uint64_t>(), 2u);
  EXPECT_EQ(v.at("in_doubt_batches").at(0).at("addresses").at(1).as_string(), "e@x.com");
  EXPECT_EQ(v.at("tail").as_string(), "clean");
}

// progress_of: done (settled addresses) against the latest run's plan, running or stopped by the
// lock's holder, and the ETA from the last minute of the timeline's samples, only while running.
TEST(JournalReport, StatusProgressFromThePlanTheLockAndTheRecentRate) {
  tk::temp_dir dir;
  auto s = replay_journal(sample_journal(dir));  // 3 settled, 2 in doubt
  timeline t;
  timeline_event start;
  start.unix_ms = 1'000;
  start.run = 1;
  start.plan = {{"other-account", 0, 99}, {"acct-9", 0, 10}};
  t.events.push_back(start);
  // The first sample is older than a minute before the last: left out of the rate.
  for (auto [ms, done] :
       {std::pair<std::int64_t, std::uint64_t>{5'000, 0}, {10'000, 0}, {40'000, 6}, {70'000, 12}})
    t.samples.push_back({.unix_ms = ms,
                         .done = done,
                         .requests = 0,
                         .throttled = 0,
                         .unavailable = 0,
                         .rate = 0,
                         .run = 1});
  t.samples[0].done = 100;  // would make the rate negative if it counted

  auto running = progress_of(s, t, {.known = true, .pid = 4242});
  ASSERT_TRUE(running.active);
  EXPECT_TRUE(*running.active);
  EXPECT_EQ(running.pid, 4242);
  EXPECT_EQ(running.done, 3u);
  EXPECT_EQ(running.total, 10u);
  ASSERT_TRUE(running.recent_rate);
  EXPECT_DOUBLE_EQ(*running.recent_rate, 0.2);  // 12 in 60 s
  ASSERT_TRUE(running.eta_seconds);
  EXPECT_DOUBLE_EQ(*running.eta_seconds, 35.0);  // 7 left at 0.2/s
  auto text = status_text(s, 80'000, &running);
  EXPECT_NE(text.find("state           running (pid 4242, since "), std::string::npos) << text;
  EXPECT_NE(text.find("progress        3 of 10 addresses settled (30.0%)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("eta             35s at 0.2 addresses/s"), std::string::npos) << text;
  auto v = boost::json::parse(status_json(s, &running));
  EXPECT_EQ(v.at("pid").as_int64(), 4242);
  EXPECT_EQ(v.at("percent").as_double(), 30.0);

  // A holder seen from another pid namespace (pid 0): the journal's last session names it.
  EXPECT_EQ(progress_of(s, t, {.known = true, .pid = 0}).pid, ::getpid());

  timeline_event end;
  end.unix_ms = 90'000;
  end.run = 1;
  end.start = false;
  end.exit_code = 5;
  end.status = "interrupted";
  t.events.push_back(end);
  auto stopped = progress_of(s, t, {.known = true, .pid = std::nullopt});
  EXPECT_EQ(stopped.active, false);
  EXPECT_FALSE(stopped.eta_seconds);
  EXPECT_EQ(stopped.last_status, "interrupted");
  text = status_text(s, 100'000, &stopped);
  EXPECT_NE(text.find("state           stopped: the last run ended interrupted (exit 5) at "),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("eta"), std::string::npos) << text;

  // Without /proc/locks nothing is claimed; without a timeline the total is unknown.
  auto unknown = progress_of(s, timeline{}, {});
  EXPECT_FALSE(unknown.active);
  EXPECT_FALSE(unknown.total);
  text = status_text(s, 100'000, &unknown);
  EXPECT_NE(text.find("state           unknown"), std::string::npos) << text;
  EXPECT_NE(text.find("3 addresses settled (the run's total is not known"), std::string::npos)
      << text;
  EXPECT_TRUE(boost::json::parse(status_json(s, &unknown)).at("total").is_null());
}

// A run holds its journal's lock: /proc/locks names this process while it is open, nobody after.
TEST(JournalReport, LockHolderIsTheProcessWithTheJournalOpen) {
  tk::temp_dir dir;
  auto path = dir / "held.journal";
  journal_header h;
  h.account_id = "acct-9";
  auto j = journal::open(path, h);
  auto held = journal_lock_holder(path);
  if (!held.known) GTEST_SKIP() << "no /proc/locks here";
  EXPECT_EQ(held.pid, ::getpid());
  j->close();
  j.reset();
  auto free = journal_lock_holder(path);
  EXPECT_TRUE(free.known);
  EXPECT_FALSE(free.pid);
}

// capture: runs `f` with std::cout and std::cerr redirected.
template <typename F>
int capture(std::string& out, std::string& err, F f) {
  std::ostringstream o, e;
  auto* ob = std::cout.rdbuf(o.rdbuf());
  auto* eb = std::cerr.rdbuf(e.rdbuf());
  int rc = f();
  std::cout.rdbuf(ob);
  std::cerr.rdbuf(eb);
  out = o.str();
  err = e.str();
  return rc;
}

TEST(JournalReport, Commands) {
  tk::temp_dir dir;
  auto path = sample_journal(dir).string();
  std::string out, err;
  EXPECT_EQ(capture(out, err,
                    [&] {
                      return cmd_status({"--journal", path, "--output", "json"});
                    }),
            0);
  EXPECT_EQ(boost::json::parse(out).at("account_id").as_string(), "acct-9");

  auto report = (dir / "failed.csv").string();
  EXPECT_EQ(
      capture(out, err,
              [&] {
                return cmd_report({"--journal", path, "--failed-only", "--output-file", report});
              }),
      0);
  // The columns of invite --report; only the run that read an address knows its source line.
  EXPECT_EQ(tk::read_file(report),
            "email,account_id,outcome,id,status,email_status,error_code,message,attempts,request_"
            "id,source,"
            "line\n"
            "'-c@x.com,acct-9,failed,,,,,,0,req,,0\n");
  EXPECT_NE(err.find("2 addresses are in doubt"), std::string::npos) << err;
  struct stat st {};
  ASSERT_EQ(::stat(report.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  EXPECT_EQ(capture(out, err,
                    [&] {
                      return cmd_report({"--journal", path, "--format", "jsonl"});
                    }),
            0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 5);

  // A torn tail: a note on stderr, the prefix is still reported.
  auto bytes = tk::read_file(path);
  tk::write_file(path, bytes + std::string("\x30\x00\x00\x00garbage", 11));
  EXPECT_EQ(capture(out, err, [&] { return cmd_status({"--journal", path}); }), 0);
  EXPECT_NE(err.find("ignored 11 bytes of an incomplete record"), std::string::npos) << err;

  // Missing journal, bad options.
  auto missing = (dir / "none.journal").string();
  EXPECT_EQ(capture(out, err, [&] { return cmd_status({"--journal", missing}); }), 2);
  EXPECT_NE(err.find("journal " + missing + " does not exist"), std::string::npos) << err;
  EXPECT_EQ(capture(out, err,
                    [&] {
                      return cmd_report({"--journal", path, "--format", "xml"});
                    }),
            2);
  EXPECT_EQ(capture(out, err, [&] { return cmd_status({}); }), 2);
  EXPECT_EQ(capture(out, err, [&] { return cmd_report({"--help"}); }), 0);
  EXPECT_NE(out.find("example:"), std::string::npos);
}

}  // namespace
