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
