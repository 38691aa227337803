// crypto.hpp (internal): the few OpenSSL primitives SigV4 needs, shaped for the hot path.
//
// OpenSSL 3's one-shot HMAC()/SHA256() fetch the algorithm on every call; signing at a few
// microseconds per request needs the algorithm fetched once and one context per thread reused.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace onboard::signing::detail {

using digest = std::array<std::uint8_t, 32>;

// sha256: SHA-256 of `data` into `out`.
void sha256(std::string_view data, digest& out);

// hmac_sha256: HMAC-SHA256(key, msg) into `out`.
void hmac_sha256(const void* key, std::size_t key_len, std::string_view msg, digest& out);

// hmac_sha256_signing: HMAC-SHA256 with a 32-byte signing key that is usually the same as on the
// previous call on this thread (the signer's cached key): the key schedule is then reused, which
// halves the cost of the final HMAC.
void hmac_sha256_signing(const std::array<std::uint8_t, 32>& key, std::string_view msg,
                         digest& out);

// append_hex: appends the lower-case hex form of `n` bytes.
void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n);

// wipe: OPENSSL_cleanse, so key material does not linger in freed memory.
void wipe(void* p, std::size_t n) noexcept;

}  // namespace onboard::signing::detail
