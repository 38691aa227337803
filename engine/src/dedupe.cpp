// dedupe.cpp: hash128 and the sharded linear-probing key table.
#include <onboard/engine/dedupe.hpp>

#include <onboard/engine/normalize.hpp>

#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sys/mman.h>
#include <string>

namespace onboard {

namespace {

// u128: the compiler's 128-bit integer (GCC/Clang); __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 u128;

constexpr std::uint64_t k0 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t k1 = 0xC2B2AE3D27D4EB4Full;
constexpr std::uint64_t k2 = 0x165667B19E3779F9ull;
constexpr std::uint64_t k3 = 0xD6E8FEB86659FD93ull;
constexpr std::uint64_t k4 = 0xFF51AFD7ED558CCDull;
constexpr std::uint64_t k5 = 0xC4CEB9FE1A85EC53ull;

inline std::uint64_t rotl(std::uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// fold: 64x64 -> 128 multiply, halves xored: a fast, well-mixing compression of two words.
inline std::uint64_t fold(std::uint64_t a, std::uint64_t b) {
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
// Every mmap'ed block is faulted in, writable, when allocated. Otherwise the first probe of each
// page reads it (mapping the shared zero page) and the first insert then writes it: a
// copy-on-write fault whose TLB shootdown interrupts every other thread of the process (the read
// thread, the senders) once per page. Random inserts touch every page of a table within its
// first few thousand keys anyway, so faulting lazily saves no memory; and for the huge pages of a
// large table it was measured to make a fresh process's ingest of 10M lines bimodal: 1.47-1.53 s
// in half the runs against 0.92-1.00 s with the table populated up front (which costs ~0.02-0.05 s
// of the 0.8-1.0 s, and overlaps the read thread's start, see ingest.cpp).

std::size_t mapped_bytes(std::size_t bytes) {
  const std::size_t unit = bytes >= huge_page ? huge_page : 4096;
  return (bytes + unit - 1) & ~(unit - 1);
}

// alloc_zeroed: zeroed memory for n T's. Big blocks are mmap'ed and marked for transparent huge
// pages: a lookup in a 200 MB table is a TLB miss with 4 KiB pages (a two-level walk under a
// hypervisor), which also makes software prefetches stall; 2 MiB pages remove most of that.
template <class T>
T* alloc_zeroed(std::size_t n) {
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
#ifdef MADV_POPULATE_WRITE
  ::madvise(p, len, MADV_POPULATE_WRITE);  // best effort (Linux >= 5.14)
#endif
  return static_cast<T*>(p);
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

// tail_words: the last 1..15 bytes p[0, n) of a string of `size` bytes, zero-padded to two
// words. When the string is at least 16 bytes long, the 16 bytes ending at its end are loaded and
// shifted, instead of copied byte by byte; the result is the same.
inline void tail_words(const unsigned char* p, std::size_t n, std::size_t size, std::uint64_t& x,
                       std::uint64_t& y) {
  if (size >= 16) {
    u128 v = (static_cast<u128>(load64(p + n - 8)) << 64) | load64(p + n - 16);
    v >>= 8 * (16 - n);
    x = static_cast<std::uint64_t>(v);
    y = static_cast<std::uint64_t>(v >> 64);
    return;
  }
  unsigned char tail[16] = {};
  std::memcpy(tail, p, n);
  x = load64(tail);
  y = load64(tail + 8);
}

// hash_words: hash128 of `p` with each word passed through fold(word, offset) first, so callers
// can hash a case-folded view of the text without copying it. Templated on the fold so that the
// all-bytes and no-bytes cases carry no per-word branches.
template <class Fold>
dedupe_key hash_words(const unsigned char* p, std::size_t size, Fold fold_word) noexcept {
  static_assert(std::endian::native == std::endian::little, "byte masks assume little endian");
  std::size_t n = size;
  std::size_t off = 0;
  std::uint64_t a = k0 ^ (size * k2);
  std::uint64_t b = k1 + size;
  auto block = [&](std::uint64_t x, std::uint64_t y) {
    a = fold(x ^ k2 ^ a, y ^ k3);
    b ^= x * k4;
    b = rotl(b, 31) * k5;
    b ^= y * k1;
    b = rotl(b, 27) * k0 + 0x52DCE729u;
  };
  while (n >= 16) {
    block(fold_word(load64(p), off), fold_word(load64(p + 8), off + 8));
    p += 16;
    off += 16;
    n -= 16;
  }
  if (n > 0) {
    std::uint64_t x, y;
    tail_words(p, n, size, x, y);
    block(fold_word(x, off), fold_word(y, off + 8));
  }
  std::uint64_t hi = fmix(b ^ k3);
  std::uint64_t lo = fmix(a ^ rotl(hi, 17));
  return {lo, hi};
}

// hash_folded: hash128 of `p` as if bytes from `fold_from` on were lowercased.
dedupe_key hash_folded(const unsigned char* p, std::size_t size, std::size_t fold_from) noexcept {
  if (fold_from == 0) return hash_words(p, size, [](std::uint64_t w, std::size_t) { return lower_ascii(w); });
  if (fold_from >= size) return hash_words(p, size, [](std::uint64_t w, std::size_t) { return w; });
  return hash_words(p, size, [fold_from](std::uint64_t w, std::size_t at) {
    if (at + 8 <= fold_from) return w;
    std::uint64_t l = lower_ascii(w);
    if (at >= fold_from) return l;
    std::uint64_t mask = ~0ull << (8 * (fold_from - at));
    return (w & ~mask) | (l & mask);
  });
}

}  // namespace

dedupe_key hash128(const void* data, std::size_t size) noexcept {
  return hash_folded(static_cast<const unsigned char*>(data), size, static_cast<std::size_t>(-1));
}

dedupe_key key_of(std::string_view e, bool case_sensitive_local) noexcept {
  std::size_t from = 0;
  if (case_sensitive_local) {
    std::size_t at = e.rfind('@');
    if (at != std::string_view::npos) from = at;
  }
  return hash_folded(reinterpret_cast<const unsigned char*>(e.data()), e.size(), from);
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

void dedupe_set::grow(shard& s, std::size_t new_cap) {
  auto* slots = alloc_zeroed<dedupe_key>(new_cap);
  std::uint64_t* tags = track_tags_ ? alloc_zeroed<std::uint64_t>(new_cap) : nullptr;
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
  if (s.size >= s.limit) grow(s, s.cap < 16 ? 16 : s.cap + s.cap / 2);
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

void dedupe_set::reserve(std::size_t n) {
  if (!shards_) shards_ = std::make_unique<shard[]>(shard_count);
  std::size_t per = n / shard_count + 1;
  std::size_t cap = per + per / 3 + 16;  // keeps load under 75%
  for (std::size_t i = 0; i < shard_count; ++i)
    if (shards_[i].cap < cap) grow(shards_[i], cap);
}

std::size_t dedupe_set::memory_bytes() const noexcept {
  std::size_t b = 0;
  if (!shards_) return 0;
  for (std::size_t i = 0; i < shard_count; ++i)
    b += shards_[i].cap * (sizeof(dedupe_key) + (track_tags_ ? 8 : 0));
  return b;
}

}  // namespace onboard
