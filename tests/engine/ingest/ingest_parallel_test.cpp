// Tests for ingest's two-thread mode (reading on a second thread): it must be indistinguishable
// from the single-thread mode: same batches, ids, counters, rejects and duplicates files; fatal
// input errors surface from next_batch after the records before them; destroying an ingest part
// way through never hangs. Run under ThreadSanitizer too (the tsan preset).
#include <onboard/ingest/ingest.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>
#include <zlib.h>

namespace {

using namespace onboard;
namespace tk = onboard::testkit;

struct result {
  std::vector<batch> batches;
  ingest_stats stats;
  std::string rejects, duplicates;
};

ingest_options options_for(const tk::temp_dir& d, std::vector<std::string> inputs, bool parallel) {
  ingest_options o;
  o.inputs = std::move(inputs);
  o.account_id = "default-account";
  o.rejects_path = (d / (parallel ? "rejects-p.csv" : "rejects-s.csv")).string();
  o.duplicates_path = (d / (parallel ? "dups-p.csv" : "dups-s.csv")).string();
  o.parallel_min_bytes = parallel ? 0 : std::numeric_limits<std::uint64_t>::max();
  return o;
}

result run(const tk::temp_dir& d, ingest_options o, bool expect_parallel) {
  result r;
  {
    ingest in(o);
    EXPECT_EQ(in.parallel(), expect_parallel);
    while (auto b = in.next_batch()) r.batches.push_back(std::move(*b));
    r.stats = in.stats();
  }
  r.rejects = tk::read_file(o.rejects_path);
  r.duplicates = tk::read_file(o.duplicates_path);
  (void)d;
  return r;
}

// corpus: `lines` lines mixing valid addresses, case/blank variants of earlier ones (duplicates),
// comments, blanks and every kind of invalid line.
std::string corpus(std::size_t lines, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  static const char* const invalid[] = {
      "not-an-address", "a@@b.com",      "x@localhost",       ".x@y.com",       "sp ace@y.com",
      "a@-b-.com",      "\"q\"@y.com",   "x@y.123",           "@y.com",         "u@",
      "\xFF\xFE@y.com", "ctl\x01@y.com", "jos\xC3\xA9@y.com", "a@b\xC3\xA9.com"};
  std::string out;
  std::size_t next_id = 0;
  for (std::size_t i = 0; i < lines; ++i) {
    std::uint64_t k = rng() % 100;
    if (k < 5) {
      out += invalid[rng() % std::size(invalid)];
    } else if (k < 7) {
      out += (k == 5) ? "# comment" : "   ";
    } else if (k < 30 && next_id > 0) {
      std::size_t id = rng() % next_id;
      out += (rng() % 2 ? "  User" : "user") + std::to_string(id) + "@Dept" +
             std::to_string(id % 7) + ".Example.COM";
    } else {
      std::size_t id = next_id++;
      out += "user" + std::to_string(id) + "@dept" + std::to_string(id % 7) + ".example.com";
    }
    out += '\n';
  }
  return out;
}

void expect_same(const result& a, const result& b) {
  ASSERT_EQ(a.batches.size(), b.batches.size());
  for (std::size_t i = 0; i < a.batches.size(); ++i) {
    const batch& x = a.batches[i];
    const batch& y = b.batches[i];
    ASSERT_EQ(x.id, y.id);
    ASSERT_EQ(x.account_id, y.account_id);
    ASSERT_EQ(x.type, y.type);
    ASSERT_EQ(x.items.size(), y.items.size());
    for (std::size_t k = 0; k < x.items.size(); ++k) {
      ASSERT_EQ(x.items[k].email, y.items[k].email);
      ASSERT_EQ(x.items[k].source, y.items[k].source);
      ASSERT_EQ(x.items[k].line, y.items[k].line);
      ASSERT_EQ(x.items[k].username, y.items[k].username);
    }
  }
  EXPECT_EQ(a.stats.lines, b.stats.lines);
  EXPECT_EQ(a.stats.skipped, b.stats.skipped);
  EXPECT_EQ(a.stats.accepted, b.stats.accepted);
  EXPECT_EQ(a.stats.rejected, b.stats.rejected);
  EXPECT_EQ(a.stats.rejected_by_reason, b.stats.rejected_by_reason);
  EXPECT_EQ(a.stats.duplicates, b.stats.duplicates);
  EXPECT_EQ(a.stats.already_done, b.stats.already_done);
  EXPECT_EQ(a.stats.batches, b.stats.batches);
  EXPECT_EQ(a.rejects, b.rejects);
  EXPECT_EQ(a.duplicates, b.duplicates);
}

TEST(IngestParallel, SameOutputAsOneThreadOnPlainCsvAndGzipInputs) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", corpus(60000, 1));
  // CSV rows with per-row account, type and username overrides, some of them invalid.
  std::string csv = "email,user_type,username,account_id\n";
  std::mt19937_64 rng(2);
  for (int i = 0; i < 20000; ++i) {
    std::string type = (i % 5 == 0) ? "SharedDevice" : (i % 97 == 0 ? "Admin" : "");
    std::string acct = (i % 3 == 0) ? "acct-" + std::to_string(i % 4) : "";
    csv += "csv" + std::to_string(rng() % 15000) + "@x.org," + type + ",name" + std::to_string(i) +
           "," + acct + "\n";
  }
  tk::write_file(d / "b.csv", csv);
  gzFile g = gzopen((d / "c.txt.gz").c_str(), "wb");
  std::string gz = corpus(30000, 3);
  gzwrite(g, gz.data(), static_cast<unsigned>(gz.size()));
  gzclose(g);
  std::vector<std::string> inputs = {(d / "a.txt").string(), (d / "b.csv").string(),
                                     (d / "c.txt.gz").string()};
  result one = run(d, options_for(d, inputs, false), false);
  result two = run(d, options_for(d, inputs, true), true);
  expect_same(one, two);
  EXPECT_GT(one.stats.duplicates, 0u);
  EXPECT_GT(one.stats.rejected, 0u);
  EXPECT_GT(one.stats.skipped, 0u);
}

TEST(IngestParallel, SameOutputForCreateAndCaseSensitiveAndAlreadyDone) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", corpus(20000, 4));
  auto done = std::make_shared<dedupe_set>();
  for (int i = 0; i < 3000; i += 3)
    done->insert(key_of(
        "user" + std::to_string(i) + "@dept" + std::to_string(i % 7) + ".example.com", true));
  auto opts = [&](bool parallel) {
    ingest_options o = options_for(d, {(d / "a.txt").string()}, parallel);
    o.op = operation::create;
    o.case_sensitive_local = true;
    o.already_done_keys = done;
    o.already_done = [](std::string_view e) { return e.find("99@") != std::string_view::npos; };
    return o;
  };
  result one = run(d, opts(false), false);
  result two = run(d, opts(true), true);
  expect_same(one, two);
  EXPECT_GT(one.stats.already_done, 0u);
}

TEST(IngestParallel, StdinIsReadOnTheCallingThread) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "a@x.com\n");
  ingest_options o;
  o.inputs = {(d / "a.txt").string(), "-"};
  o.parallel_min_bytes = 0;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[1]);
  o.reader.stdin_fd = fds[0];
  ingest in(o);
  EXPECT_FALSE(in.parallel());
  while (in.next_batch()) {
  }
  EXPECT_EQ(in.stats().accepted, 1u);
  ::close(fds[0]);
}

TEST(IngestParallel, CorruptGzipThrowsAfterTheRecordsBeforeItAndKeepsThrowing) {
  tk::temp_dir d;
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "u" + std::to_string(i) + "@x.com\n";
  {
    // A gzip member whose deflate data is cut in half: "truncated gzip data" after ~half the lines.
    gzFile g = gzopen((d / "full.gz").c_str(), "wb");
    gzwrite(g, text.data(), static_cast<unsigned>(text.size()));
    gzclose(g);
    std::string full = tk::read_file(d / "full.gz");
    tk::write_file(d / "cut.gz", full.substr(0, full.size() / 2));
  }
  std::uint64_t delivered_by_one_thread = 0;
  for (bool parallel : {false, true}) {
    ingest_options o;
    o.inputs = {(d / "cut.gz").string()};
    o.parallel_min_bytes = parallel ? 0 : std::numeric_limits<std::uint64_t>::max();
    ingest in(o);
    EXPECT_EQ(in.parallel(), parallel);
    batch b;
    std::uint64_t delivered = 0;
    std::string what;
    try {
      while (in.next_batch(b)) delivered += b.items.size();
      FAIL() << "no error";
    } catch (const ingest_error& e) {
      what = e.what();
    }
    EXPECT_NE(what.find("cut.gz"), std::string::npos) << what;
    // Every record before the error was taken (the rest of a partial batch is still pending),
    // and the error does not go away.
    EXPECT_GT(delivered, 1000u);
    EXPECT_LT(in.stats().accepted - delivered, 50u);
    EXPECT_THROW(in.next_batch(b), ingest_error);
    if (!parallel)
      delivered_by_one_thread = delivered;
    else
      EXPECT_EQ(delivered, delivered_by_one_thread);
  }
}

// Keys are hashed by whichever thread has time: with a consumer that keeps stalling, the read
// thread fills the pool and hashes chunks the consumer has not reached; the output must not change.
TEST(IngestParallel, SameOutputWhenTheReadThreadHashesForASlowConsumer) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", corpus(150000, 6));
  const std::vector<std::string> inputs = {(d / "a.txt").string()};
  result one = run(d, options_for(d, inputs, false), false);
  result two;
  std::uint64_t hashed = 0;
  {
    ingest_options o = options_for(d, inputs, true);
    ingest in(o);
    ASSERT_TRUE(in.parallel());
    batch b;
    while (in.next_batch(b)) {
      if (b.id % 4 == 0) ::usleep(1000);  // at most ~200k records a second, even under TSan
      two.batches.push_back(b);
    }
    two.stats = in.stats();
    hashed = in.chunks_hashed_by_reader();
    two.rejects = tk::read_file(o.rejects_path);
    two.duplicates = tk::read_file(o.duplicates_path);
  }
  expect_same(one, two);
  EXPECT_GT(hashed, 0u);
}

TEST(IngestParallel, DestroyingPartWayStopsTheReader) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", corpus(200000, 5));
  for (int i = 0; i < 20; ++i) {
    ingest_options o;
    o.inputs = {(d / "a.txt").string()};
    o.parallel_min_bytes = 0;
    ingest in(o);
    ASSERT_TRUE(in.parallel());
    batch b;
    for (int k = 0; k < i * 10; ++k) ASSERT_TRUE(in.next_batch(b));
  }
}

TEST(IngestParallel, LongCsvFieldsStayWithinTheChunkBudget) {
  tk::temp_dir d;
  std::string csv = "email,username\n";
  std::string name(20000, 'n');
  for (int i = 0; i < 3000; ++i) csv += "u" + std::to_string(i) + "@x.com," + name + "\n";
  tk::write_file(d / "a.csv", csv);
  ingest_options o;
  o.inputs = {(d / "a.csv").string()};
  o.op = operation::create;
  o.parallel_min_bytes = 0;
  ingest in(o);
  ASSERT_TRUE(in.parallel());
  std::uint64_t n = 0;
  while (auto b = in.next_batch()) {
    ASSERT_EQ(b->items.size(), 1u);
    ASSERT_EQ(b->items[0].username, name);
    ++n;
  }
  EXPECT_EQ(n, 3000u);
}

}  // namespace
