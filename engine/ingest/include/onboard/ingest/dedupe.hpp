// onboard/ingest/dedupe.hpp: the set of addresses already seen in a run (or already done by an
// earlier run, when the journal pre-seeds it). Stores 128-bit hashes of the dedupe text, not the
// strings, in a flat open-addressing table: 10M addresses take ~200 MB instead of ~1 GB.
//
//   onboard::dedupe_set seen;
//   auto k = onboard::key_of("John@Example.com", /*case_sensitive_local=*/false);
//   seen.insert(k);                                          // true: first time
//   seen.contains(onboard::key_of("john@example.com", false)); // true
//
// The table is split into 16 shards by the key's top bits, each growing by 1.5x on its own, so
// growth never needs old and new copies of the whole table at once (peak memory stays within
// 1/16 of the steady state). Large shards live on transparent huge pages.
// A false "duplicate" needs two distinct addresses with equal 128-bit hashes: ~n²/2^129, i.e.
// 10^-25 for 10M addresses.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace onboard {

// dedupe_key: 128-bit hash of an address's dedupe text.
struct dedupe_key {
  std::uint64_t lo = 0;
  std::uint64_t hi = 0;
  friend bool operator==(const dedupe_key&, const dedupe_key&) = default;
};

// hash128: the project's own 128-bit hash (16-byte blocks multiply-folded into two 64-bit lanes;
// see dedupe.cpp). The same on every machine, with or without SSE2, and pinned by dedupe_test.
// Keys live only in memory (a resumed run rebuilds them from the journal's addresses), so the
// function may change between versions, never within one.
dedupe_key hash128(const void* data, std::size_t size) noexcept;

// key_of: key of a normalised address. The domain is always folded to lowercase, the local part
// too unless case_sensitive_local; so key_of(x) == key_of(dedupe_text(x)).
dedupe_key key_of(std::string_view normalised_email, bool case_sensitive_local) noexcept;

// in_account: the key of (account, address) from the address's key_of and the account's hash128.
// The identity of an address in a run spanning several accounts: the same address in two
// accounts is two addresses. A run keys its default account's addresses by key_of alone (so a
// single-account run's keys are unchanged) and every other account's with in_account; keys live
// only in memory, so the rule only has to hold within one run.
dedupe_key in_account(const dedupe_key& address_key, const dedupe_key& account_hash) noexcept;

// dedupe_set: insert-only set of keys, optionally remembering a 64-bit tag (where the key was
// first seen) per key.
class dedupe_set {
 public:
  // dedupe_set: `track_tags` reserves 8 more bytes per slot for insert()'s tag.
  explicit dedupe_set(bool track_tags = false);
  ~dedupe_set();
  dedupe_set(dedupe_set&&) noexcept;
  dedupe_set& operator=(dedupe_set&&) noexcept;
  dedupe_set(const dedupe_set&) = delete;
  dedupe_set& operator=(const dedupe_set&) = delete;

  // insert: true when `k` was not present. With track_tags, `tag` is stored with a new key and,
  // when the key was present, *first_tag (if given) receives the tag stored with it.
  bool insert(const dedupe_key& k, std::uint64_t tag = 0, std::uint64_t* first_tag = nullptr);

  // contains: whether `k` was inserted.
  bool contains(const dedupe_key& k) const noexcept;

  // prefetch: hint that `k` will be looked up soon (hides the cache miss of a large table).
  // Deliberately out of line: GCC 12 treats an inline body that only prefetches as free of side
  // effects and deletes the call outright. (The hot path's link-time inlining, see
  // cmake/OnboardTargets.cmake, keeps it: the prefetch is in ingest's disassembly.)
  void prefetch(const dedupe_key& k) const noexcept;

  // reserve: sizes the table for `n` keys in total, avoiding growth on the way. Its memory is
  // faulted in now, unless `fault_in` is false: then prefault() should cover every part before
  // the first insert (inserts are correct either way, only slower, see dedupe.cpp).
  void reserve(std::size_t n, bool fault_in = true);

  // prefault: faults in part `part` of `parts` (whole shards) of the reserved memory, so that
  // several threads can share the cost (0.2-0.5 s for 190 MB the host must back afresh). Safe to
  // call from another thread as long as nothing inserts meanwhile.
  void prefault(std::size_t part, std::size_t parts) const;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // memory_bytes: bytes held by the table.
  std::size_t memory_bytes() const noexcept;

 private:
  struct shard {
    dedupe_key* slots = nullptr;  // lo == 0 marks an empty slot (keys never have lo == 0)
    std::uint64_t* tags = nullptr;
    std::size_t cap = 0;
    std::size_t size = 0;
    std::size_t limit = 0;  // grow past this many keys (75% load)
  };
  static constexpr int shard_bits = 4;
  static constexpr int shard_shift = 64 - shard_bits;
  static constexpr std::size_t shard_count = std::size_t(1) << shard_bits;
  void grow(shard& s, std::size_t new_cap, bool fault_in);
  void release() noexcept;
  std::unique_ptr<shard[]> shards_;
  std::size_t size_ = 0;
  bool track_tags_ = false;
};

}  // namespace onboard
