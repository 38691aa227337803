// durable_file_test.cpp: the append-only file and the atomic report file: modes, contents,
// truncation, locking and errors that name the file.
#include <onboard/io/durable_file.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>

namespace {

using onboard::io::atomic_file;
using onboard::io::durable_file;
namespace tk = onboard::testkit;

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 0777;
}

TEST(DurableFile, CreatesPrivateFileAndAppends) {
  tk::temp_dir dir;
  auto path = dir / "a.journal";
  {
    auto f = durable_file::open(path);
    EXPECT_TRUE(f.created());
    EXPECT_EQ(f.size_on_open(), 0u);
    f.append("hello ");
    f.append("world");
    EXPECT_EQ(f.buffered(), 11u);
    EXPECT_EQ(tk::read_file(path), "");  // only buffered so far
    f.flush();
    EXPECT_EQ(tk::read_file(path), "hello world");
    f.sync();
    f.close();
  }
  EXPECT_EQ(mode_of(path), 0600u);
  auto g = durable_file::open(path);
  EXPECT_FALSE(g.created());
  EXPECT_EQ(g.size_on_open(), 11u);
  g.append(std::string(1 << 20, 'x'));  // larger than the buffer: written through
  g.append("!");
  g.close();
  auto s = tk::read_file(path);
  EXPECT_EQ(s.size(), 11u + (1u << 20) + 1);
  EXPECT_EQ(s.back(), '!');
}

TEST(DurableFile, TruncateThenAppendLandsAtNewEnd) {
  tk::temp_dir dir;
  auto path = dir / "t";
  auto f = durable_file::open(path);
  f.append("0123456789");
  f.truncate(4);
  f.append("ab");
  f.flush();
  EXPECT_EQ(tk::read_file(path), "0123ab");
}

TEST(DurableFile, ExclusiveLockRefusesSecondWriter) {
  tk::temp_dir dir;
  auto a = durable_file::open(dir / "l");
  auto b = durable_file::open(dir / "l");
  EXPECT_TRUE(a.try_lock_exclusive());
  EXPECT_FALSE(b.try_lock_exclusive());
}

TEST(DurableFile, ErrorsNameTheFile) {
  tk::temp_dir dir;
  auto path = dir / "missing-dir" / "x.journal";
  try {
    (void)durable_file::open(path);
    FAIL() << "expected an error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
}

// A full disk is simulated with RLIMIT_FSIZE (EFBIG instead of ENOSPC: same path in the code).
TEST(DurableFile, WriteFailureNamesTheFile) {
  tk::temp_dir dir;
  auto path = dir / "full.journal";
  auto f = durable_file::open(path);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 4096;
  ::setrlimit(RLIMIT_FSIZE, &small);
  std::string error;
  try {
    f.append(std::string(10000, 'x'));
    f.flush();
  } catch (const std::system_error& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(error.find("write " + path.string()), std::string::npos) << error;
}

TEST(AtomicFile, CommitRenamesPrivateFile) {
  tk::temp_dir dir;
  auto path = dir / "report.csv";
  tk::write_file(path, "old");
  ::chmod(path.c_str(), 0644);
  {
    atomic_file f(path);
    f.append("email\n");
    EXPECT_EQ(tk::read_file(path), "old");  // readers see the old file until commit
    f.commit();
  }
  EXPECT_EQ(tk::read_file(path), "email\n");
  EXPECT_EQ(mode_of(path), 0600u);
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFile, AbandonedLeavesNothing) {
  tk::temp_dir dir;
  {
    atomic_file f(dir / "r.jsonl");
    f.append("{}\n");
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  onboard::io::write_file_atomically(dir / "small", "abc");
  EXPECT_EQ(tk::read_file(dir / "small"), "abc");
}

}  // namespace
