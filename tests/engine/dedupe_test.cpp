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

TEST(Dedupe, HashAndKeysMatchPinnedValues) {
  // Pinned values (computed before the hash was rewritten for speed): hash128, and key_of with
  // and without case_sensitive_local, for lengths around the 16-byte block edges.
  struct golden {
    const char* text;
    dedupe_key raw, folded, folded_domain;
  };
  const golden cases[] = {
      {"", {0xbde6b82e5007a111ull, 0x4fc5164581d3612cull}, {0xbde6b82e5007a111ull, 0x4fc5164581d3612cull}, {0xbde6b82e5007a111ull, 0x4fc5164581d3612cull}},
      {"a", {0x9973df5f25c07784ull, 0x20d522f5860fba55ull}, {0x9973df5f25c07784ull, 0x20d522f5860fba55ull}, {0x9973df5f25c07784ull, 0x20d522f5860fba55ull}},
      {"john@example.com", {0x8f83256d649ba84eull, 0x88162f8d81d26216ull}, {0x8f83256d649ba84eull, 0x88162f8d81d26216ull}, {0x8f83256d649ba84eull, 0x88162f8d81d26216ull}},
      {"John.Smith@Example.COM", {0x141d054d1ede2852ull, 0x945167786381c833ull}, {0xfef927ee6414eaa2ull, 0xe4a1714deb63c194ull}, {0x909b64708479e34full, 0x0c58ca301b6fe906ull}},
      {"x@y.io", {0x1f31d002fa4abc60ull, 0xca5cbfac02746fe1ull}, {0x1f31d002fa4abc60ull, 0xca5cbfac02746fe1ull}, {0x1f31d002fa4abc60ull, 0xca5cbfac02746fe1ull}},
      {"a.very.long.local.part.with.dots+tag@sub.domain.example.co.uk", {0x3b5a1409aaf8a342ull, 0x6276fba01086fd28ull}, {0x3b5a1409aaf8a342ull, 0x6276fba01086fd28ull}, {0x3b5a1409aaf8a342ull, 0x6276fba01086fd28ull}},
      {"MiXeD@CaSe.Org", {0x4b8ba13ffd44b180ull, 0xe3215c813102e107ull}, {0xc555a91aebdf3daeull, 0xb0b28e82920323c5ull}, {0xb2c73c32ba77c4d4ull, 0x3bd11377fd8891deull}},
      {"0123456789abcde", {0x17431868a979a92aull, 0x623798a35a1ffd8dull}, {0x17431868a979a92aull, 0x623798a35a1ffd8dull}, {0x17431868a979a92aull, 0x623798a35a1ffd8dull}},
      {"0123456789abcdef0", {0x9f79c29db8f1f936ull, 0x3ad9b12079b3c781ull}, {0x9f79c29db8f1f936ull, 0x3ad9b12079b3c781ull}, {0x9f79c29db8f1f936ull, 0x3ad9b12079b3c781ull}},
  };
  for (const auto& g : cases) {
    std::string_view t = g.text;
    EXPECT_EQ(onboard::hash128(t.data(), t.size()), g.raw) << t;
    EXPECT_EQ(onboard::key_of(t, false), g.folded) << t;
    EXPECT_EQ(onboard::key_of(t, true), g.folded_domain) << t;
  }
}

}  // namespace
