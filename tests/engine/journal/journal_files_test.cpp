// journal_files_test.cpp: the journal among other files: its default name for any account id,
// setting it aside for --new-journal, and `journal repair` on damage anywhere in the middle.
#include <onboard/journal/journal.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <sys/stat.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;
namespace fs = std::filesystem;

journal_header header_for(std::string account = "acct-1") {
  journal_header h;
  h.op = operation::invite;
  h.account_id = std::move(account);
  return h;
}

address_outcome outcome(std::string email, outcome_kind kind) {
  address_outcome o;
  o.email = std::move(email);
  o.kind = kind;
  o.id = kind == outcome_kind::failed ? "" : "id-" + o.email;
  o.status = kind == outcome_kind::failed ? "Failed" : "Pending";
  o.request_id = "req-1";
  o.attempts = 1;
  return o;
}

std::vector<std::string> emails(int batch, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back("user" + std::to_string(batch) + "_" + std::to_string(i) + "@example.com");
  return v;
}

// frame: one record of a journal file, found by walking its lengths.
struct frame {
  std::size_t at = 0, size = 0;
  char type = 0;
  std::uint64_t batch = 0;
};

std::vector<frame> frames(const std::string& bytes) {
  std::vector<frame> v;
  for (std::size_t off = 8; off + 9 <= bytes.size();) {
    std::uint32_t len = 0;
    std::memcpy(&len, bytes.data() + off, 4);
    frame f{off, 8 + len, bytes[off + 8], 0};
    if (f.type == 'I' || f.type == 'O' || f.type == 'C' || f.type == 'R')
      std::memcpy(&f.batch, bytes.data() + off + 9, 8);
    v.push_back(f);
    off += f.size;
  }
  return v;
}

// scripted_journal: batches 0..6 sent and answered (some addresses failed), batch 7 in flight,
// batch 8 taken ahead and released.
fs::path scripted_journal(const tk::temp_dir& dir, const std::string& name = "run.journal",
                          std::uint16_t format = 2) {
  auto path = dir / name;
  journal_options opt;
  opt.format = format;
  auto j = journal::open(path, header_for(), opt);
  for (int b = 0; b < 9; ++b) {
    auto a = emails(b, 5);
    j->record_intent(static_cast<std::uint64_t>(b), a);
    if (b < 7) {
      std::vector<address_outcome> out;
      for (int i = 0; i < 5; ++i)
        out.push_back(outcome(a[i], i == 2 ? outcome_kind::failed : outcome_kind::invited));
      j->record_outcomes(static_cast<std::uint64_t>(b), out);
    }
    if (b == 8) {
      std::vector<std::string_view> v(a.begin(), a.end());
      j->record_release(8, v);
    }
  }
  j->close();
  return path;
}

int mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 0777);
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> s;
  for (const auto& e : fs::directory_iterator(dir)) s.insert(e.path().filename().string());
  return s;
}

// expect_nothing_forgotten: every address `before` knew is, after a repair, either exactly as it
// was or in doubt (to be verified): never unknown, never settled differently.
void expect_nothing_forgotten(const replay_state& before, const replay_state& after,
                              const std::string& where) {
  for (std::size_t i = 0; i < before.size(); ++i) {
    auto was = before.at(i);
    auto now = after.find(was.email);
    if (!was.kind && !was.in_doubt) continue;  // released, never sent: nothing to keep
    ASSERT_TRUE(now) << where << ": " << was.email << " forgotten";
    if (now->in_doubt) continue;
    EXPECT_EQ(now->kind, was.kind) << where << ": " << was.email;
    EXPECT_FALSE(was.in_doubt) << where << ": " << was.email << " settled by the repair";
  }
}

TEST(JournalFiles, FileNameIsOnePlainNameForAnyAccountId) {
  EXPECT_EQ(journal_file_name(operation::invite, "12a3456b-7c89-012d-3456-78901e23fg45"),
            "invite-12a3456b-7c89-012d-3456-78901e23fg45.journal");
  EXPECT_EQ(journal_file_name(operation::create, "acct_1.x"), "create-users-acct_1.x.journal");
  std::set<std::string> names;
  const std::string long_a(300, 'a');
  const std::vector<std::string> ids = {"a/b",  "a_b",  "a b",       "../../etc/passwd",
                                        "",     ".",    "..",        "\xc3\xa9t\xc3\xa9",
                                        "a\nb", long_a, long_a + "b"};
  for (const auto& id : ids) {
    auto name = journal_file_name(operation::invite, id);
    EXPECT_TRUE(names.insert(name).second) << "two ids share " << name;
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    EXPECT_LE(name.size(), 100u) << name;
    EXPECT_TRUE(name.starts_with("invite-") && name.ends_with(".journal")) << name;
    for (char c : name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._-", c)) << name;
  }
  // Only an id that had to change carries the hash: a plain id stays readable.
  EXPECT_EQ(journal_file_name(operation::invite, "a_b"), "invite-a_b.journal");
  EXPECT_NE(journal_file_name(operation::invite, "a/b"), "invite-a_b.journal");
}

TEST(JournalFiles, SetAsideRenamesNeverReplacesAndRefusesAJournalInUse) {
  tk::temp_dir dir;
  auto path = scripted_journal(dir, "invite-acct-1.journal");
  const std::string bytes = tk::read_file(path);
  EXPECT_FALSE(set_aside_journal(dir / "none.journal"));

  auto first = set_aside_journal(path);
  ASSERT_TRUE(first);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(first->parent_path(), dir.path());
  EXPECT_TRUE(first->filename().string().starts_with("invite-acct-1.old-")) << *first;
  EXPECT_EQ(first->extension(), ".journal");
  EXPECT_EQ(tk::read_file(*first), bytes);
  EXPECT_EQ(mode_of(*first), 0600);

  // Twice in the same second: a second name, the first file untouched.
  scripted_journal(dir, "invite-acct-1.journal");
  auto second = set_aside_journal(path);
  ASSERT_TRUE(second);
  EXPECT_NE(*second, *first);
  EXPECT_EQ(tk::read_file(*first), bytes);
  EXPECT_EQ(names_in(dir.path()).size(), 2u);

  auto j = journal::open(path, header_for());
  try {
    set_aside_journal(path);
    FAIL() << "a journal being written must not be moved";
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(path));
  j->close();
}

TEST(JournalRepair, ACleanJournalIsLeftAlone) {
  tk::temp_dir dir;
  auto path = scripted_journal(dir);
  const std::string bytes = tk::read_file(path);
  auto r = repair_journal(path);
  EXPECT_FALSE(r.repaired);
  EXPECT_TRUE(r.lost.empty());
  EXPECT_EQ(tk::read_file(path), bytes);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"run.journal"});
}

// lost_intent_and_outcome: the repair of a journal in `format` that lost records.
void lost_intent_and_outcome(std::uint16_t format) {
  SCOPED_TRACE("format " + std::to_string(format));
  tk::temp_dir dir;
  auto path = scripted_journal(dir, "run.journal", format);
  const auto before = replay_journal(path);
  std::string bytes = tk::read_file(path);
  auto records = frames(bytes);
  // Batch 2's intent and outcome both (only the unreadable bytes name its addresses now), and
  // batch 4's outcome alone (its intent still names them). Two bits each, in the batch id: one
  // would be put back (ABitFlippedAnywhereInTheMiddleIsPutBack).
  std::size_t damaged = 0;
  for (const auto& f : records) {
    const bool outcome = f.type == 'O' || f.type == 'C';
    if ((f.batch == 2 && (f.type == 'I' || outcome)) || (f.batch == 4 && outcome)) {
      bytes[f.at + 10] ^= 0x41;
      ++damaged;
    }
  }
  ASSERT_EQ(damaged, 3u);
  tk::write_file(path, bytes);
  ASSERT_EQ(replay_journal(path).tail(), tail_state::damaged);
  EXPECT_THROW(journal::open(path, header_for()), journal_damaged);

  auto r = repair_journal(path);
  ASSERT_TRUE(r.repaired);
  EXPECT_EQ(r.records_kept, records.size() - 1 - damaged);  // all but the header and the damaged
  ASSERT_EQ(r.lost.size(), 2u);
  EXPECT_EQ(r.lost[0].addresses, 5u);  // batch 2's intent and outcome, adjacent: one stretch
  // A version-1 outcome names its addresses; a compact one only their places in the intent (which
  // still names them: in doubt either way).
  const std::size_t named_by_outcome = format == 1 ? 5 : 0;
  EXPECT_EQ(r.lost[1].addresses, named_by_outcome);
  EXPECT_EQ(r.recovered.size(), 5u + named_by_outcome);
  EXPECT_EQ(r.recovered_in_doubt, 5u + named_by_outcome);

  // The damaged file is kept as it was; the repaired one is private and replays cleanly.
  EXPECT_EQ(r.original.parent_path(), dir.path());
  EXPECT_TRUE(r.original.filename().string().starts_with("run.damaged-")) << r.original;
  EXPECT_EQ(tk::read_file(r.original), bytes);
  EXPECT_EQ(mode_of(path), 0600);
  EXPECT_EQ(names_in(dir.path()),
            (std::set<std::string>{"run.journal", r.original.filename().string()}));
  auto after = replay_journal(path);
  EXPECT_EQ(after.tail(), tail_state::clean);
  EXPECT_EQ(after.header().account_id, "acct-1");
  EXPECT_EQ(after.sessions().size(), 1u);
  expect_nothing_forgotten(before, after, "repaired");
  for (const auto& e : emails(2, 5)) EXPECT_TRUE(after.find(e)->in_doubt) << e;
  for (const auto& e : emails(4, 5)) EXPECT_TRUE(after.find(e)->in_doubt) << e;
  for (int b : {0, 1, 3, 5, 6}) {
    auto a = emails(b, 5);
    EXPECT_EQ(after.find(a[0])->kind, outcome_kind::invited);
    EXPECT_FALSE(after.find(a[0])->in_doubt);
    EXPECT_EQ(after.outcome_of(a[2])->kind, outcome_kind::failed);
  }
  EXPECT_EQ(after.counts().in_doubt, 5u + 5u + 5u);  // batches 2 and 4, and 7 still in flight
  EXPECT_EQ(r.totals.in_doubt, after.counts().in_doubt);
  bool repair_batches = false;
  for (const auto& b : after.in_doubt()) repair_batches |= is_repair_batch(b.batch_id);
  EXPECT_TRUE(repair_batches);

  // It resumes like any journal, and says nothing more needs repairing.
  auto j = journal::open(path, header_for());
  EXPECT_TRUE(j->notes().empty());
  EXPECT_EQ(j->prior().counts().in_doubt, 15u);
  j->record_outcomes(2, std::vector{outcome(emails(2, 5)[0], outcome_kind::exists)});
  j->close();
  EXPECT_FALSE(repair_journal(path).repaired);
}

TEST(JournalRepair, LostIntentAndOutcomeComeBackInDoubtAndEveryRecordThatChecksOutStays) {
  lost_intent_and_outcome(1);
  lost_intent_and_outcome(2);
}

// expect_same_replay: two replays say the same of every address.
void expect_same_replay(const replay_state& a, const replay_state& b, const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = a.at(i), y = b.at(i);
    ASSERT_EQ(x.email, y.email) << where;
    ASSERT_EQ(x.kind, y.kind) << where << ": " << x.email;
    ASSERT_EQ(x.in_doubt, y.in_doubt) << where << ": " << x.email;
    auto ox = a.outcome_at(i), oy = b.outcome_at(i);
    ASSERT_EQ(ox.has_value(), oy.has_value()) << where;
    if (ox) {
      ASSERT_EQ(ox->id + ox->request_id, oy->id + oy->request_id) << where;
    }
  }
}

TEST(JournalRepair, ABitFlippedAnywhereInTheMiddleIsPutBack) {
  tk::temp_dir dir;
  auto path = scripted_journal(dir);
  const auto before = replay_journal(path);
  const std::string bytes = tk::read_file(path);
  auto records = frames(bytes);
  // Batch 3's intent and outcome: every third byte (each field is hit; each try costs two
  // fsyncs), one bit each, which bit varying with the byte. The checksum says which bit it was:
  // the journal comes back as it was, nothing lost (a compact outcome has no copy of the
  // addresses its intent holds).
  std::size_t from = 0, to = 0;
  for (const auto& f : records)
    if (f.batch == 3 && f.type == 'I')
      from = f.at, to = f.at + f.size;
    else if (f.batch == 3 && (f.type == 'O' || f.type == 'C'))
      to = f.at + f.size;
  ASSERT_LT(from, to);
  auto work = dir / "work";
  fs::create_directory(work);
  auto damaged = work / "run.journal";
  for (std::size_t i = from; i < to; i += 3) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ (1 << (i % 8)));
    tk::write_file(damaged, b);
    auto r = repair_journal(damaged);
    ASSERT_TRUE(r.repaired) << "byte " << i;
    ASSERT_EQ(r.lost.size(), 0u) << "byte " << i;
    ASSERT_EQ(r.records_corrected, 1u) << "byte " << i;
    ASSERT_EQ(tk::read_file(damaged), bytes) << "byte " << i;
    auto after = replay_journal(damaged);
    ASSERT_EQ(after.tail(), tail_state::clean) << "byte " << i;
    expect_same_replay(before, after, "byte " + std::to_string(i));
    if (HasFailure()) return;
    fs::remove(r.original);
  }
}

TEST(JournalRepair, TornTailIsCutAndItsAddressesVerified) {
  tk::temp_dir dir;
  auto path = scripted_journal(dir);
  std::string bytes = tk::read_file(path);
  auto last = frames(bytes).back();  // batch 8's release
  bytes.resize(last.at + last.size - 3);
  tk::write_file(path, bytes);
  auto r = repair_journal(path);
  ASSERT_TRUE(r.repaired);
  ASSERT_EQ(r.lost.size(), 1u);
  EXPECT_EQ(r.lost[0].bytes, last.size - 3);
  auto after = replay_journal(path);
  EXPECT_EQ(after.tail(), tail_state::clean);
  // Without its release, batch 8 might have been sent: in doubt, as the run would also say.
  for (const auto& e : emails(8, 5)) EXPECT_TRUE(after.find(e)->in_doubt) << e;
}

TEST(JournalRepair, RefusesWhatItCannotRepairAndChangesNothing) {
  tk::temp_dir dir;
  try {
    repair_journal(dir / "none.journal");
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "journal " + (dir / "none.journal").string() + " does not exist");
  }
  auto junk = dir / "junk.journal";
  tk::write_file(junk, "email\nsomeone@example.com\n");
  EXPECT_THROW(repair_journal(junk), journal_error);

  // The header: without it, which account the records belong to is unknown.
  auto path = scripted_journal(dir);
  std::string bytes = tk::read_file(path);
  std::string bad = bytes;
  bad[20] ^= 0x01;
  tk::write_file(path, bad);
  try {
    repair_journal(path);
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("damaged header"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tk::read_file(path), bad);

  // A journal a run is writing.
  tk::write_file(path, bytes);
  auto j = journal::open(path, header_for());
  try {
    repair_journal(path);
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another"), std::string::npos) << e.what();
  }
  j->close();
  EXPECT_EQ(names_in(dir.path()), (std::set<std::string>{"junk.journal", "run.journal"}));
}

}  // namespace
