// Tests for onboard::io::corpus_reader: every input format, framing edge cases, hostile lines.
#include <onboard/io/corpus_reader.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <fcntl.h>
#include <future>
#include <random>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <zlib.h>

namespace {

using onboard::io::corpus_error;
using onboard::io::corpus_format;
using onboard::io::corpus_options;
using onboard::io::corpus_reader;
using onboard::io::corpus_record;
using onboard::io::line_problem;
namespace tk = onboard::testkit;

// rec: an owned copy of a record, for comparisons.
struct rec {
  std::uint32_t source;
  std::uint64_t line;
  std::string email, user_type, username, account_id;
  line_problem problem;
  std::string detail;
  bool operator==(const rec&) const = default;
};

std::ostream& operator<<(std::ostream& o, const rec& r) {
  return o << "{" << r.source << ":" << r.line << " '" << r.email << "' type='" << r.user_type
           << "' user='" << r.username << "' acct='" << r.account_id
           << "' problem=" << static_cast<int>(r.problem) << " " << r.detail << "}";
}

std::vector<rec> read_all(std::vector<std::string> inputs, corpus_options o = {}) {
  corpus_reader r(std::move(inputs), o);
  std::vector<rec> out;
  corpus_record c;
  while (r.next(c))
    out.push_back({c.source, c.line, std::string(c.email), std::string(c.user_type),
                   std::string(c.username), std::string(c.account_id), c.problem,
                   std::string(c.detail)});
  return out;
}

rec ok(std::uint32_t src, std::uint64_t line, std::string email, std::string type = "",
       std::string user = "", std::string acct = "") {
  return {src,
          line,
          std::move(email),
          std::move(type),
          std::move(user),
          std::move(acct),
          line_problem::none,
          ""};
}

void write_gzip(const tk::fs::path& p, const std::string& data, int members = 1) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::size_t part = data.size() / static_cast<std::size_t>(members) + 1;
  for (std::size_t off = 0; off < data.size(); off += part) {
    std::size_t n = std::min(part, data.size() - off);
    ASSERT_EQ(gzwrite(f, data.data() + off, static_cast<unsigned>(n)), static_cast<int>(n));
    if (members > 1) {
      // A new member: close and reopen in append mode.
      gzclose(f);
      f = gzopen(p.c_str(), "ab");
    }
  }
  gzclose(f);
}

TEST(CorpusReader, PlainSkipsBlanksAndCommentsAndKeepsLineNumbers) {
  tk::temp_dir d;
  tk::write_file(
      d / "a.txt",
      "# header comment\n\none@x.com\n   \n  # indented comment\ntwo@x.com  \nthree@x.com");
  auto r = read_all({(d / "a.txt").string()});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], ok(0, 3, "one@x.com"));
  EXPECT_EQ(r[1], ok(0, 6, "two@x.com  "));  // trailing blanks are the engine's to trim
  EXPECT_EQ(r[2], ok(0, 7, "three@x.com"));  // no final newline
}

TEST(CorpusReader, CrlfAndBom) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "\xEF\xBB\xBFone@x.com\r\ntwo@x.com\r\n\r\nthree@x.com\r\n");
  auto r = read_all({(d / "a.txt").string()});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], ok(0, 1, "one@x.com"));
  EXPECT_EQ(r[1], ok(0, 2, "two@x.com"));
  EXPECT_EQ(r[2], ok(0, 4, "three@x.com"));
}

TEST(CorpusReader, EmptyFileAndOnlyComments) {
  tk::temp_dir d;
  tk::write_file(d / "e.txt", "");
  tk::write_file(d / "c.txt", "# nothing\n\n");
  EXPECT_TRUE(read_all({(d / "e.txt").string(), (d / "c.txt").string()}).empty());
}

TEST(CorpusReader, CsvHeaderQuotingAndColumns) {
  tk::temp_dir d;
  tk::write_file(d / "u.csv",
                 "\xEF\xBB\xBF Name , E-Mail ,User Type,username,Account_ID\r\n"
                 "\"Smith, John\",john@x.com,PrivateUser,jsmith,acct-1\r\n"
                 "\"Multi\nline\nname\",mary@x.com,,\"m \"\"q\"\"\",\r\n"
                 "\r\n"
                 "plain,\"quoted@x.com\",SharedDevice,,acct-2\n"
                 "short,last@x.com");
  corpus_options o;
  o.email_column = "e_mail";  // matches "E-Mail": case, blanks, '_' and '-' are ignored
  auto r = read_all({(d / "u.csv").string()}, o);
  ASSERT_EQ(r.size(), 4u) << ::testing::PrintToString(r);
  EXPECT_EQ(r[0], ok(0, 2, "john@x.com", "PrivateUser", "jsmith", "acct-1"));
  EXPECT_EQ(r[1], ok(0, 3, "mary@x.com", "", "m \"q\"", ""));
  EXPECT_EQ(r[2], ok(0, 7, "quoted@x.com", "SharedDevice", "", "acct-2"));
  EXPECT_EQ(r[3], ok(0, 8, "last@x.com"));
  corpus_reader rd({(d / "u.csv").string()}, o);
  corpus_record c;
  ASSERT_TRUE(rd.next(c));
  EXPECT_EQ(rd.format(0), corpus_format::csv);
}

// --where: only the rows whose column holds the value (blanks and ASCII case ignored, every pair
// must match) become records, with their own line numbers; the others are counted, not framed.
TEST(CorpusReader, WhereKeepsOnlyTheMatchingRows) {
  tk::temp_dir d;
  tk::write_file(d / "u.csv",
                 "email, Department ,Site\n"
                 "a@x.com,Sales,Paris\n"
                 "b@x.com,  sales ,Lyon\n"
                 "c@x.com,Engineering,Paris\n"
                 "\"d@x.com\",\"SALES\",\"Paris\"\n"
                 "e@x.com,Sales-EU,Paris\n"
                 "f@x.com\n"
                 "\n"
                 "g@x.com,sales,paris\n");
  corpus_options o;
  o.where = {{"department", "Sales"}};
  corpus_reader r({(d / "u.csv").string()}, o);
  std::vector<rec> got;
  corpus_record c;
  while (r.next(c))
    got.push_back(
        {c.source, c.line, std::string(c.email), "", "", "", c.problem, std::string(c.detail)});
  ASSERT_EQ(got.size(), 4u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], ok(0, 2, "a@x.com"));
  EXPECT_EQ(got[1], ok(0, 3, "b@x.com"));
  EXPECT_EQ(got[2], ok(0, 5, "d@x.com"));
  EXPECT_EQ(got[3], ok(0, 9, "g@x.com"));
  EXPECT_EQ(r.filtered_lines(), 3u);  // c (another value), e (not equal), f (no such field)
  EXPECT_EQ(r.skipped_lines(), 1u);

  o.where = {{"Department", "sales"}, {"site", " PARIS "}};
  auto both = read_all({(d / "u.csv").string()}, o);
  ASSERT_EQ(both.size(), 3u) << ::testing::PrintToString(both);
  EXPECT_EQ(both[0].email, "a@x.com");
  EXPECT_EQ(both[1].email, "d@x.com");
  EXPECT_EQ(both[2].email, "g@x.com");
}

TEST(CorpusReader, WhereNamesTheFileAndItsColumnsWhenTheColumnIsMissing) {
  tk::temp_dir d;
  tk::write_file(d / "u.csv", "email,site\na@x.com,Paris\n");
  tk::write_file(d / "list.txt", "a@x.com\n");
  corpus_options o;
  o.where = {{"dept", "Sales"}};
  try {
    read_all({(d / "u.csv").string()}, o);
    FAIL() << "no error";
  } catch (const corpus_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((d / "u.csv").string() + ": --where dept=Sales: no column 'dept'"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("(columns: email, site)"), std::string::npos) << what;
  }
  try {
    read_all({(d / "list.txt").string()}, o);
    FAIL() << "no error";
  } catch (const corpus_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((d / "list.txt").string() + ": --where dept=Sales needs a CSV input"),
              std::string::npos)
        << what;
  }
}

TEST(CorpusReader, CsvDetectedFromHeaderWithoutExtension) {
  tk::temp_dir d;
  tk::write_file(d / "list.txt", "EMAIL,user_type\na@x.com,PrivateUser\n");
  tk::write_file(d / "plain.txt", "a@x.com\nemail\n");
  auto r = read_all({(d / "list.txt").string(), (d / "plain.txt").string()});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], ok(0, 2, "a@x.com", "PrivateUser"));
  EXPECT_EQ(r[1], ok(1, 1, "a@x.com"));
  EXPECT_EQ(r[2], ok(1, 2, "email"));
}

TEST(CorpusReader, CsvWithoutEmailColumnIsAnErrorNamingFileAndColumn) {
  tk::temp_dir d;
  tk::write_file(d / "bad.csv", "name,address\nx,y@x.com\n");
  try {
    corpus_reader r({(d / "bad.csv").string()}, {});
    FAIL() << "expected corpus_error";
  } catch (const corpus_error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("bad.csv"), std::string::npos) << m;
    EXPECT_NE(m.find("'email'"), std::string::npos) << m;
    EXPECT_NE(m.find("name, address"), std::string::npos) << m;
  }
  corpus_options o;
  o.email_column = "mail";
  EXPECT_THROW(corpus_reader({(d / "bad.csv").string()}, o), corpus_error);
  o.email_column = "address";
  EXPECT_EQ(read_all({(d / "bad.csv").string()}, o).at(0).email, "y@x.com");
}

TEST(CorpusReader, MissingFileAndDirectoryAreErrorsNamingThem) {
  tk::temp_dir d;
  try {
    corpus_reader r({(d / "nope.txt").string()}, {});
    FAIL();
  } catch (const corpus_error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.txt"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos);
  }
  try {
    corpus_reader r({d.path().string()}, {});
    FAIL();
  } catch (const corpus_error& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
}

// Unreadable paths that stay unreadable as root (chmod 000 does not stop root): a directory
// where a file is expected, a file inside a folder that does not exist, and a path through a
// regular file (ENOTDIR). Each is an error naming the path, raised before the first record.
TEST(CorpusReader, UnreadableFileIsAnError) {
  tk::temp_dir d;
  tk::fs::create_directory(d / "users.csv");
  tk::write_file(d / "plain.txt", "a@x.com\n");
  const std::string paths[] = {(d / "users.csv").string(),
                               (d / "no-such-folder" / "users.txt").string(),
                               (d / "plain.txt" / "inner.txt").string()};
  for (const auto& path : paths) {
    try {
      corpus_reader r({path}, {});
      ADD_FAILURE() << "expected corpus_error for " << path;
    } catch (const corpus_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

// A report written by `chime-onboard report --format csv --failed-only` neutralises cells that a
// spreadsheet would run as formulas ('-dash@...); fed back as --input, the reader undoes that, so
// the address is the original one. Only a ' before = + - @ is removed, and only in CSV input.
TEST(CorpusReader, CsvUndoesSpreadsheetNeutralisation) {
  tk::temp_dir d;
  tk::write_file(d / "failed.csv",
                 "email,outcome,username\n"
                 "'-dash@example.com,failed,'=user\n"
                 "\"'+plus@example.com\",failed,\n"
                 "'@at@example.com,failed,\n"
                 "'=eq@example.com,failed,\n"
                 "'quote@example.com,failed,\n"  // ' before anything else is kept
                 "''-two@example.com,failed,\n"  // only one ' is removed, and only before = + - @
                 "'-,failed,\n"
                 "',failed,\n");
  auto r = read_all({(d / "failed.csv").string()});
  ASSERT_EQ(r.size(), 8u) << ::testing::PrintToString(r);
  EXPECT_EQ(r[0], ok(0, 2, "-dash@example.com", "", "=user"));
  EXPECT_EQ(r[1], ok(0, 3, "+plus@example.com"));
  EXPECT_EQ(r[2], ok(0, 4, "@at@example.com"));
  EXPECT_EQ(r[3], ok(0, 5, "=eq@example.com"));
  EXPECT_EQ(r[4], ok(0, 6, "'quote@example.com"));
  EXPECT_EQ(r[5], ok(0, 7, "''-two@example.com"));
  EXPECT_EQ(r[6], ok(0, 8, "-"));
  EXPECT_EQ(r[7], ok(0, 9, "'"));
  // A plain list is not a report: its lines are taken as they are.
  tk::write_file(d / "plain.txt", "'-dash@example.com\n");
  EXPECT_EQ(read_all({(d / "plain.txt").string()}).at(0).email, "'-dash@example.com");
}

TEST(CorpusReader, GzipByExtensionAndByMagicIncludingConcatenatedMembers) {
  tk::temp_dir d;
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "user" + std::to_string(i) + "@example.com\n";
  write_gzip(d / "a.txt.gz", text);
  write_gzip(d / "disguised.txt", text, 3);
  write_gzip(d / "u.csv.gz", "email,username\na@x.com,\"A, B\"\n");
  for (const char* name : {"a.txt.gz", "disguised.txt"}) {
    auto r = read_all({(d / name).string()});
    ASSERT_EQ(r.size(), 50000u) << name;
    EXPECT_EQ(r[0].email, "user0@example.com");
    EXPECT_EQ(r[49999], ok(0, 50000, "user49999@example.com"));
  }
  auto c = read_all({(d / "u.csv.gz").string()});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], ok(0, 2, "a@x.com", "", "A, B"));
}

TEST(CorpusReader, CorruptOrTruncatedGzipIsAnError) {
  tk::temp_dir d;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "user" + std::to_string(i) + "@example.com\n";
  write_gzip(d / "ok.gz", text);
  std::string z = tk::read_file(d / "ok.gz");
  tk::write_file(d / "trunc.gz", z.substr(0, z.size() / 2));
  std::string bad = z;
  for (std::size_t i = 20; i < bad.size() - 8; i += 7) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  tk::write_file(d / "bad.gz", bad);
  for (const char* name : {"trunc.gz", "bad.gz"}) {
    try {
      read_all({(d / name).string()});
      FAIL() << name;
    } catch (const corpus_error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// compress: `tool` (the Debian program for the format) writes `out` from `in`, as an HR system's
// export would be made.
void compress(std::vector<std::string> argv) {
  argv.at(0) = "/usr/bin/" + argv.at(0);  // the Debian tools (run() does not search PATH)
  auto r = tk::run(argv, {});
  ASSERT_EQ(r.status, 0) << argv.at(0) << ": " << r.err;
}

TEST(CorpusReader, XzZstdBzip2AndZipFilesMadeByTheirToolsReadLikeTheOriginal) {
  tk::temp_dir d;
  std::string csv = "Name,Email,account_id\n";
  for (int i = 0; i < 3000; ++i)
    csv += "Person " + std::to_string(i) + ",p" + std::to_string(i) + "@example.com,acct-1\n";
  tk::write_file(d / "staff.csv", csv);
  const auto want = read_all({(d / "staff.csv").string()});
  ASSERT_EQ(want.size(), 3000u);
  const auto in = (d / "staff.csv").string();
  compress({"xz", "-k", in});
  compress({"zstd", "-q", "-k", in});
  compress({"bzip2", "-k", in});
  compress({"zip", "-q", "-j", (d / "export.zip").string(), in});
  for (const char* name : {"staff.csv.xz", "staff.csv.zst", "staff.csv.bz2", "export.zip"})
    EXPECT_EQ(read_all({(d / name).string()}), want) << name;
  // CSV without the .csv name: the header decides, as for plain files.
  tk::fs::copy(d / "staff.csv.xz", d / "export.dat");
  EXPECT_EQ(read_all({(d / "export.dat").string()}), want);

  // Streams decode too: an xz file through a pipe, as `--input -` or a FIFO would bring it.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string packed = tk::read_file(d / "staff.csv.xz");
  std::thread writer([w = fds[1], &packed] {
    for (std::size_t off = 0; off < packed.size();) {
      ssize_t n = ::write(w, packed.data() + off, std::min<std::size_t>(4096, packed.size() - off));
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(w);
  });
  corpus_options o;
  o.stdin_fd = fds[0];
  auto piped = read_all({"-"}, o);
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(piped.size(), want.size());
  EXPECT_EQ(piped.back().email, want.back().email);
}

TEST(CorpusReader, CorruptOrAmbiguousArchivesAreErrorsNamingTheInputAndFormat) {
  tk::temp_dir d;
  std::string list;
  for (int i = 0; i < 2000; ++i) list += "u" + std::to_string(i) + "@example.com\n";
  tk::write_file(d / "list.txt", list);
  tk::write_file(d / "other.txt", "x@example.com\n");
  compress({"xz", "-k", (d / "list.txt").string()});
  compress({"zstd", "-q", "-k", (d / "list.txt").string()});
  const std::string xz = tk::read_file(d / "list.txt.xz");
  tk::write_file(d / "cut.txt.xz", xz.substr(0, xz.size() / 2));
  std::string zst = tk::read_file(d / "list.txt.zst");
  for (std::size_t i = 12; i < zst.size() - 4; i += 5) zst[i] = static_cast<char>(zst[i] ^ 0x5a);
  tk::write_file(d / "bad.txt.zst", zst);
  compress({"zip", "-q", "-j", (d / "two.zip").string(), (d / "list.txt").string(),
            (d / "other.txt").string()});
  tk::write_file(d / "users.7z", std::string("7z\xBC\xAF\x27\x1C\0\x04", 8) + std::string(40, 'x'));
  const std::pair<const char*, const char*> cases[] = {
      {"cut.txt.xz", "xz data"},
      {"bad.txt.zst", "zstd data"},
      {"two.zip", "holds more than one file (list.txt, other.txt)"},
      {"users.7z", "7-Zip"},
  };
  for (const auto& [name, says] : cases) {
    try {
      read_all({(d / name).string()});
      ADD_FAILURE() << "expected corpus_error for " << name;
    } catch (const corpus_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(name), std::string::npos) << what;
      EXPECT_NE(what.find(says), std::string::npos) << what;
    }
  }
  // Text that merely starts like a bzip2 header is read as text.
  tk::write_file(d / "bzh.txt", "BZh@example.com\nb@example.com\n");
  EXPECT_EQ(read_all({(d / "bzh.txt").string()}).size(), 2u);
}

TEST(CorpusReader, SemicolonAndTabSeparatedCsvWithDelimiterAndAHintWithout) {
  tk::temp_dir d;
  tk::write_file(d / "hr.csv",
                 "Name;E-mail;account_id\n\"Doe; "
                 "Jane\";jane@example.com;acct-1\nBob;bob@example.com;acct-2\n");
  corpus_options o;
  o.email_column = "e-mail";
  o.delimiter = ';';
  auto r = read_all({(d / "hr.csv").string()}, o);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], ok(0, 2, "jane@example.com", "", "", "acct-1"));
  EXPECT_EQ(r[1], ok(0, 3, "bob@example.com", "", "", "acct-2"));
  tk::write_file(d / "tabs.csv", "email\tname\nt@example.com\tT\n");
  o.email_column = "email";
  o.delimiter = '\t';
  EXPECT_EQ(read_all({(d / "tabs.csv").string()}, o).at(0).email, "t@example.com");
  // Without --delimiter, the header is one column: the error says what to give.
  corpus_options commas;
  commas.email_column = "e-mail";
  try {
    read_all({(d / "hr.csv").string()}, commas);
    FAIL() << "expected corpus_error";
  } catch (const corpus_error& e) {
    EXPECT_NE(std::string(e.what()).find("give --delimiter ';'"), std::string::npos) << e.what();
  }
}

TEST(CorpusReader, StdinThroughAPipeAndSeveralInputs) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "a1@x.com\na2@x.com\n");
  tk::write_file(d / "b.csv", "email\nb1@x.com\n");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([w = fds[1]] {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += "s" + std::to_string(i) + "@x.com\n";
    const char* p = s.data();
    std::size_t n = s.size();
    while (n) {
      ssize_t k = ::write(w, p, n);
      if (k <= 0) break;
      p += k;
      n -= static_cast<std::size_t>(k);
    }
    ::close(w);
  });
  corpus_options o;
  o.stdin_fd = fds[0];
  auto r = read_all({(d / "a.txt").string(), "-", (d / "b.csv").string()}, o);
  writer.join();
  ::close(fds[0]);
  ASSERT_EQ(r.size(), 2u + 20000u + 1u);
  EXPECT_EQ(r[0], ok(0, 1, "a1@x.com"));
  EXPECT_EQ(r[2], ok(1, 1, "s0@x.com"));
  EXPECT_EQ(r[20001], ok(1, 20000, "s19999@x.com"));
  EXPECT_EQ(r.back(), ok(2, 2, "b1@x.com"));
  corpus_reader names({(d / "a.txt").string(), "-"}, o);
  EXPECT_EQ(names.input_name(1), "<stdin>");
}

// numbered_lines: n distinct addresses, one a line (20,000 is far beyond a pipe's 64 KiB buffer).
std::string numbered_lines(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "s" + std::to_string(i) + "@x.com\n";
  return s;
}

// write_and_close: a writer thread's body: all of `s` into the pipe, then its end of input.
void write_and_close(int fd, std::string s) {
  const char* p = s.data();
  std::size_t n = s.size();
  while (n) {
    ssize_t k = ::write(fd, p, n);
    if (k <= 0) break;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  ::close(fd);
}

// A stream given by name (process substitution's /dev/fd/N, /dev/stdin) is read once, like "-":
// the preflight must not open it and read its first bytes, which nothing could read again.
TEST(CorpusReader, AStreamNamedLikeAFileIsReadOnceFromItsFirstLine) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "a1@x.com\n");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer(write_and_close, fds[1], numbered_lines(20000));
  const std::string dev_fd = "/dev/fd/" + std::to_string(fds[0]);
  EXPECT_FALSE(onboard::io::regular_file_input(dev_fd));
  EXPECT_TRUE(onboard::io::regular_file_input((d / "a.txt").string()));
  EXPECT_FALSE(onboard::io::regular_file_input("-"));
  auto r = read_all({(d / "a.txt").string(), dev_fd});
  writer.join();
  ::close(fds[0]);
  ASSERT_EQ(r.size(), 1u + 20000u);
  EXPECT_EQ(r[1], ok(1, 1, "s0@x.com"));
  EXPECT_EQ(r.back(), ok(1, 20000, "s19999@x.com"));
}

// A FIFO nobody has opened for writing yet: the reader is built at once (the preflight neither
// opens nor reads it), then reads what a writer sends when it comes, once.
TEST(CorpusReader, AFifoIsOpenedWithoutWaitingForItsWriterAndReadOnce) {
  tk::temp_dir d;
  const std::string fifo = (d / "users.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto built = std::async(std::launch::async, [&] {
    return std::make_unique<corpus_reader>(std::vector<std::string>{fifo}, corpus_options{});
  });
  if (built.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));  // release it, to end the test
    FAIL() << "building the reader waited for the FIFO's writer";
  }
  auto reader = built.get();
  std::thread writer(
      [&] { write_and_close(::open(fifo.c_str(), O_WRONLY), numbered_lines(20000)); });
  std::vector<std::string> got;
  corpus_record c;
  while (reader->next(c)) got.emplace_back(c.email);
  writer.join();
  ASSERT_EQ(got.size(), 20000u);
  EXPECT_EQ(got.front(), "s0@x.com");
  EXPECT_EQ(got.back(), "s19999@x.com");
}

// cancel(), from another thread, ends a next() waiting on a stream that has nothing to say (a
// stdin that never ends, a FIFO nobody writes), and every next() after it.
TEST(CorpusReader, CancelEndsAReadWaitingOnAStream) {
  tk::temp_dir d;
  const std::string fifo = (d / "idle.fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "first@x.com\n", 12), 12);
  corpus_options o;
  o.stdin_fd = fds[0];
  for (const std::string& input : {std::string("-"), fifo}) {
    corpus_reader r({input}, o);
    corpus_record c;
    if (input == "-") {
      ASSERT_TRUE(r.next(c));
      EXPECT_EQ(c.email, "first@x.com");
    }
    auto waiting = std::async(std::launch::async, [&] {
      try {
        r.next(c);
        return std::string("next() returned");
      } catch (const corpus_error& e) {
        return std::string(e.what());
      }
    });
    EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
        << input << ": nothing to read yet, so next() waits";
    r.cancel();
    if (waiting.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      // Release the reader so that the test can end: a hang is the failure.
      ::close(std::exchange(fds[1], -1));
      ::close(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
      FAIL() << input << ": cancel() did not end the wait";
    }
    const std::string what = waiting.get();
    EXPECT_NE(what.find("reading stopped"), std::string::npos) << what;
    EXPECT_NE(what.find(input == "-" ? "<stdin>" : fifo), std::string::npos) << what;
    EXPECT_THROW(r.next(c), corpus_error) << "and every next() after it";
  }
  ::close(fds[0]);
  if (fds[1] >= 0) ::close(fds[1]);
}

// The preflight still names a stream that cannot be read, without opening it.
TEST(CorpusReader, APreflightOfAStreamChecksWithoutReading) {
  tk::temp_dir d;
  const std::string fifo = (d / "gone.fifo").string();
  try {
    corpus_reader r({fifo}, {});
    FAIL();
  } catch (const corpus_error& e) {
    EXPECT_NE(std::string(e.what()).find(fifo), std::string::npos) << e.what();
  }
  // A character device is a stream too: /dev/null is an empty input, read once.
  EXPECT_TRUE(read_all({"/dev/null"}).empty());
}

TEST(CorpusReader, HostileLinesAreRejectedNotFatal) {
  tk::temp_dir d;
  std::string big(5 * 1024 * 1024, 'a');
  std::string s = std::string("nul\0byte@x.com\n", 15) + "bad\xC3(utf8@x.com\n" +
                  "over\xC0\xAFlong@x.com\n" + "surrogate\xED\xA0\x80@x.com\n" + big + "\n" +
                  "after@x.com\n" + "caf\xC3\xA9@x.com\n" + big;
  tk::write_file(d / "h.txt", s);
  auto r = read_all({(d / "h.txt").string()});
  ASSERT_EQ(r.size(), 8u) << ::testing::PrintToString(r);
  EXPECT_EQ(r[0], ok(0, 1, std::string("nul\0byte@x.com", 14)));  // NUL: the engine's control_char
  EXPECT_EQ(r[1].problem, line_problem::bad_utf8);
  EXPECT_EQ(r[1].line, 2u);
  EXPECT_EQ(r[2].problem, line_problem::bad_utf8);
  EXPECT_EQ(r[3].problem, line_problem::bad_utf8);
  EXPECT_EQ(r[4].problem, line_problem::too_long);
  EXPECT_EQ(r[4].line, 5u);
  EXPECT_NE(r[4].detail.find("h.txt:5:"), std::string::npos) << r[4].detail;
  EXPECT_EQ(r[5], ok(0, 6, "after@x.com"));
  EXPECT_EQ(r[6], ok(0, 7, "caf\xC3\xA9@x.com"));
  EXPECT_EQ(r[7].problem, line_problem::too_long);  // unterminated giant last line
  EXPECT_EQ(r[7].line, 8u);
}

TEST(CorpusReader, TooLongCsvLineAndLongLineInsideBuffer) {
  tk::temp_dir d;
  corpus_options o;
  o.max_line = 100;
  tk::write_file(d / "l.csv", "email\n" + std::string(150, 'b') + "@x.com\nok@x.com\n");
  tk::write_file(d / "l.txt", std::string(150, 'b') + "\nok@x.com\n");
  for (const char* n : {"l.csv", "l.txt"}) {
    auto r = read_all({(d / n).string()}, o);
    ASSERT_EQ(r.size(), 2u) << n;
    EXPECT_EQ(r[0].problem, line_problem::too_long) << n;
    EXPECT_EQ(r[1].email, "ok@x.com") << n;
  }
}

TEST(CorpusReader, UnbalancedQuoteRejectsOneLineNamingFileAndLineThenRecovers) {
  tk::temp_dir d;
  tk::write_file(d / "q.csv",
                 "email,name\n"
                 "a@x.com,ok\n"
                 "\"b@x.com,never closed\n"
                 "c@x.com,fine\n"
                 "d\"@x.com,stray quote\n"
                 "\"e@x.com\"junk,after quote\n"
                 "f@x.com,last\n");
  auto r = read_all({(d / "q.csv").string()});
  ASSERT_EQ(r.size(), 6u) << ::testing::PrintToString(r);
  EXPECT_EQ(r[0], ok(0, 2, "a@x.com"));
  EXPECT_EQ(r[1].problem, line_problem::bad_csv);
  EXPECT_EQ(r[1].line, 3u);
  EXPECT_NE(r[1].detail.find("q.csv:3: "), std::string::npos) << r[1].detail;
  EXPECT_EQ(r[2], ok(0, 4, "c@x.com"));
  EXPECT_EQ(r[3].problem, line_problem::bad_csv);
  EXPECT_NE(r[3].detail.find("q.csv:5:"), std::string::npos) << r[3].detail;
  EXPECT_EQ(r[4].problem, line_problem::bad_csv);
  EXPECT_NE(r[4].detail.find("q.csv:6:"), std::string::npos) << r[4].detail;
  EXPECT_EQ(r[5], ok(0, 7, "f@x.com"));
}

TEST(CorpusReader, UnterminatedQuoteBeyondTheRecordCapRecovers) {
  tk::temp_dir d;
  corpus_options o;
  o.max_line = 64;
  std::string s = "email\n\"open@x.com\n";
  for (int i = 0; i < 20; ++i) s += "r" + std::to_string(i) + "@x.com\n";
  tk::write_file(d / "q.csv", s);
  auto r = read_all({(d / "q.csv").string()}, o);
  ASSERT_EQ(r.size(), 21u);
  EXPECT_EQ(r[0].problem, line_problem::bad_csv);
  EXPECT_EQ(r[0].line, 2u);
  EXPECT_EQ(r[1], ok(0, 3, "r0@x.com"));
  EXPECT_EQ(r[20], ok(0, 22, "r19@x.com"));
}

TEST(CorpusReader, RowWithoutTheEmailFieldIsBadCsv) {
  tk::temp_dir d;
  tk::write_file(d / "r.csv", "name,email\nonly-a-name\nn,a@x.com\n");
  auto r = read_all({(d / "r.csv").string()});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].problem, line_problem::bad_csv);
  EXPECT_EQ(r[1], ok(0, 3, "a@x.com"));
}

// Tiny buffers force every record across refill boundaries; the records must not change.
TEST(CorpusReader, PropertyBufferSizeDoesNotChangeRecords) {
  std::mt19937_64 rng(12345);
  tk::temp_dir d;
  for (int round = 0; round < 20; ++round) {
    std::string plain, csv = "email,username,user_type\n";
    int n = 200 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      std::string e = "u" + std::to_string(rng() % 100000) + "@d" + std::to_string(i % 7) + ".com";
      switch (rng() % 6) {
        case 0: plain += "\n"; break;
        case 1: plain += "# c\r\n"; break;
        default: plain += e + ((rng() & 1) ? "\r\n" : "\n");
      }
      switch (rng() % 4) {
        case 0: csv += "\"" + e + "\",\"multi\nline \"\"x\"\"\",PrivateUser\n"; break;
        case 1: csv += e + ",,\r\n"; break;
        default: csv += e + ",\"a,b\",\n";
      }
    }
    tk::write_file(d / "p.txt", plain);
    tk::write_file(d / "c.csv", csv);
    corpus_options small;
    small.max_line = 48;
    small.buffer_size = 1;
    auto a = read_all({(d / "p.txt").string(), (d / "c.csv").string()});
    auto b = read_all({(d / "p.txt").string(), (d / "c.csv").string()}, small);
    ASSERT_EQ(a, b) << "round " << round;
  }
}

TEST(ValidUtf8, AcceptsWellFormedRejectsMalformed) {
  using onboard::io::valid_utf8;
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii that is longer than eight bytes"));
  EXPECT_TRUE(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(valid_utf8("\xF4\x8F\xBF\xBF"));                      // U+10FFFF
  EXPECT_FALSE(valid_utf8("\xC3"));                                 // truncated
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));                             // overlong
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));                         // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));                         // surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));                     // > U+10FFFF
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_FALSE(valid_utf8("abcdefgh\x80"));  // stray continuation
}

TEST(ValidUtf8, OneBadByteAnywhereInAnyLengthIsFound) {
  // The ASCII check works in overlapping 16- and 8-byte blocks: a lone bad byte must be seen at
  // every position of every length around the block sizes, and a good multibyte one accepted.
  using onboard::io::valid_utf8;
  for (std::size_t n = 0; n <= 70; ++n) {
    std::string s(n, 'a');
    ASSERT_TRUE(valid_utf8(s)) << n;
    for (std::size_t i = 0; i < n; ++i) {
      std::string bad = s;
      bad[i] = '\xFF';
      ASSERT_FALSE(valid_utf8(bad)) << n << " at " << i;
      if (i + 1 < n) {
        std::string good = s;
        good[i] = '\xC3';
        good[i + 1] = '\xA9';
        ASSERT_TRUE(valid_utf8(good)) << n << " at " << i;
      }
    }
  }
}

}  // namespace
