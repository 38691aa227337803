// Tests for onboard::ingest end to end over real files: formats, reason codes in the rejects
// file, duplicates, already-done addresses, per-row CSV overrides, determinism and errors.
#include <onboard/ingest/ingest.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <future>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <zlib.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;

struct result {
  std::vector<batch> batches;
  ingest_stats stats;
};

result run(ingest_options o) {
  result r;
  ingest in(std::move(o));
  while (auto b = in.next_batch()) r.batches.push_back(std::move(*b));
  r.stats = in.stats();
  return r;
}

std::vector<std::string> emails(const result& r) {
  std::vector<std::string> v;
  for (const auto& b : r.batches)
    for (const auto& a : b.items) v.push_back(a.email);
  return v;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::size_t p = 0;
  while (p < s.size()) {
    std::size_t n = s.find('\n', p);
    if (n == std::string::npos) n = s.size();
    v.push_back(s.substr(p, n - p));
    p = n + 1;
  }
  return v;
}

TEST(Ingest, EveryReasonCodeLandsInTheRejectsFile) {
  tk::temp_dir d;
  std::string big(5 * 1024 * 1024, 'x');
  tk::write_file(d / "list.txt",
                 std::string("ok@example.com\n"
                             "\v\n"                                // 2 empty
                             "no-at-sign\n"                        // 3 no_at
                             "\"quoted\"@example.com\n"            // 4 bad_local
                             "a@localhost\n") +                    // 5 bad_domain
                     std::string("nul\0byte@example.com\n", 21) +  // 6 control_char
                     "sp ace@example.com\n"                        // 7 whitespace
                     "j\xC3\xBCrgen@example.com\n"                 // 8 non_ascii_local
                     "bad\xC3(@example.com\n"                      // 9 bad_utf8
                     + big + "\n"                                  // 10 too_long (line)
                     + std::string(64, 'l') + "@" + std::string(60, 'a') + "." +
                     std::string(60, 'b') + "." + std::string(60, 'c') + "." +
                     std::string(10, 'd') +
                     ".com\n"               // 11 too_long (address)
                     "=HYPERLINK(\"x\")\n"  // 12 no_at, neutralised
                     "OK@EXAMPLE.COM\n");   // 13 duplicate of line 1
  tk::write_file(d / "rows.csv",
                 "email,user_type\n"
                 "typed@example.com,Administrator\n"  // 2 bad_user_type
                 "\"open@example.com,PrivateUser\n"   // 3 bad_csv
                 "fine@example.com,shareddevice\n");
  ingest_options o;
  o.inputs = {(d / "list.txt").string(), (d / "rows.csv").string()};
  o.rejects_path = (d / "rejects.csv").string();
  auto r = run(o);
  EXPECT_EQ(emails(r), (std::vector<std::string>{"ok@example.com", "fine@example.com"}));
  EXPECT_EQ(r.stats.lines, 16u);
  EXPECT_EQ(r.stats.accepted, 2u);
  EXPECT_EQ(r.stats.duplicates, 1u);
  EXPECT_EQ(r.stats.rejected, 13u);
  std::map<std::string, std::uint64_t> want = {
      {"empty", 1},        {"no_at", 2},         {"bad_local", 1},       {"bad_domain", 1},
      {"control_char", 1}, {"whitespace", 1},    {"non_ascii_local", 1}, {"bad_utf8", 1},
      {"too_long", 2},     {"bad_user_type", 1}, {"bad_csv", 1}};
  EXPECT_EQ(r.stats.rejected_by_reason, want);
  EXPECT_EQ(r.batches.size(), 2u);  // different user types
  EXPECT_EQ(r.batches[1].type, user_type::shared_device);

  auto rows = lines_of(tk::read_file(d / "rejects.csv"));
  ASSERT_EQ(rows.size(), 14u);
  EXPECT_EQ(rows[0], "source,line,raw_value,reason");
  std::string L = (d / "list.txt").string();
  std::string C = (d / "rows.csv").string();
  EXPECT_EQ(rows[1], L + ",2,\\x0b,empty");
  EXPECT_EQ(rows[2], L + ",3,no-at-sign,no_at");
  EXPECT_EQ(rows[5], L + ",6,nul\\x00byte@example.com,control_char");
  EXPECT_EQ(rows[8], L + ",9,bad\\xc3(@example.com,bad_utf8");
  EXPECT_EQ(rows[9], L + ",10," + std::string(256, 'x') + "...,too_long");
  EXPECT_EQ(rows[11], L + ",12,\"'=HYPERLINK(\"\"x\"\")\",no_at");
  EXPECT_EQ(rows[12], C + ",2,Administrator,bad_user_type");
  EXPECT_EQ(rows[13], C + ",3,\"\"\"open@example.com,PrivateUser\",bad_csv");
  struct stat st {};
  ASSERT_EQ(::stat((d / "rejects.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Ingest, ExistingReportFilesBecome0600AndDuplicatesNameTheFirstOccurrence) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "A@x.com\nb@x.com\n");
  tk::write_file(d / "b.txt", "a@X.COM\nc@x.com\nb@x.com\n");
  tk::write_file(d / "dups.csv", "old content\n");
  ::chmod((d / "dups.csv").c_str(), 0644);
  ingest_options o;
  o.inputs = {(d / "a.txt").string(), (d / "b.txt").string()};
  o.duplicates_path = (d / "dups.csv").string();
  auto r = run(o);
  EXPECT_EQ(emails(r), (std::vector<std::string>{"A@x.com", "b@x.com", "c@x.com"}));
  EXPECT_EQ(r.stats.duplicates, 2u);
  auto rows = lines_of(tk::read_file(d / "dups.csv"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], "source,line,email,first_source,first_line");
  std::string A = (d / "a.txt").string(), B = (d / "b.txt").string();
  EXPECT_EQ(rows[1], B + ",1,a@x.com," + A + ",1");
  EXPECT_EQ(rows[2], B + ",3,b@x.com," + A + ",2");
  struct stat st {};
  ASSERT_EQ(::stat((d / "dups.csv").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Ingest, CaseSensitiveLocalKeepsCaseVariantsApart) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "John@x.com\njohn@X.com\nJohn@X.COM\n");
  ingest_options o;
  o.inputs = {(d / "a.txt").string()};
  EXPECT_EQ(run(o).stats.accepted, 1u);
  o.case_sensitive_local = true;
  auto r = run(o);
  EXPECT_EQ(emails(r), (std::vector<std::string>{"John@x.com", "john@x.com"}));
  EXPECT_EQ(r.stats.duplicates, 1u);
}

TEST(Ingest, AlreadyDoneByPredicateOrKeysIsNotADuplicate) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "done@x.com\nnew@x.com\nDONE@x.com\nother@x.com\n");
  ingest_options o;
  o.inputs = {(d / "a.txt").string()};
  o.already_done = [](std::string_view e) { return e == "done@x.com"; };
  auto r = run(o);
  EXPECT_EQ(emails(r), (std::vector<std::string>{"new@x.com", "other@x.com"}));
  EXPECT_EQ(r.stats.already_done, 1u);
  EXPECT_EQ(r.stats.duplicates, 1u);
  EXPECT_EQ(r.stats.lines,
            r.stats.accepted + r.stats.rejected + r.stats.duplicates + r.stats.already_done);

  auto keys = std::make_shared<dedupe_set>();
  keys->insert(key_of("Other@X.com", false));
  ingest_options k;
  k.inputs = o.inputs;
  k.already_done_keys = keys;
  auto r2 = run(k);
  EXPECT_EQ(emails(r2), (std::vector<std::string>{"done@x.com", "new@x.com"}));
  EXPECT_EQ(r2.stats.already_done, 1u);
}

TEST(Ingest, CsvRowsOverrideAccountAndTypeAndBatchDeterministically) {
  tk::temp_dir d;
  std::string csv = "Email,Account_Id,User_Type,Username\n";
  for (int i = 0; i < 240; ++i) {
    std::string acct = i % 3 == 0 ? "" : (i % 3 == 1 ? "acct-1" : "acct-2");
    std::string type = i % 5 == 0 ? "SharedDevice" : "";
    csv += "u" + std::to_string(i) + "@x.com," + acct + "," + type + ",name" + std::to_string(i) +
           "\n";
  }
  tk::write_file(d / "u.csv", csv);
  ingest_options o;
  o.inputs = {(d / "u.csv").string()};
  o.account_id = "default-acct";
  o.type = user_type::private_user;
  auto r1 = run(o);
  auto r2 = run(o);
  ASSERT_EQ(r1.batches.size(), r2.batches.size());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < r1.batches.size(); ++i) {
    const batch& a = r1.batches[i];
    const batch& b = r2.batches[i];
    EXPECT_EQ(a.id, i + 1);
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.account_id, b.account_id);
    ASSERT_EQ(a.items.size(), b.items.size());
    ASSERT_LE(a.items.size(), 50u);
    for (std::size_t j = 0; j < a.items.size(); ++j) {
      EXPECT_EQ(a.items[j].email, b.items[j].email);
      int n = std::stoi(a.items[j].email.substr(1));
      std::string acct = n % 3 == 0 ? "default-acct" : (n % 3 == 1 ? "acct-1" : "acct-2");
      EXPECT_EQ(a.account_id, acct);
      EXPECT_EQ(a.type, n % 5 == 0 ? user_type::shared_device : user_type::private_user);
      EXPECT_EQ(a.items[j].username, "name" + std::to_string(n));
      EXPECT_EQ(a.items[j].line, static_cast<std::uint64_t>(n + 2));
    }
    total += a.items.size();
  }
  EXPECT_EQ(total, 240u);
  EXPECT_EQ(r1.stats.batches, r1.batches.size());
  EXPECT_EQ(r1.stats.requests, r1.batches.size());
}

// The identity of an address is (account, address): the same address in two accounts is sent
// to each; a second copy within one account is a duplicate; a done key of one account does not
// skip the address in another.
TEST(Ingest, SameAddressInTwoAccountsIsTwoAddresses) {
  tk::temp_dir d;
  tk::write_file(d / "u.csv",
                 "email,account_id\n"
                 "ann@x.com,\n"          // the default account
                 "ann@x.com,acct-2\n"    // another account: accepted
                 "Ann@X.com,acct-2\n"    // the same (account, address): a duplicate
                 "ann@x.com,acct-3\n"    // a third account: accepted
                 "ann@x.com,default\n"   // the default account by name: a duplicate
                 "bob@x.com,acct-3\n");  // done in acct-3 by an earlier run
  ingest_options o;
  o.inputs = {(d / "u.csv").string()};
  o.account_id = "default";
  auto done = std::make_shared<dedupe_set>();
  done->insert(in_account(key_of("bob@x.com", false), hash128("acct-3", 6)));
  o.already_done_keys = done;
  auto r = run(o);
  std::multiset<std::string> sent;
  for (const auto& b : r.batches)
    for (const auto& a : b.items) sent.insert(b.account_id + "/" + a.email);
  EXPECT_EQ(sent, (std::multiset<std::string>{"default/ann@x.com", "acct-2/ann@x.com",
                                              "acct-3/ann@x.com"}));
  EXPECT_EQ(r.stats.duplicates, 2u);
  EXPECT_EQ(r.stats.already_done, 1u);
  EXPECT_EQ(r.stats.accepted_by_account, (std::map<std::string, std::uint64_t, std::less<>>{
                                             {"default", 1}, {"acct-2", 1}, {"acct-3", 1}}));
}

TEST(Ingest, CreateOperationYieldsOneAddressPerRequest) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "a@x.com\nb@x.com\nc@x.com\n");
  ingest_options o;
  o.inputs = {(d / "a.txt").string()};
  o.op = operation::create;
  auto r = run(o);
  ASSERT_EQ(r.batches.size(), 3u);
  EXPECT_EQ(r.stats.requests, 3u);
  for (const auto& b : r.batches) EXPECT_EQ(b.items.size(), 1u);
}

TEST(Ingest, GzipCsvStdinPipeAndSeveralInputs) {
  tk::temp_dir d;
  gzFile g = gzopen((d / "z.csv.gz").c_str(), "wb");
  std::string csv = "email\n\"gz1@x.com\"\ngz2@x.com\n";
  gzwrite(g, csv.data(), static_cast<unsigned>(csv.size()));
  gzclose(g);
  tk::write_file(d / "p.txt", "\xEF\xBB\xBFp1@x.com\r\ngz1@x.com\r\n");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread w([fd = fds[1]] {
    std::string s = "s1@x.com\n# comment\ns2@x.com";
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
    ::close(fd);
  });
  ingest_options o;
  o.inputs = {(d / "z.csv.gz").string(), "-", (d / "p.txt").string()};
  o.reader.stdin_fd = fds[0];
  auto r = run(o);
  w.join();
  ::close(fds[0]);
  EXPECT_EQ(emails(r), (std::vector<std::string>{"gz1@x.com", "gz2@x.com", "s1@x.com", "s2@x.com",
                                                 "p1@x.com"}));
  EXPECT_EQ(r.stats.duplicates, 1u);
  EXPECT_EQ(r.stats.skipped, 1u);
  ASSERT_EQ(r.batches.size(), 1u);
  EXPECT_EQ(r.batches[0].items[2].source, 1u);
  EXPECT_EQ(r.batches[0].items[3].line, 3u);
}

// A run that stops while its stdin has nothing to say cancels its ingest: the next_batch waiting
// there throws, after the batches already read were handed out.
TEST(Ingest, CancelEndsANextBatchWaitingOnAStdinThatNeverEnds) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // 64: the stream is read 16 records at a time, so the first batch of 50 needs 64 to be out.
  std::string first;
  for (int i = 0; i < 64; ++i) first += "u" + std::to_string(i) + "@x.com\n";
  ASSERT_EQ(::write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  ingest_options o;
  o.inputs = {"-"};
  o.reader.stdin_fd = fds[0];
  ingest in(o);
  batch b;
  ASSERT_TRUE(in.next_batch(b));
  EXPECT_EQ(b.items.size(), 50u);
  auto waiting = std::async(std::launch::async, [&] {
    try {
      in.next_batch(b);
      return std::string("next_batch returned");
    } catch (const ingest_error& e) {
      return std::string(e.what());
    }
  });
  in.cancel();
  if (waiting.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ::close(std::exchange(fds[1], -1));  // release it, so that the test can end
    FAIL() << "cancel() did not end the wait";
  }
  const std::string what = waiting.get();
  EXPECT_NE(what.find("<stdin>: reading stopped"), std::string::npos) << what;
  ::close(fds[0]);
  if (fds[1] >= 0) ::close(fds[1]);
}

TEST(Ingest, FatalInputErrorsNameTheFileAndColumn) {
  tk::temp_dir d;
  ingest_options o;
  o.inputs = {(d / "missing.txt").string()};
  try {
    ingest in(o);
    FAIL();
  } catch (const ingest_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos) << e.what();
  }
  tk::write_file(d / "u.csv", "name,mail\nx,y@x.com\n");
  o.inputs = {(d / "u.csv").string()};
  o.email_column = "Work Email";
  try {
    ingest in(o);
    FAIL();
  } catch (const ingest_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("u.csv"), std::string::npos) << m;
    EXPECT_NE(m.find("'Work Email'"), std::string::npos) << m;
  }
  o.email_column = "email";
  o.inputs = {(d / "u.csv").string()};
  o.rejects_path = (d / "no-such-dir" / "r.csv").string();
  EXPECT_THROW(ingest{o}, ingest_error);
}

}  // namespace
