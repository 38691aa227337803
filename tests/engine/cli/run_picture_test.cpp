// run_picture_test.cpp: the page a run writes at its end, replaying its journal a window at a time,
// says what the page made from a whole replay says, and a run with nothing to do keeps the page.
#include <onboard/cli/run_picture.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;

address_outcome outcome(const std::string& email, outcome_kind kind, std::string code = {}) {
  address_outcome o;
  o.email = email;
  o.kind = kind;
  o.error_code = std::move(code);
  o.message = o.error_code.empty() ? "" : "the service said no";
  o.request_id = "req";
  o.attempts = 1;
  return o;
}

TEST(run_picture, the_page_from_a_windowed_replay_is_the_page_from_a_whole_one) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  journal_header h;
  h.account_id = "acct-1";
  for (int run = 0; run < 2; ++run) {
    auto j = journal::open(path, h);
    for (int b = 0; b < 40; ++b) {
      std::vector<std::string> a;
      for (int i = 0; i < 50; ++i)
        a.push_back("u" + std::to_string(run) + "_" + std::to_string(b) + "_" + std::to_string(i) +
                    "@example.com");
      j->record_intent(static_cast<std::uint64_t>(b + 1), a);
      if (b == 39) continue;  // in doubt
      std::vector<address_outcome> out;
      for (int i = 0; i < 50; ++i)
        out.push_back(i % 17 == 3   ? outcome(a[i], outcome_kind::failed, "InviteFailed")
                      : i % 19 == 5 ? outcome(a[i], outcome_kind::exists)
                                    : outcome(a[i], outcome_kind::invited));
      j->record_outcomes(static_cast<std::uint64_t>(b + 1), out);
    }
    j->close();
  }
  auto page = dir / "run.html";
  write_html_report(path, page);
  const std::string windowed = tk::read_file(page);
  write_html_report(replay_journal(path), page);
  EXPECT_EQ(windowed, tk::read_file(page));
  EXPECT_NE(windowed.find("<tr><th>in doubt</th><td>100</td></tr>"), std::string::npos);
  EXPECT_NE(windowed.find("failed: InviteFailed"), std::string::npos);

  EXPECT_TRUE(picture_is_current(page, 0));
  EXPECT_FALSE(picture_is_current(page, 1));
  EXPECT_FALSE(picture_is_current(dir / "none.html", 0));
}

}  // namespace
