// journal_test.cpp: the write-ahead journal: round trip, resume, header checks, torn tails at every
// byte, bit flips, concurrent writers, durability modes and file mode.
#include <onboard/journal/journal.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <sys/resource.h>
#include <sys/stat.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;
namespace fs = std::filesystem;

journal_header header_for(std::string account = "acct-1") {
  journal_header h;
  h.op = operation::invite;
  h.account_id = std::move(account);
  h.type = user_type::private_user;
  return h;
}

address_outcome invited(std::string email, std::string request_id = "req-1") {
  address_outcome o;
  o.email = std::move(email);
  o.kind = outcome_kind::invited;
  o.id = "inv-" + o.email;
  o.status = "Pending";
  o.email_status = "Sent";
  o.request_id = std::move(request_id);
  o.attempts = 1;
  return o;
}

address_outcome failed(std::string email, std::string message = "bad address") {
  address_outcome o;
  o.email = std::move(email);
  o.kind = outcome_kind::failed;
  o.error_code = "BadRequestException";
  o.message = std::move(message);
  o.request_id = "req-f";
  o.attempts = 3;
  return o;
}

std::vector<std::string> emails(int batch, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back("user" + std::to_string(batch) + "_" + std::to_string(i) + "@example.com");
  return v;
}

TEST(Journal, RoundTripIntentsOutcomesAndInDoubt) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  {
    auto j = journal::open(path, header_for());
    EXPECT_TRUE(j->prior().size() == 0);
    auto a = emails(1, 3);
    j->wait_durable(j->record_intent(1, a));
    std::vector<address_outcome> out{invited(a[0]), invited(a[1]),
                                     failed(a[2], "nope, \"quoted\"")};
    out[1].message = "same\nline";
    j->record_outcomes(1, out);
    auto b = emails(2, 2);
    j->wait_durable(j->record_intent(2, b, 2));  // in flight when the run "stops"
    j->close();
  }
  auto s = replay_journal(path);
  EXPECT_EQ(s.tail(), tail_state::clean);
  EXPECT_EQ(s.header().account_id, "acct-1");
  EXPECT_EQ(s.header().type, user_type::private_user);
  EXPECT_EQ(s.size(), 5u);
  EXPECT_EQ(s.counts().invited, 2u);
  EXPECT_EQ(s.counts().failed, 1u);
  EXPECT_EQ(s.counts().in_doubt, 2u);
  ASSERT_EQ(s.in_doubt().size(), 1u);
  EXPECT_EQ(s.in_doubt()[0].batch_id, 2u);
  EXPECT_EQ(s.in_doubt()[0].attempt, 2u);
  EXPECT_EQ(s.in_doubt()[0].emails, emails(2, 2));

  auto o = s.outcome_of("user1_1@example.com");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->kind, outcome_kind::invited);
  EXPECT_EQ(o->id, "inv-user1_1@example.com");
  EXPECT_EQ(o->status, "Pending");  // stored as "same as previous"
  EXPECT_EQ(o->request_id, "req-1");
  EXPECT_EQ(o->message, "same\nline");
  auto f = s.outcome_of("user1_2@example.com");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, outcome_kind::failed);
  EXPECT_EQ(f->message, "nope, \"quoted\"");
  EXPECT_EQ(f->error_code, "BadRequestException");
  EXPECT_EQ(f->attempts, 3u);
  EXPECT_EQ(f->status, "");
  EXPECT_FALSE(s.find("someone@else.com"));
  // Case folding: the whole address unless case_sensitive_local.
  auto st = s.find("USER1_0@Example.COM");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->email, "user1_0@example.com");
  EXPECT_EQ(st->kind, outcome_kind::invited);
  EXPECT_EQ(s.sessions().size(), 1u);
}

std::vector<std::string_view> views(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

TEST(Journal, ReleasedIntentLeavesItsAddressesUnsent) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  auto a = emails(1, 3);
  auto b = emails(2, 2);
  {
    auto j = journal::open(path, header_for());
    // Batch 1 was sent and left in doubt by an earlier attempt; batch 2's intent was appended
    // ahead and withdrawn when the run stopped. Then batch 1's addresses get a second intent
    // (ahead) that is withdrawn too: they must stay in doubt from the first.
    j->wait_durable(j->record_intent(1, a));
    j->wait_durable(j->append_intent(2, views(b)));
    j->record_release(2, views(b));
    j->wait_durable(j->append_intent(3, views(a)));
    j->record_release(3, views(a));
    j->close();
  }
  auto s = replay_journal(path);
  EXPECT_EQ(s.tail(), tail_state::clean);
  EXPECT_EQ(s.counts().in_doubt, 3u);
  ASSERT_EQ(s.in_doubt().size(), 1u);
  EXPECT_EQ(s.in_doubt()[0].batch_id, 1u);
  EXPECT_EQ(s.in_doubt()[0].emails, a);
  auto st = s.find(b[0]);
  ASSERT_TRUE(st);
  EXPECT_FALSE(st->in_doubt);
  EXPECT_FALSE(st->kind);
  EXPECT_EQ(s.counts().release_records, 2u);
}

TEST(Journal, ReleaseDoesNotUndoAnOutcomeOrALaterIntent) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  auto a = emails(1, 2);
  {
    auto j = journal::open(path, header_for());
    j->append_intent(1, views(a));
    j->record_outcomes(1, std::vector{invited(a[0])});  // a[0] answered, a[1] not yet
    j->wait_durable(j->record_intent(4, std::vector<std::string>{a[1]}));  // a retry elsewhere
    j->record_release(1, views(a));  // stale: neither address is batch 1's any more
    j->close();
  }
  auto s = replay_journal(path);
  EXPECT_EQ(s.counts().invited, 1u);
  EXPECT_EQ(s.counts().in_doubt, 1u);
  ASSERT_EQ(s.in_doubt().size(), 1u);
  EXPECT_EQ(s.in_doubt()[0].batch_id, 4u);
}

TEST(Journal, ResumeSeesPriorAndAppends) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  {
    auto j = journal::open(path, header_for());
    auto a = emails(1, 2);
    j->record_intent(1, a);
    j->record_outcomes(1, std::vector{invited(a[0]), failed(a[1])});
    j->close();
  }
  {
    auto h = header_for();
    h.tool_version = "9.9.9";  // another version may resume
    auto j = journal::open(path, h);
    EXPECT_TRUE(j->notes().empty());
    EXPECT_EQ(j->prior().counts().invited, 1u);
    EXPECT_EQ(j->prior().counts().failed, 1u);
    // --retry-failed: the failed address is sent again and the run is interrupted.
    std::vector<std::string> retry{"user1_1@example.com"};
    j->wait_durable(j->record_intent(7, retry));
    j->close();
  }
  auto s = replay_journal(path);
  EXPECT_EQ(s.sessions().size(), 2u);
  auto st = s.find("user1_1@example.com");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kind, outcome_kind::failed);  // its latest outcome
  EXPECT_TRUE(st->in_doubt);                  // and a later intent without an outcome
  ASSERT_EQ(s.in_doubt().size(), 1u);
  EXPECT_EQ(s.in_doubt()[0].batch_id, 7u);
}

TEST(Journal, LatestOutcomeWins) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  auto j = journal::open(path, header_for());
  j->record_outcomes(1, std::vector{failed("a@x.com")});
  j->record_outcomes(2, std::vector{invited("a@x.com", "req-2")});
  j->close();
  auto s = replay_journal(path);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.outcome_of("a@x.com")->request_id, "req-2");
  EXPECT_EQ(s.counts().failed, 0u);
  EXPECT_EQ(s.counts().outcomes_recorded, 2u);
}

TEST(Journal, NotSentIsRecordedAndCountedApart) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  auto j = journal::open(path, header_for());
  address_outcome o = invited("a@x.com");
  o.kind = outcome_kind::not_sent;
  o.email_status = "NotSent";
  j->record_outcomes(1, std::vector{o, invited("b@x.com")});
  j->close();
  auto s = replay_journal(path);
  EXPECT_EQ(s.find("a@x.com")->kind, outcome_kind::not_sent);
  EXPECT_EQ(s.outcome_of("a@x.com")->email_status, "NotSent");
  EXPECT_EQ(s.counts().not_sent, 1u);
  EXPECT_EQ(s.counts().invited, 1u);
  EXPECT_EQ(s.counts().addresses, 2u);
}

TEST(Journal, CaseSensitiveLocalFoldsOnlyTheDomain) {
  tk::temp_dir dir;
  auto path = dir / "cs.journal";
  auto h = header_for();
  h.case_sensitive_local = true;
  auto j = journal::open(path, h);
  j->record_outcomes(1, std::vector{invited("Bob@example.com"), invited("bob@example.com")});
  j->close();
  auto s = replay_journal(path);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.find("Bob@EXAMPLE.com")->email, "Bob@example.com");
  EXPECT_EQ(s.find("bob@Example.com")->email, "bob@example.com");
  EXPECT_FALSE(s.find("BOB@example.com"));
}

TEST(Journal, HeaderMismatchSaysWhatDiffers) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  journal::open(path, header_for("A"))->close();
  try {
    journal::open(path, header_for("B"));
    FAIL() << "expected a mismatch";
  } catch (const journal_error& e) {
    std::string want =
        "journal " + path.string() + " was written for account A, this run is for account B";
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
  }
  auto h = header_for("A");
  h.op = operation::create;
  h.type = user_type::shared_device;
  auto diff = header_mismatch(path, header_for("A"), h);
  EXPECT_NE(diff.find("was written for operation invite, this run is for operation create"),
            std::string::npos)
      << diff;
  EXPECT_NE(diff.find("user type PrivateUser, this run is for user type SharedDevice"),
            std::string::npos)
      << diff;
  h = header_for("A");
  h.case_sensitive_local = true;
  EXPECT_NE(header_mismatch(path, header_for("A"), h).find("local-part case"), std::string::npos);
  h = header_for("A");
  h.tool_version = "2.0";
  EXPECT_EQ(header_mismatch(path, header_for("A"), h), "");
}

TEST(Journal, MissingOrNotAJournalNamesTheFile) {
  tk::temp_dir dir;
  auto missing = dir / "nope.journal";
  try {
    replay_journal(missing);
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_EQ(std::string(e.what()), "journal " + missing.string() + " does not exist");
  }
  auto junk = dir / "junk.journal";
  tk::write_file(junk, "email\nsomeone@example.com\n");
  try {
    replay_journal(junk);
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find(junk.string() + " is not a chime-onboard journal"),
              std::string::npos);
  }
  EXPECT_THROW(journal::open(junk, header_for()), journal_error);
  // A damaged header: flip a byte inside it.
  auto bad = dir / "bad.journal";
  journal::open(bad, header_for())->close();
  auto bytes = tk::read_file(bad);
  bytes[20] ^= 0x01;
  tk::write_file(bad, bytes);
  try {
    replay_journal(bad);
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("damaged or incomplete header"), std::string::npos);
  }
}

TEST(Journal, CreatedPrivateAndLockedAgainstASecondWriter) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  auto j = journal::open(path, header_for());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  try {
    journal::open(path, header_for());
    FAIL() << "a second writer must be refused";
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use by another"), std::string::npos);
  }
  j->close();
  EXPECT_NO_THROW(journal::open(path, header_for())->close());
}

// model: what the first k records of the scripted journal below mean.
struct model {
  std::map<std::string, outcome_kind> kind;
  std::set<std::string> doubt;
};

TEST(Journal, TornTailAtEveryByteReplaysThePrefix) {
  tk::temp_dir dir;
  auto full = dir / "full.journal";
  // A script of records; tickets are record end offsets.
  std::vector<journal::ticket> ends;
  std::vector<model> after;  // model after record i
  model m;
  journal::ticket start_end;
  {
    auto j = journal::open(full, header_for());
    start_end = tk::read_file(full).size();
    for (int b = 0; b < 6; ++b) {
      auto a = emails(b, 4);
      ends.push_back(j->record_intent(static_cast<std::uint64_t>(b), a));
      for (auto& e : a) m.doubt.insert(e);
      after.push_back(m);
      if (b == 5) break;  // the last batch stays in flight
      std::vector<address_outcome> out{invited(a[0]), invited(a[1]), failed(a[2]),
                                       invited(a[3], "r2")};
      ends.push_back(j->record_outcomes(static_cast<std::uint64_t>(b), out));
      for (auto& o : out) {
        m.kind[o.email] = o.kind;
        m.doubt.erase(o.email);
      }
      after.push_back(m);
    }
    j->close();
  }
  const std::string bytes = tk::read_file(full);
  ASSERT_EQ(bytes.size(), ends.back());
  auto cut_path = dir / "cut.journal";
  // Every byte offset within the last four records (and the whole file).
  for (std::size_t cut = ends[ends.size() - 5]; cut <= bytes.size(); ++cut) {
    tk::write_file(cut_path, bytes.substr(0, cut));
    auto s = replay_journal(cut_path);
    std::size_t k = 0;
    while (k < ends.size() && ends[k] <= cut) ++k;
    ASSERT_GT(k, 0u);
    const model& want = after[k - 1];
    ASSERT_EQ(s.valid_bytes(), ends[k - 1]) << "cut " << cut;
    EXPECT_EQ(s.tail(), cut == ends[k - 1] ? tail_state::clean : tail_state::torn) << cut;
    EXPECT_EQ(s.bad_bytes(), cut - ends[k - 1]);
    ASSERT_EQ(s.counts().in_doubt, want.doubt.size()) << cut;
    ASSERT_EQ(s.counts().invited + s.counts().failed, want.kind.size()) << cut;
    for (auto& [e, kind] : want.kind) ASSERT_EQ(s.find(e)->kind, kind) << cut << " " << e;
    for (auto& e : want.doubt) ASSERT_TRUE(s.find(e)->in_doubt) << cut << " " << e;
    if (s.tail() == tail_state::torn) {
      EXPECT_NE(s.tail_note().find("ignored " + std::to_string(cut - ends[k - 1]) + " bytes"),
                std::string::npos);
    }
  }
  (void)start_end;

  // Resuming a torn journal cuts the tail off, then appends after the last good record.
  tk::write_file(cut_path, bytes.substr(0, bytes.size() - 7));
  {
    auto j = journal::open(cut_path, header_for());
    ASSERT_EQ(j->notes().size(), 1u);
    EXPECT_NE(j->notes()[0].find("incomplete record"), std::string::npos);
    j->record_outcomes(9, std::vector{invited("late@example.com")});
    j->close();
  }
  auto s = replay_journal(cut_path);
  EXPECT_EQ(s.tail(), tail_state::clean);
  EXPECT_EQ(s.find("late@example.com")->kind, outcome_kind::invited);
  EXPECT_EQ(s.in_doubt().size(), 0u);  // the last intent was the torn record
  EXPECT_EQ(s.sessions().size(), 2u);
}

TEST(Journal, EveryBitFlipInTheMiddleIsDetected) {
  tk::temp_dir dir;
  auto path = dir / "run.journal";
  std::vector<journal::ticket> ends;
  {
    auto j = journal::open(path, header_for());
    for (int b = 0; b < 4; ++b) {
      auto a = emails(b, 2);
      ends.push_back(j->record_intent(static_cast<std::uint64_t>(b), a));
      ends.push_back(j->record_outcomes(static_cast<std::uint64_t>(b),
                                        std::vector{invited(a[0]), failed(a[1])}));
    }
    j->close();
  }
  const std::string bytes = tk::read_file(path);
  // The third record (an intent) and the fourth (its outcome) lie in the middle.
  std::size_t from = ends[1], to = ends[3];
  auto flipped = dir / "flipped.journal";
  for (std::size_t i = from; i < to; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string b = bytes;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      tk::write_file(flipped, b);
      auto s = replay_journal(flipped);
      std::size_t bad_record_start = i < ends[2] ? ends[1] : ends[2];
      ASSERT_EQ(s.valid_bytes(), bad_record_start) << "byte " << i << " bit " << bit;
      ASSERT_EQ(s.tail(), tail_state::damaged) << "byte " << i << " bit " << bit;
    }
  }
  // The writer refuses a damaged journal unless told to cut it.
  std::string b = bytes;
  b[ends[1] + 12] ^= 0x10;
  tk::write_file(flipped, b);
  try {
    journal::open(flipped, header_for());
    FAIL();
  } catch (const journal_error& e) {
    EXPECT_NE(std::string(e.what()).find("is damaged at byte " + std::to_string(ends[1])),
              std::string::npos)
        << e.what();
  }
  journal_options cut;
  cut.truncate_damaged = true;
  auto j = journal::open(flipped, header_for(), cut);
  EXPECT_EQ(j->prior().counts().addresses, 2u);
  j->close();
  EXPECT_EQ(replay_journal(flipped).tail(), tail_state::clean);
}

TEST(Journal, ConcurrentWritersLoseNothing) {
  for (auto mode : {durability::off, durability::batched, durability::strict}) {
    tk::temp_dir dir;
    auto path = dir / "mt.journal";
    constexpr int threads = 4, batches = 60, per = 10;
    std::atomic<int> callbacks{0};
    {
      journal_options opt;
      opt.mode = mode;
      auto j = journal::open(path, header_for(), opt);
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
          for (int b = 0; b < batches; ++b) {
            int id = t * 1000 + b;
            auto a = emails(id, per);
            auto ticket = j->record_intent(static_cast<std::uint64_t>(id), a);
            std::atomic<bool> done{false};
            j->on_durable(ticket, [&](std::error_code ec) {
              EXPECT_FALSE(ec);
              ++callbacks;
              done = true;
              done.notify_one();
            });
            done.wait(false);
            EXPECT_TRUE(j->is_durable(ticket));
            std::vector<address_outcome> out;
            for (auto& e : a) out.push_back(invited(e));
            j->record_outcomes(static_cast<std::uint64_t>(id), out);
          }
        });
      }
      for (auto& t : ts) t.join();
      j->close();
    }
    EXPECT_EQ(callbacks.load(), threads * batches);
    auto s = replay_journal(path);
    EXPECT_EQ(s.tail(), tail_state::clean);
    EXPECT_EQ(s.counts().invited, static_cast<std::uint64_t>(threads * batches * per))
        << to_string(mode);
    EXPECT_EQ(s.counts().in_doubt, 0u);
    EXPECT_EQ(s.counts().intent_records, static_cast<std::uint64_t>(threads * batches));
  }
}

TEST(Journal, DurabilityModes) {
  tk::temp_dir dir;
  {
    journal_options o;
    o.mode = durability::strict;
    auto j = journal::open(dir / "strict", header_for(), o);
    auto a = emails(1, 2);
    auto t = j->record_intent(1, a);
    EXPECT_TRUE(j->is_durable(t));  // strict: durable on return
    auto t2 = j->record_outcomes(1, std::vector{invited(a[0])});
    EXPECT_TRUE(j->is_durable(t2));
    j->close();
  }
  {
    journal_options o;
    o.mode = durability::batched;
    o.max_delay = std::chrono::milliseconds(30);
    auto j = journal::open(dir / "batched", header_for(), o);
    auto before = std::chrono::steady_clock::now();
    auto t = j->record_outcomes(1, std::vector{invited("a@x.com")});
    // Nobody waits: committed by the max_delay timer.
    while (!j->is_durable(t)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto took = std::chrono::steady_clock::now() - before;
    EXPECT_GE(took, std::chrono::milliseconds(25));
    EXPECT_LT(took, std::chrono::milliseconds(1000));
    // Someone waits: committed promptly, not after max_delay.
    auto a = emails(2, 1);
    before = std::chrono::steady_clock::now();
    j->wait_durable(j->record_intent(2, a));
    EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(1000));
    j->close();
    EXPECT_THROW(j->record_outcomes(3, std::vector{invited("b@x.com")}), journal_error);
    bool called = false;
    j->on_durable(t, [&](std::error_code ec) { called = !ec; });
    EXPECT_TRUE(called);  // already durable: inline
  }
  {
    journal_options o;
    o.mode = durability::off;
    auto j = journal::open(dir / "off", header_for(), o);
    auto a = emails(1, 1);
    auto t = j->record_intent(1, a);
    j->wait_durable(t);  // written to the kernel
    EXPECT_EQ(replay_journal(dir / "off").counts().in_doubt, 1u);
    j->close();
  }
  EXPECT_EQ(parse_durability("batched"), durability::batched);
  EXPECT_EQ(parse_durability("strict"), durability::strict);
  EXPECT_EQ(parse_durability("off"), durability::off);
  EXPECT_FALSE(parse_durability("fast"));
}

TEST(Journal, AsyncRecordIntentFromACoroutine) {
  tk::temp_dir dir;
  auto j = journal::open(dir / "co.journal", header_for());
  boost::asio::io_context ctx;
  bool done = false;
  auto a = emails(1, 3);
  boost::asio::co_spawn(
      ctx,
      [&]() -> boost::asio::awaitable<void> {
        co_await j->async_record_intent(1, a);
        done = true;
      },
      boost::asio::detached);
  ctx.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(replay_journal(dir / "co.journal").counts().in_doubt, 3u);
  j->close();
}

TEST(Journal, WriteFailureStopsTheJournalAndTellsWaiters) {
  tk::temp_dir dir;
  auto path = dir / "full.journal";
  auto j = journal::open(path, header_for());
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = static_cast<rlim_t>(fs::file_size(path) + 100);
  ::setrlimit(RLIMIT_FSIZE, &small);
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back("someone" + std::to_string(i) + "@example.com");
  auto t = j->record_intent(1, many);
  std::error_code got;
  std::atomic<bool> done{false};
  j->on_durable(t, [&](std::error_code ec) {
    got = ec;
    done = true;
    done.notify_one();
  });
  done.wait(false);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(got);
  EXPECT_NE(j->failure_message().find(path.string()), std::string::npos) << j->failure_message();
  EXPECT_THROW(j->record_intent(2, many), journal_error);
  EXPECT_THROW(j->close(), journal_error);
}

TEST(Journal, Crc32cKnownAnswer) {
  EXPECT_EQ(journal_crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(journal_crc32c(""), 0u);
  std::string long_text(1000, 'a');
  EXPECT_EQ(journal_crc32c(long_text.substr(500), journal_crc32c(long_text.substr(0, 500))),
            journal_crc32c(long_text));
}

}  // namespace
