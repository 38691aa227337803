// dedupe.cpp: hash128 and the sharded linear-probing key table.
#include <onboard/ingest/dedupe.hpp>

#include <onboard/ingest/normalize.hpp>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace onboard {

namespace {

// u128: the compiler's 128-bit integer (GCC/Clang); __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t k0 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t k1 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t k2 = 0x165667B19E3779F9ull;
constexpr std::uint64_t k4 = 0xFF51AFD7ED558CCDull;
constexpr std::uint64_t k5 = 0xC4CEB9FE1A85EC53ull;
// The hash's block secrets (hexadecimal digits of pi: nothing up the sleeve), two per block.
constexpr std::uint64_t secret[8] = {
    0x243F6A8885A308D3ull, 0x13198A2E03707344ull, 0xA4093822299F31D0ull, 0x082EFA98EC4E6C89ull,
    0x452821E638D01377ull, 0xBE5466CF34E90C6Cull, 0xC0AC29B7C97C50DDull, 0x3F84D5B5B5470917ull};

// fold_mul: 64x64 -> 128 multiply, halves xored: a fast, well-mixing compression of two words.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) {
  u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

// fmix: a bijective finaliser (every bit of the input affects every bit of the output).
inline std::uint64_t fmix(std::uint64_t x) {
  x ^= x >> 33;
  x *= k4;
  x ^= x >> 33;
  x *= k5;
  x ^= x >> 33;
  return x;
}

inline std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::size_t slot_of(std::uint64_t lo, std::size_t cap) {
  return static_cast<std::size_t>((static_cast<u128>(lo) * cap) >> 64);
}

inline dedupe_key sanitize(dedupe_key k) {
  if (k.lo == 0) k.lo = 1;  // 0 marks an empty slot
  return k;
}

constexpr std::size_t huge_page = 2u << 20;
// Below this a block comes from calloc (the heap hands back memory it has already touched).
constexpr std::size_t mmap_min = 64u << 10;
// Every mmap'ed block is faulted in, writable, before the first insert (when allocated, or by
// prefault() after reserve(n, false)). Otherwise the first probe of each page reads it (mapping
// the shared zero page) and the first insert then writes it: a copy-on-write fault whose TLB
// shootdown interrupts every other thread of the process (the read thread, the senders) once per
// page. Random inserts touch every page of a table within its first few thousand keys anyway, so
// faulting lazily saves no memory; and for the huge pages of a large table it was measured to
// make a fresh process's ingest of 10M lines bimodal: 1.47-1.53 s in half the runs against
// 0.92-1.00 s with the table populated up front. That costs ~0.03 s for 190 MB of memory freed a
// moment before, but 0.2-0.5 s for memory that has been free for a few seconds: this KVM guest
// reports free 2 MiB blocks to the host (virtio-balloon free page reporting), which then backs
// them afresh when they are touched again. A fresh process's table is usually such memory, hence
// prefault() for sharing the cost between threads.

// populate: faults in `len` bytes at p, writable (best effort: Linux >= 5.14).
void populate(void* p, std::size_t len) {
#ifdef MADV_POPULATE_WRITE
  ::madvise(p, len, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)len;
#endif
}

std::size_t mapped_bytes(std::size_t bytes) {
  const std::size_t unit = bytes >= huge_page ? huge_page : 4096;
  return (bytes + unit - 1) & ~(unit - 1);
}

// alloc_zeroed: zeroed memory for n T's. Big blocks are mmap'ed and marked for transparent huge
// pages: a lookup in a 200 MB table is a TLB miss with 4 KiB pages (a two-level walk under a
// hypervisor), which also makes software prefetches stall; 2 MiB pages remove most of that.
template <class T>
T* alloc_zeroed(std::size_t n, bool fault_in) {
  const std::size_t bytes = n * sizeof(T);
  if (bytes < mmap_min) {
    void* p = std::calloc(n, sizeof(T));
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  const std::size_t len = mapped_bytes(bytes);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (bytes >= huge_page) ::madvise(p, len, MADV_HUGEPAGE);
#endif
  if (fault_in) populate(p, len);
  return static_cast<T*>(p);
}

// prefault_block: what alloc_zeroed(n, true) would have faulted in.
template <class T>
void prefault_block(T* p, std::size_t n) {
  const std::size_t bytes = n * sizeof(T);
  if (p && bytes >= mmap_min) populate(p, mapped_bytes(bytes));
}

template <class T>
void free_zeroed(T* p, std::size_t n) noexcept {
  if (!p) return;
  const std::size_t bytes = n * sizeof(T);
  if (bytes < mmap_min) {
    std::free(p);
    return;
  }
  ::munmap(p, mapped_bytes(bytes));
}

// lower_ascii: `w` with its bytes 'A'..'Z' turned to 'a'..'z' (eight at a time; bytes >= 0x80
// are left alone).
inline std::uint64_t lower_ascii(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t high = 0x8080808080808080ull;
  std::uint64_t h = w & ~high;
  std::uint64_t ge_a = h + ones * (0x80 - 'A');
  std::uint64_t gt_z = h + ones * (0x80 - 'Z' - 1);
  std::uint64_t upper = ge_a & ~gt_z & ~w & high;
  return w | (upper >> 2);
}

// block: 16 bytes of text as two little-endian words.
struct block {
  std::uint64_t x = 0, y = 0;
};

#if defined(__SSE2__)
// lowered: the 16 bytes at p with 'A'..'Z' turned to 'a'..'z' where `which` has 0xFF; the same
// result as lower_ascii on both words, in four vector operations instead of twenty-odd.
inline block lowered(const unsigned char* p, __m128i which) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Adding 0x80 - 'A' moves exactly 'A'..'Z' to the bottom of the signed range.
  __m128i shifted = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - 'A')));
  __m128i upper = _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(0x80 + 26)));
  v = _mm_or_si128(v, _mm_and_si128(_mm_and_si128(upper, which), _mm_set1_epi8(0x20)));
  return {static_cast<std::uint64_t>(_mm_cvtsi128_si64(v)),
          static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v)))};
}
#endif

// Case-folding policies for hash_text: which bytes hash as lowercase. word() folds a word of the
// text starting at offset `at`, load() the block at p (offset `at`).
struct fold_none {
  std::uint64_t word(std::uint64_t w, std::size_t) const { return w; }
  block load(const unsigned char* p, std::size_t) const { return {load64(p), load64(p + 8)}; }
};

struct fold_all {
  std::uint64_t word(std::uint64_t w, std::size_t) const { return lower_ascii(w); }
  block load(const unsigned char* p, std::size_t) const {
#if defined(__SSE2__)
    return lowered(p, _mm_set1_epi8(-1));
#else
    return {lower_ascii(load64(p)), lower_ascii(load64(p + 8))};
#endif
  }
};

// fold_from: bytes from offset `from` on (the domain, for case_sensitive_local).
struct fold_from {
  std::size_t from;
  std::uint64_t word(std::uint64_t w, std::size_t at) const {
    if (at + 8 <= from) return w;
    std::uint64_t l = lower_ascii(w);
    if (at >= from) return l;
    std::uint64_t mask = ~0ull << (8 * (from - at));
    return (w & ~mask) | (l & mask);
  }
  block load(const unsigned char* p, std::size_t at) const {
#if defined(__SSE2__)
    // Lane i is folded when at + i >= from, i.e. i >= keep.
    const auto keep = static_cast<char>(from <= at ? 0 : std::min<std::size_t>(from - at, 16));
    const __m128i lane = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return lowered(p, _mm_cmpgt_epi8(lane, _mm_set1_epi8(static_cast<char>(keep - 1))));
#else
    return {word(load64(p), at), word(load64(p + 8), at + 8)};
#endif
  }
};

// hash_text: hash128 of the n bytes at p, case-folded as `fold` says.
//
// The text is read as 16-byte blocks at offsets 0, 16, 32... and a last one ending exactly at
// the end (overlapping the one before it when n is not a multiple of 16; at 16 bytes, the same
// block twice); a shorter text as two overlapping words, or one zero-padded word. With the
// length, which seeds both lanes, the blocks determine the text, and no byte is copied or handled
// alone. Each block is multiply-folded with its position's secrets into one 64-bit lane while its
// plain sum is xored into the other lane, the lanes alternating block by block: a difference that
// one multiply-fold happens to cancel still shows in the other lane, so distinct texts need two
// independent 64-bit coincidences to collide. Every block position has secrets of its own, so
// blocks cannot be swapped unnoticed. A 16-32-byte address, nearly every one, costs two
// independent 128-bit multiplies and the finaliser, a bijection of the 128-bit state.
template <class Fold>
dedupe_key hash_text(const unsigned char* p, std::size_t n, Fold fold) noexcept {
  static_assert(std::endian::native == std::endian::little, "word offsets assume little endian");
  std::uint64_t lo = k0 ^ n;
  std::uint64_t hi = k1 ^ (n * k2);
  auto absorb = [&](std::size_t i, block b) {
    // Blocks 4 and on (texts over 64 bytes) get the secrets varied by position as well.
    const std::uint64_t* s = secret + 2 * (i & 3);
    const std::uint64_t vary = (i >> 2) * k2;
    const std::uint64_t folded = fold_mul(b.x ^ s[0] ^ vary, b.y ^ s[1] ^ vary);
    if (i & 1) {
      hi += folded;
      lo ^= b.x + b.y;
    } else {
      lo += folded;
      hi ^= b.x + b.y;
    }
  };
  if (n - 16 <= 16) {  // unsigned: false under 16
    // 16-32 bytes: two blocks, with fixed positions, so no loop and no branch (at 16 bytes both
    // are the whole text).
    absorb(0, fold.load(p, 0));
    absorb(1, fold.load(p + n - 16, n - 16));
  } else if (n > 32) {
    const std::size_t last = n - 16;
    std::size_t i = 0;
    for (std::size_t at = 0; at < last; at += 16, ++i) absorb(i, fold.load(p + at, at));
    absorb(i, fold.load(p + last, last));
  } else if (n >= 8) {
    absorb(0, {fold.word(load64(p), 0), fold.word(load64(p + n - 8), n - 8)});
  } else {
    unsigned char w[8] = {};
    if (n) std::memcpy(w, p, n);
    absorb(0, {fold.word(load64(w), 0), 0});
  }
  // (lo + hi, hi ^ rotl(lo + hi, 32)) is a bijection of (lo, hi); the two fmix run side by side.
  const std::uint64_t sum = lo + hi;
  return {fmix(sum), fmix(hi ^ std::rotl(sum, 32))};
}

}  // namespace

dedupe_key hash128(const void* data, std::size_t size) noexcept {
  return hash_text(static_cast<const unsigned char*>(data), size, fold_none{});
}

dedupe_key key_of(std::string_view e, bool case_sensitive_local) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(e.data());
  if (case_sensitive_local) {
    std::size_t at = e.rfind('@');
    if (at != std::string_view::npos && at != 0) return hash_text(p, e.size(), fold_from{at});
  }
  return hash_text(p, e.size(), fold_all{});
}

dedupe_key in_account(const dedupe_key& k, const dedupe_key& a) noexcept {
  // Both halves mixed through fmix, each with the other account half, so that neither the
  // address nor the account can cancel out.
  return sanitize({fmix(k.lo ^ std::rotl(a.hi, 17) ^ a.lo), fmix(k.hi + a.lo * k4 + a.hi)});
}

dedupe_set::dedupe_set(bool track_tags)
    : shards_(std::make_unique<shard[]>(shard_count)), track_tags_(track_tags) {}

dedupe_set::~dedupe_set() { release(); }

dedupe_set::dedupe_set(dedupe_set&& o) noexcept
    : shards_(std::move(o.shards_)), size_(o.size_), track_tags_(o.track_tags_) {
  o.size_ = 0;
}

dedupe_set& dedupe_set::operator=(dedupe_set&& o) noexcept {
  if (this != &o) {
    release();
    shards_ = std::move(o.shards_);
    size_ = o.size_;
    track_tags_ = o.track_tags_;
    o.size_ = 0;
  }
  return *this;
}

void dedupe_set::release() noexcept {
  if (!shards_) return;
  for (std::size_t i = 0; i < shard_count; ++i) {
    free_zeroed(shards_[i].slots, shards_[i].cap);
    free_zeroed(shards_[i].tags, shards_[i].cap);
    shards_[i] = shard{};
  }
}

void dedupe_set::grow(shard& s, std::size_t new_cap, bool fault_in) {
  auto* slots = alloc_zeroed<dedupe_key>(new_cap, fault_in);
  std::uint64_t* tags = track_tags_ ? alloc_zeroed<std::uint64_t>(new_cap, fault_in) : nullptr;
  for (std::size_t i = 0; i < s.cap; ++i) {
    const dedupe_key& k = s.slots[i];
    if (k.lo == 0) continue;
    std::size_t j = slot_of(k.lo, new_cap);
    while (slots[j].lo != 0)
      if (++j == new_cap) j = 0;
    slots[j] = k;
    if (tags) tags[j] = s.tags[i];
  }
  free_zeroed(s.slots, s.cap);
  free_zeroed(s.tags, s.cap);
  s.slots = slots;
  s.tags = tags;
  s.cap = new_cap;
  s.limit = new_cap - new_cap / 4;
}

bool dedupe_set::insert(const dedupe_key& key, std::uint64_t tag, std::uint64_t* first_tag) {
  if (!shards_) shards_ = std::make_unique<shard[]>(shard_count);
  dedupe_key k = sanitize(key);
  shard& s = shards_[k.hi >> shard_shift];
  if (s.size >= s.limit) grow(s, s.cap < 16 ? 16 : s.cap + s.cap / 2, true);
  std::size_t i = slot_of(k.lo, s.cap);
  for (;;) {
    dedupe_key& slot = s.slots[i];
    if (slot.lo == 0) {
      slot = k;
      if (s.tags) s.tags[i] = tag;
      ++s.size;
      ++size_;
      return true;
    }
    if (slot.lo == k.lo && slot.hi == k.hi) {
      if (first_tag) *first_tag = s.tags ? s.tags[i] : 0;
      return false;
    }
    if (++i == s.cap) i = 0;
  }
}

bool dedupe_set::contains(const dedupe_key& key) const noexcept {
  if (!shards_) return false;
  dedupe_key k = sanitize(key);
  const shard& s = shards_[k.hi >> shard_shift];
  if (s.cap == 0) return false;
  std::size_t i = slot_of(k.lo, s.cap);
  for (;;) {
    const dedupe_key& slot = s.slots[i];
    if (slot.lo == 0) return false;
    if (slot.lo == k.lo && slot.hi == k.hi) return true;
    if (++i == s.cap) i = 0;
  }
}

void dedupe_set::prefetch(const dedupe_key& key) const noexcept {
  if (!shards_) return;
  dedupe_key k = sanitize(key);
  const shard& s = shards_[k.hi >> shard_shift];
  if (s.cap) __builtin_prefetch(s.slots + slot_of(k.lo, s.cap), 1, 3);
}

void dedupe_set::reserve(std::size_t n, bool fault_in) {
  if (!shards_) shards_ = std::make_unique<shard[]>(shard_count);
  std::size_t per = n / shard_count + 1;
  std::size_t cap = per + per / 3 + 16;  // keeps load under 75%
  for (std::size_t i = 0; i < shard_count; ++i)
    if (shards_[i].cap < cap) grow(shards_[i], cap, fault_in);
}

void dedupe_set::prefault(std::size_t part, std::size_t parts) const {
  if (!shards_ || parts == 0 || part >= parts) return;
  for (std::size_t i = part * shard_count / parts; i < (part + 1) * shard_count / parts; ++i) {
    prefault_block(shards_[i].slots, shards_[i].cap);
    prefault_block(shards_[i].tags, shards_[i].cap);
  }
}

std::size_t dedupe_set::memory_bytes() const noexcept {
  std::size_t b = 0;
  if (!shards_) return 0;
  for (std::size_t i = 0; i < shard_count; ++i)
    b += shards_[i].cap * (sizeof(dedupe_key) + (track_tags_ ? 8 : 0));
  return b;
}

}  // namespace onboard
