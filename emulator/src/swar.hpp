// swar.hpp: byte tests on eight bytes at once ("SIMD within a register"), for the scans every
// address goes through (validation, JSON escaping, ledger escaping, case-folded hashing). Each
// test says whether *any* of the eight bytes qualifies; callers then look at single bytes only
// in the rare word that does.
//
//   std::size_t i = 0;
//   while (i + 8 <= s.size() && !swar::has_byte(swar::load(s.data() + i), '@')) i += 8;
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace onboard::emulator::detail::swar {

// every_byte: `b` in each of the eight bytes.
constexpr std::uint64_t every_byte(unsigned char b) { return 0x0101010101010101ull * b; }

// load: up to eight bytes from `p` (n <= 8); missing bytes are zero.
inline std::uint64_t load(const char* p, std::size_t n = 8) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  return w;
}

// has_zero: whether some byte of `w` is 0 (exact: borrows only follow a real zero byte).
constexpr bool has_zero(std::uint64_t w) {
  return ((w - every_byte(1)) & ~w & every_byte(0x80)) != 0;
}

// has_byte: whether some byte of `w` is `b`.
constexpr bool has_byte(std::uint64_t w, unsigned char b) { return has_zero(w ^ every_byte(b)); }

// has_byte_below: whether some byte of `w` is below `n` (n <= 0x80).
constexpr bool has_byte_below(std::uint64_t w, unsigned char n) {
  return ((w - every_byte(n)) & ~w & every_byte(0x80)) != 0;
}

// has_high_byte: whether some byte of `w` is 0x80 or above (not ASCII).
constexpr bool has_high_byte(std::uint64_t w) { return (w & every_byte(0x80)) != 0; }

// fold_ascii: `w` with every byte in 'A'..'Z' lowered; all other bytes, UTF-8 included, kept.
// Per byte: its low seven bits plus an offset sets the byte's top bit without carrying into the
// next byte, so "at least 'A'" and "above 'Z'" are two adds; ASCII-only is the original top bit.
constexpr std::uint64_t fold_ascii(std::uint64_t w) {
  const std::uint64_t low7 = w & every_byte(0x7F);
  const std::uint64_t at_least_a = low7 + every_byte(0x80 - 'A');
  const std::uint64_t above_z = low7 + every_byte(0x80 - 'Z' - 1);
  const std::uint64_t upper = at_least_a & ~above_z & ~w & every_byte(0x80);
  return w | (upper >> 2);  // 0x80 >> 2 is the 0x20 that lowers a letter
}

}  // namespace onboard::emulator::detail::swar
