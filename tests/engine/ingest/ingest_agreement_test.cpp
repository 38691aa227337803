// Agreement test: on a generated corpus of 250,000 lines (mixed case, blanks, duplicates, many
// kinds of invalid lines), ingest accepts exactly the addresses a deliberately plain reference
// implementation (std::string code + std::set, written separately from normalize.cpp) accepts.
#include <onboard/ingest/ingest.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace {

namespace tk = onboard::testkit;

// ---- the reference: simple, slow, obviously-correct string code ----------------------------

bool ref_is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string ref_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool ref_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string("!#$%&'*+-/=?^_`{|}~").find(c) != std::string::npos;
}

std::vector<std::string> ref_split(const std::string& s, char sep) {
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == sep)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

// ref_key: the dedupe key if the line's address is acceptable, else nullopt.
std::optional<std::string> ref_key(std::string line) {
  while (!line.empty() && ref_is_ws(line.front())) line.erase(line.begin());
  while (!line.empty() && ref_is_ws(line.back())) line.pop_back();
  if (line.empty()) return std::nullopt;
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || u >= 0x80 || c == ' ') return std::nullopt;
  }
  auto at = line.rfind('@');
  if (at == std::string::npos) return std::nullopt;
  std::string local = line.substr(0, at), domain = line.substr(at + 1);
  if (local.empty() || local.size() > 64) return std::nullopt;
  for (const auto& atom : ref_split(local, '.')) {
    if (atom.empty()) return std::nullopt;
    for (char c : atom)
      if (!ref_atext(c)) return std::nullopt;
  }
  auto labels = ref_split(domain, '.');
  if (labels.size() < 2) return std::nullopt;
  for (const auto& l : labels) {
    if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return std::nullopt;
    for (char c : l)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
        return std::nullopt;
  }
  bool all_digits = true;
  for (char c : labels.back())
    if (c < '0' || c > '9') all_digits = false;
  if (all_digits) return std::nullopt;
  if (line.size() > 254) return std::nullopt;
  return ref_lower(line);
}

// ---- the corpus ---------------------------------------------------------------------------

std::string random_case(std::string s, std::mt19937_64& rng) {
  for (auto& c : s)
    if (rng() % 4 == 0) {
      if (c >= 'a' && c <= 'z')
        c = static_cast<char>(c - 32);
      else if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c + 32);
    }
  return s;
}

std::string random_address(std::mt19937_64& rng) {
  static const char* domains[] = {"example.com", "mail.example.org", "x.io",
                                  "a-b.co.uk",   "EXAMPLE.NET",      "1x.dev"};
  static const std::string chars = "abcdefghijklmnopqrstuvwxyz0123456789._+-";
  std::string local;
  std::size_t n = 1 + rng() % 10;
  for (std::size_t i = 0; i < n; ++i) local += chars[rng() % chars.size()];
  return local + "@" + domains[rng() % 6];
}

std::string mangle(std::string s, std::mt19937_64& rng) {
  switch (rng() % 14) {
    case 0: return s.erase(s.find('@'), 1);         // no @
    case 1: return s.insert(s.find('@'), " ");      // space
    case 2: return s.insert(1, "\t");               // control
    case 3: return s + ".";                         // trailing dot
    case 4: return s.insert(s.find('@') + 1, "-");  // leading hyphen
    case 5: return "\"" + s.substr(0, s.find('@')) + "\"" + s.substr(s.find('@'));  // quoted
    case 6: return s.substr(0, s.find('@')) + "@localhost";                         // no dot
    case 7: return s.substr(0, s.find('@')) + "@10.0.0.1";                          // numeric TLD
    case 8: return std::string(65, 'q') + s.substr(s.find('@'));                    // local > 64
    case 9: return s.substr(0, s.find('@') + 1) + std::string(64, 'z') + ".com";    // label > 63
    case 10: return s.insert(0, "..");                                              // leading dots
    case 11: return s.insert(s.find('@'), "(x)");                                   // specials
    case 12: return "   ";    // empty after trim
    default: return s + "@";  // empty domain
  }
}

TEST(IngestAgreement, AcceptedKeysEqualAPlainReferenceOn250kLines) {
  std::mt19937_64 rng(20240601);
  std::vector<std::string> lines;
  std::vector<std::string> seen;
  for (int i = 0; i < 250000; ++i) {
    std::uint64_t k = rng() % 100;
    std::string s;
    if (k < 25 && !seen.empty())
      s = random_case(seen[rng() % seen.size()], rng);  // duplicate
    else if (k < 35)
      s = mangle(random_address(rng), rng);  // invalid-ish
    else {
      s = random_case(random_address(rng), rng);
      seen.push_back(s);
    }
    if (rng() % 10 == 0) s = " " + s + "  ";
    if (rng() % 20 == 0) s += "\r";
    lines.push_back(s);
  }
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  tk::temp_dir d;
  tk::write_file(d / "corpus.txt", text);

  std::set<std::string> ref;
  std::uint64_t ref_records = 0;
  for (const auto& l : lines) {
    // The reader skips blank lines and '#' comments: those are not records at all.
    std::size_t p = l.find_first_not_of(" \t\r");
    if (p == std::string::npos || l[p] == '#') continue;
    ++ref_records;
    if (auto key = ref_key(l)) ref.insert(*key);
  }

  onboard::ingest_options o;
  o.inputs = {(d / "corpus.txt").string()};
  onboard::ingest in(o);
  std::set<std::string> got;
  onboard::batch b;
  while (in.next_batch(b))
    for (const auto& a : b.items) {
      ASSERT_TRUE(got.insert(onboard::dedupe_text(a.email, false)).second) << "twice: " << a.email;
    }
  const auto& st = in.stats();
  EXPECT_EQ(st.lines, ref_records);
  EXPECT_EQ(st.accepted, ref.size());
  EXPECT_GT(st.duplicates, 50000u);
  EXPECT_GT(st.rejected, 20000u);
  EXPECT_EQ(st.lines, st.accepted + st.rejected + st.duplicates + st.already_done);
  std::vector<std::string> only_ref, only_got;
  std::set_difference(ref.begin(), ref.end(), got.begin(), got.end(), std::back_inserter(only_ref));
  std::set_difference(got.begin(), got.end(), ref.begin(), ref.end(), std::back_inserter(only_got));
  EXPECT_TRUE(only_ref.empty()) << only_ref.size() << " only in the reference, e.g. "
                                << only_ref.front();
  EXPECT_TRUE(only_got.empty()) << only_got.size() << " only in ingest, e.g. " << only_got.front();
}

}  // namespace
