// journal_compact_test.cpp: format version 2's compact outcome records (addresses named by their
// place in the batch's intent): round trip of mixed outcomes, what falls back to full records,
// reading and resuming version-1 journals, and outcomes whose intent is missing.
#include <onboard/journal/journal.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;
namespace fs = std::filesystem;

journal_header header_for() {
  journal_header h;
  h.op = operation::invite;
  h.account_id = "acct-1";
  return h;
}

std::vector<std::string> emails(int batch, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back("user" + std::to_string(batch) + "_" + std::to_string(i) + "@example.com");
  return v;
}

// uuid: a distinct lowercase UUID per (batch, i), as the service's InviteIds are.
std::string uuid(int batch, int i) {
  char b[40];
  std::snprintf(b, sizeof b, "%08x-0000-4abc-8def-%012x", batch, i * 7919 + 1);
  return b;
}

address_outcome invited(const std::string& email, std::string id, std::string request_id) {
  address_outcome o;
  o.email = email;
  o.kind = outcome_kind::invited;
  o.id = std::move(id);
  o.status = "Pending";
  o.email_status = "Sent";
  o.request_id = std::move(request_id);
  o.attempts = 2;
  return o;
}

// mixed_batch: outcomes of a batch as the dispatcher makes them: mostly invited, one failed by
// the service, one not sent, one member already; ids as the service gives them (or none).
std::vector<address_outcome> mixed_batch(int b, const std::vector<std::string>& a) {
  std::vector<address_outcome> out;
  const std::string req = "req-" + std::to_string(b);
  for (int i = 0; i < static_cast<int>(a.size()); ++i)
    out.push_back(invited(a[i], uuid(b, i), req));
  out[1].kind = outcome_kind::failed;
  out[1].id.clear();
  out[1].status = "Failed";
  out[1].email_status = "Failed";
  out[1].error_code = "InviteFailed";
  out[1].message = "the service reported Status Failed, EmailStatus Failed";
  out[2].kind = outcome_kind::not_sent;
  out[2].email_status = "NotSent";
  out[2].message = "pending, but no email was sent";
  out[3].kind = outcome_kind::exists;
  out[3].status = "Accepted";
  out[3].id = "Not-A-UUID-" + std::to_string(b);
  out[3].attempts = 3;
  return out;
}

void expect_same(const address_outcome& got, const address_outcome& want) {
  EXPECT_EQ(got.email, want.email);
  EXPECT_EQ(got.kind, want.kind) << want.email;
  EXPECT_EQ(got.id, want.id) << want.email;
  EXPECT_EQ(got.status, want.status) << want.email;
  EXPECT_EQ(got.email_status, want.email_status) << want.email;
  EXPECT_EQ(got.error_code, want.error_code) << want.email;
  EXPECT_EQ(got.message, want.message) << want.email;
  EXPECT_EQ(got.request_id, want.request_id) << want.email;
  EXPECT_EQ(got.attempts, want.attempts) << want.email;
}

// script: the same run in any format: batches 0..3 answered (batch 2 split in two halves, the
// second half answered first, as a bisection may), one address settled without an intent of this
// run (--skip-existing), batch 4 in flight. Returns every outcome written, by address.
std::map<std::string, address_outcome> script(const fs::path& path, std::uint16_t format) {
  journal_options opt;
  opt.format = format;
  auto j = journal::open(path, header_for(), opt);
  std::map<std::string, address_outcome> want;
  for (int b = 0; b < 4; ++b) {
    auto a = emails(b, 50);
    j->record_intent(static_cast<std::uint64_t>(b), a);
    auto out = b == 0 ? std::vector<address_outcome>{} : mixed_batch(b, a);
    if (b == 0)
      for (int i = 0; i < 50; ++i) out.push_back(invited(a[i], uuid(b, i), "req-0"));
    for (const auto& o : out) want[o.email] = o;
    if (b == 2) {
      std::vector<address_outcome> first(out.begin(), out.begin() + 25);
      std::vector<address_outcome> second(out.rbegin(), out.rbegin() + 25);  // reversed
      j->record_outcomes(2, second);
      j->record_outcomes(2, first);
    } else {
      j->record_outcomes(static_cast<std::uint64_t>(b), out);
    }
  }
  address_outcome member;
  member.email = "member@example.com";
  member.kind = outcome_kind::exists;
  member.message = "already in the account";
  j->record_outcomes(3, std::vector{member});
  want[member.email] = member;
  j->record_intent(4, emails(4, 3));
  j->close();
  return want;
}

void expect_script_replayed(const replay_state& s,
                            const std::map<std::string, address_outcome>& want) {
  EXPECT_EQ(s.tail(), tail_state::clean) << s.tail_note();
  EXPECT_EQ(s.size(), want.size() + 3);
  for (const auto& [email, o] : want) {
    auto got = s.outcome_of(email);
    ASSERT_TRUE(got) << email;
    expect_same(*got, o);
  }
  EXPECT_EQ(s.counts().failed, 3u);
  EXPECT_EQ(s.counts().not_sent, 3u);
  EXPECT_EQ(s.counts().exists, 4u);
  EXPECT_EQ(s.counts().invited, 50u + 3 * 47);
  EXPECT_EQ(s.counts().in_doubt, 3u);
  EXPECT_EQ(s.counts().outcome_records, 6u);
  EXPECT_EQ(s.counts().outcomes_recorded, 201u);
  ASSERT_EQ(s.in_doubt().size(), 1u);
  EXPECT_EQ(s.in_doubt()[0].emails, emails(4, 3));
}

TEST(JournalCompact, MixedOutcomesRoundTripAndCostAFractionOfVersionOne) {
  tk::temp_dir dir;
  auto v2 = dir / "v2.journal", v1 = dir / "v1.journal";
  auto want = script(v2, 2);
  script(v1, 1);
  auto s2 = replay_journal(v2);
  EXPECT_EQ(s2.header().format, 2u);
  expect_script_replayed(s2, want);
  auto s1 = replay_journal(v1);
  EXPECT_EQ(s1.header().format, 1u);
  expect_script_replayed(s1, want);
  // Outcomes restate neither the addresses nor what the batch shares; the ids remain (16 bytes
  // each when UUIDs).
  const auto size1 = fs::file_size(v1), size2 = fs::file_size(v2);
  EXPECT_LT(size2 * 2, size1) << size1 << " -> " << size2;
}

TEST(JournalCompact, AVersionOneJournalResumesInVersionOne) {
  tk::temp_dir dir;
  auto path = dir / "old.journal";
  auto want = script(path, 1);
  const auto old_bytes = tk::read_file(path);
  {
    auto j = journal::open(path, header_for());  // today's default options
    EXPECT_EQ(j->prior().header().format, 1u);
    EXPECT_EQ(j->prior().counts().in_doubt, 3u);
    auto a = emails(4, 3);
    std::vector<address_outcome> out;
    for (int i = 0; i < 3; ++i) out.push_back(invited(a[i], uuid(4, i), "req-4"));
    j->record_outcomes(4, out);
    for (const auto& o : out) want[o.email] = o;
    j->close();
  }
  const auto bytes = tk::read_file(path);
  ASSERT_EQ(bytes.substr(0, old_bytes.size()), old_bytes);
  // Only version-1 records were appended (type 'O', not 'C'): an older chime-onboard reads it.
  std::size_t off = old_bytes.size();
  std::string types;
  while (off + 8 < bytes.size()) {
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + off, 4);
    types += bytes[off + 8];
    off += 8 + len;
  }
  EXPECT_EQ(types, "SO");
  auto s = replay_journal(path);
  EXPECT_EQ(s.tail(), tail_state::clean);
  EXPECT_EQ(s.counts().in_doubt, 0u);
  for (const auto& [email, o] : want) expect_same(*s.outcome_of(email), o);
}

// without_intent: the journal's bytes with the last intent record of `batch` cut out.
std::string without_intent(const std::string& bytes, std::uint64_t batch) {
  std::size_t cut_at = 0, cut_len = 0;
  for (std::size_t off = 8; off + 8 < bytes.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + off, 4);
    std::uint64_t b = 0;
    if (len >= 9) std::memcpy(&b, bytes.data() + off + 9, 8);
    if (bytes[off + 8] == 'I' && b == batch) {
      cut_at = off;
      cut_len = 8 + len;
    }
    off += 8 + len;
  }
  EXPECT_GT(cut_len, 0u);
  return bytes.substr(0, cut_at) + bytes.substr(cut_at + cut_len);
}

TEST(JournalCompact, AnOutcomeWhoseIntentIsMissingIsRefusedAndRepairDropsIt) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  script(path, 2);
  // Every record checks out, but batch 1's outcome names places in an intent that is not there.
  tk::write_file(path, without_intent(tk::read_file(path), 1));
  auto s = replay_journal(path);
  EXPECT_EQ(s.tail(), tail_state::damaged);
  EXPECT_NE(s.tail_note().find("names addresses of batch 1 by their place in its intent, but no "
                               "intent of that batch"),
            std::string::npos)
      << s.tail_note();
  EXPECT_EQ(s.counts().invited, 50u);  // batch 0 only: replay stopped at batch 1's outcome
  EXPECT_THROW(journal::open(path, header_for()), journal_damaged);

  // Repair keeps every other record; batch 1's outcome says nothing usable without its intent.
  auto r = repair_journal(path);
  ASSERT_TRUE(r.repaired);
  ASSERT_EQ(r.lost.size(), 1u);
  EXPECT_EQ(r.lost[0].addresses, 0u);
  auto after = replay_journal(path);
  EXPECT_EQ(after.tail(), tail_state::clean) << after.tail_note();
  EXPECT_FALSE(after.find(emails(1, 50)[0]));  // the lost intent named it, and nothing else does
  EXPECT_EQ(after.outcome_of(emails(2, 50)[1])->error_code, "InviteFailed");
  EXPECT_EQ(after.counts().invited, 50u + 2 * 47);
}

TEST(JournalCompact, AnOutcomeCitesTheIntentOfItsOwnRun) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  {
    auto j = journal::open(path, header_for());
    j->record_intent(1, emails(1, 3));  // left in doubt by a run that stopped
    j->close();
  }
  {
    // The next run numbers its batches from 1 again: its batch 1 is other addresses.
    auto j = journal::open(path, header_for());
    auto a = emails(7, 3);
    j->record_intent(1, a);
    j->record_outcomes(1, std::vector{invited(a[0], uuid(7, 0), "r"), invited(a[1], "", "r"),
                                      invited(a[2], uuid(7, 2), "r")});
    j->close();
  }
  auto s = replay_journal(path);
  EXPECT_EQ(s.tail(), tail_state::clean);
  EXPECT_EQ(s.counts().invited, 3u);
  EXPECT_EQ(s.counts().in_doubt, 3u);
  for (const auto& e : emails(1, 3)) EXPECT_TRUE(s.find(e)->in_doubt) << e;
  EXPECT_EQ(s.outcome_of(emails(7, 3)[2])->id, uuid(7, 2));
  EXPECT_EQ(s.outcome_of(emails(7, 3)[1])->id, "");

  // Without the second run's intent, its outcome must not fall back on the first run's batch 1.
  tk::write_file(path, without_intent(tk::read_file(path), 1));
  auto cut = replay_journal(path);
  EXPECT_EQ(cut.tail(), tail_state::damaged);
  EXPECT_EQ(cut.counts().invited, 0u);
  for (const auto& e : emails(1, 3)) EXPECT_TRUE(cut.find(e)->in_doubt) << e;
}

// same_replay: two replays of a journal say the same of every address, outcomes included.
void expect_same_replay(const replay_state& a, const replay_state& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a.valid_bytes(), b.valid_bytes());
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = a.at(i), y = b.at(i);
    ASSERT_EQ(x.email, y.email);
    EXPECT_EQ(x.kind, y.kind) << x.email;
    EXPECT_EQ(x.in_doubt, y.in_doubt) << x.email;
    auto ox = a.outcome_at(i), oy = b.outcome_at(i);
    ASSERT_EQ(ox.has_value(), oy.has_value()) << x.email;
    if (ox) expect_same(*ox, *oy);
  }
  EXPECT_EQ(a.counts().invited, b.counts().invited);
  EXPECT_EQ(a.counts().in_doubt, b.counts().in_doubt);
  EXPECT_EQ(a.counts().outcomes_recorded, b.counts().outcomes_recorded);
}

TEST(JournalCompact, ReplayLettingGoOfWhatItReadSaysTheSame) {
  tk::temp_dir dir;
  for (std::uint16_t format : {1, 2}) {
    auto path = dir / ("v" + std::to_string(format) + ".journal");
    script(path, format);
    // One byte: every record's pages are let go of as soon as it is read, and read back when an
    // address or an outcome is asked for.
    auto whole = replay_journal(path);
    auto dropped = replay_journal(path, {.drop_behind = 1});
    SCOPED_TRACE("format " + std::to_string(format));
    expect_same_replay(whole, dropped);
  }
}

}  // namespace
