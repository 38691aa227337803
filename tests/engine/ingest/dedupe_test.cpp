// Tests for onboard::dedupe_set and hash128: set semantics against std::set through growth,
// tags, pre-seeding; pinned hash values, case folding against a plain reference, and the SSE2
// and portable builds of the hash agreeing.
#include <onboard/ingest/dedupe.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>

// dedupe.cpp built without SSE2 (tests/CMakeLists.txt renames its namespace).
namespace onboard_portable {
struct dedupe_key {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
};
dedupe_key hash128(const void* data, std::size_t size) noexcept;
dedupe_key key_of(std::string_view normalised_email, bool case_sensitive_local) noexcept;
}  // namespace onboard_portable

namespace {

using onboard::dedupe_key;
using onboard::dedupe_set;

TEST(Dedupe, InsertAndContainsMatchStdSetThroughGrowth) {
  std::mt19937_64 rng(7);
  dedupe_set s;
  std::set<std::pair<std::uint64_t, std::uint64_t>> ref;
  for (int i = 0; i < 300000; ++i) {
    // Few distinct values so that repeats are common.
    std::string e = "user" + std::to_string(rng() % 200000) + "@example.com";
    dedupe_key k = onboard::key_of(e, false);
    bool fresh = ref.insert({k.lo, k.hi}).second;
    ASSERT_EQ(s.insert(k), fresh) << e;
  }
  EXPECT_EQ(s.size(), ref.size());
  for (int i = 0; i < 200000; ++i) {
    dedupe_key k = onboard::key_of("user" + std::to_string(i) + "@example.com", false);
    EXPECT_EQ(s.contains(k), ref.count({k.lo, k.hi}) == 1);
  }
  EXPECT_FALSE(s.contains(onboard::key_of("someone@else.com", false)));
  EXPECT_GT(s.memory_bytes(), s.size() * sizeof(dedupe_key));
  EXPECT_LT(s.memory_bytes(), s.size() * sizeof(dedupe_key) * 3);
}

TEST(Dedupe, TagsRememberTheFirstOccurrence) {
  dedupe_set s(true);
  auto k = onboard::key_of("a@x.com", false);
  std::uint64_t first = 0;
  EXPECT_TRUE(s.insert(k, 11, &first));
  EXPECT_FALSE(s.insert(k, 22, &first));
  EXPECT_EQ(first, 11u);
  for (int i = 0; i < 10000; ++i)
    s.insert(onboard::key_of("u" + std::to_string(i) + "@x.com", false), i);
  EXPECT_FALSE(s.insert(k, 33, &first));
  EXPECT_EQ(first, 11u);  // survives rehashing
  EXPECT_FALSE(s.insert(onboard::key_of("u77@x.com", false), 0, &first));
  EXPECT_EQ(first, 77u);
}

TEST(Dedupe, ZeroKeyReserveAndMove) {
  dedupe_set s;
  s.reserve(100000);
  EXPECT_TRUE(s.insert(dedupe_key{0, 0}));
  EXPECT_TRUE(s.contains(dedupe_key{0, 0}));
  EXPECT_FALSE(s.insert(dedupe_key{0, 0}));
  dedupe_set t = std::move(s);
  EXPECT_TRUE(t.contains(dedupe_key{0, 0}));
  EXPECT_EQ(t.size(), 1u);
}

// resident_bytes: this process's resident memory (/proc/self/statm).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST(Dedupe, ReserveWithoutFaultingInThenPrefaultInPartsFromTwoThreads) {
  dedupe_set s;
  s.reserve(4000000, /*fault_in=*/false);  // ~85 MB of slots
  const std::size_t table = s.memory_bytes();
  const std::size_t before = resident_bytes();
  std::thread other([&] { s.prefault(1, 2); });
  s.prefault(0, 2);
  other.join();
  // MADV_POPULATE_WRITE (Linux >= 5.14; Debian 12 has 6.1) makes the whole table resident.
  EXPECT_GE(resident_bytes() - before, table * 9 / 10) << "table " << table;
  std::set<std::pair<std::uint64_t, std::uint64_t>> ref;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t id = rng() % 150000;  // repeats are common
    const dedupe_key k = onboard::hash128(&id, sizeof id);
    ASSERT_EQ(s.insert(k), ref.insert({k.lo, k.hi}).second);
  }
  EXPECT_EQ(s.size(), ref.size());
}

TEST(Dedupe, HashIsStableAndSensitiveToEveryByteAndLength) {
  // Pinned below: the function must never change by accident (say, with the build's CPU flags).
  dedupe_key k = onboard::hash128("john@example.com", 16);
  EXPECT_EQ(k, onboard::hash128("john@example.com", 16));
  EXPECT_NE(onboard::hash128("", 0), onboard::hash128("\0", 1));
  EXPECT_NE(onboard::hash128("a", 1), onboard::hash128("a\0", 2));
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  std::string base = "abcdefghijklmnopqrstuvwxyz0123456789@example.com";
  for (std::size_t i = 0; i < base.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = base;
      m[i] = static_cast<char>(m[i] ^ (1 << bit));
      dedupe_key h = onboard::hash128(m.data(), m.size());
      EXPECT_TRUE(seen.insert({h.lo, h.hi}).second);
    }
  std::printf("hash128(\"john@example.com\") = %016llx%016llx\n",
              static_cast<unsigned long long>(k.hi), static_cast<unsigned long long>(k.lo));
}

TEST(Dedupe, HashAndKeysMatchPinnedValues) {
  // Pinned values: hash128, and key_of with and without case_sensitive_local, for lengths around
  // the word and block edges. The same with and without SSE2 (checked by building dedupe.cpp with
  // -U__SSE2__ when the hash was last changed, session 6).
  struct golden {
    const char* text;
    dedupe_key raw, folded, folded_domain;
  };
  const golden cases[] = {
      {"",
       {0x6c6b76f29411a4fbull, 0x574c36758d6ee1c7ull},
       {0x6c6b76f29411a4fbull, 0x574c36758d6ee1c7ull},
       {0x6c6b76f29411a4fbull, 0x574c36758d6ee1c7ull}},
      {"a",
       {0xbc64a3d5d0d71f73ull, 0xfbbe634344b23086ull},
       {0xbc64a3d5d0d71f73ull, 0xfbbe634344b23086ull},
       {0xbc64a3d5d0d71f73ull, 0xfbbe634344b23086ull}},
      {"john@example.com",
       {0x85215e92c0a50a5cull, 0xbfc9ad07f3e07de3ull},
       {0x85215e92c0a50a5cull, 0xbfc9ad07f3e07de3ull},
       {0x85215e92c0a50a5cull, 0xbfc9ad07f3e07de3ull}},
      {"John.Smith@Example.COM",
       {0x3083090f1a24ad45ull, 0xd5acfa0a8d01fae3ull},
       {0xdf2a97d7b9d30dffull, 0x298c3bc0d2c0165eull},
       {0xd4fdbae15ac2e293ull, 0x66edddf7f4bb091eull}},
      {"x@y.io",
       {0x570ab070031d6347ull, 0x449383cd62cbef48ull},
       {0x570ab070031d6347ull, 0x449383cd62cbef48ull},
       {0x570ab070031d6347ull, 0x449383cd62cbef48ull}},
      {"a.very.long.local.part.with.dots+tag@sub.domain.example.co.uk",
       {0x60ba5ed6a694bc9aull, 0x7ac472d02bbb9cefull},
       {0x60ba5ed6a694bc9aull, 0x7ac472d02bbb9cefull},
       {0x60ba5ed6a694bc9aull, 0x7ac472d02bbb9cefull}},
      {"MiXeD@CaSe.Org",
       {0xe72fbeffef617038ull, 0x983f8c3449c0077eull},
       {0xcf06678a33ff1fc6ull, 0x6356d5d02245448dull},
       {0x35e678513dd4e440ull, 0xd0cdb2d4614b4f7eull}},
      {"0123456789abcde",
       {0xf75d6a846df1b287ull, 0xc6b4a2bba260d302ull},
       {0xf75d6a846df1b287ull, 0xc6b4a2bba260d302ull},
       {0xf75d6a846df1b287ull, 0xc6b4a2bba260d302ull}},
      {"0123456789abcdef0",
       {0x73d16a290524a99bull, 0x1ba46d8e0802018eull},
       {0x73d16a290524a99bull, 0x1ba46d8e0802018eull},
       {0x73d16a290524a99bull, 0x1ba46d8e0802018eull}},
      {"first.middle.last.with.a.long.tag+newsletters@mail.subdomain.Example.ORG",
       {0x1ccabeb78697a73full, 0x2dfc02010849e9daull},
       {0x82e191a313fe8b91ull, 0x0c81a3289df1b120ull},
       {0x82e191a313fe8b91ull, 0x0c81a3289df1b120ull}},
  };
  for (const auto& g : cases) {
    std::string_view t = g.text;
    EXPECT_EQ(onboard::hash128(t.data(), t.size()), g.raw) << t;
    EXPECT_EQ(onboard::key_of(t, false), g.folded) << t;
    EXPECT_EQ(onboard::key_of(t, true), g.folded_domain) << t;
  }
}

// random_text: bytes that exercise case folding at every position: letters of both cases, the
// bytes either side of 'A'..'Z' and 'a'..'z', '@', and bytes >= 0x80 (which fold to nothing).
std::string random_text(std::mt19937_64& rng) {
  static constexpr unsigned char alphabet[] = {'A', 'M', 'Z', 'a',  'q',  'z',  '@',  '[',  '`',
                                               '{', '.', '0', 0x80, 0xC1, 0xDA, 0xFA, 0xFF, 0x00};
  std::string s(rng() % 100, '\0');
  for (char& c : s) c = static_cast<char>(alphabet[rng() % sizeof alphabet]);
  return s;
}

std::string lower_from(std::string s, std::size_t from) {
  for (std::size_t i = from; i < s.size(); ++i)
    if (s[i] >= 'A' && s[i] <= 'Z') s[i] = static_cast<char>(s[i] - 'A' + 'a');
  return s;
}

TEST(Dedupe, KeysAreTheHashOfTheCaseFoldedText) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    std::string s = random_text(rng);
    std::string all = lower_from(s, 0);
    ASSERT_EQ(onboard::key_of(s, false), onboard::hash128(all.data(), all.size())) << i;
    std::size_t at = s.rfind('@');
    std::string domain = lower_from(s, at == std::string::npos ? 0 : at);
    ASSERT_EQ(onboard::key_of(s, true), onboard::hash128(domain.data(), domain.size())) << i;
  }
}

TEST(Dedupe, PortableBuildGivesTheSameKeys) {
  std::mt19937_64 rng(12);
  auto same = [](onboard_portable::dedupe_key p, dedupe_key k) {
    return p.lo == k.lo && p.hi == k.hi;
  };
  for (int i = 0; i < 200000; ++i) {
    std::string s = random_text(rng);
    const void* d = s.data();
    ASSERT_TRUE(same(onboard_portable::hash128(d, s.size()), onboard::hash128(d, s.size()))) << i;
    ASSERT_TRUE(same(onboard_portable::key_of(s, false), onboard::key_of(s, false))) << i;
    ASSERT_TRUE(same(onboard_portable::key_of(s, true), onboard::key_of(s, true))) << i;
  }
}

}  // namespace
