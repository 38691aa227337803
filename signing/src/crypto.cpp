// crypto.cpp: SHA-256 and HMAC-SHA256 over algorithms fetched once, contexts reused per thread.
#include "crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace onboard::signing::detail {
namespace {

// fetched_sha256: the provider's SHA-256, fetched once for the process (fetching is the
// expensive part of OpenSSL 3's convenience functions).
EVP_MD* fetched_sha256() {
  static EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) throw std::runtime_error("OpenSSL: SHA256 unavailable");
    return m;
  }();
  return md;
}

EVP_MAC* fetched_hmac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!m) throw std::runtime_error("OpenSSL: HMAC unavailable");
    return m;
  }();
  return mac;
}

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct mac_ctx_free {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// thread_md_ctx: one digest context per thread, reset by every EVP_DigestInit_ex2.
EVP_MD_CTX* thread_md_ctx() {
  thread_local std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx{EVP_MD_CTX_new()};
  if (!ctx) throw std::runtime_error("OpenSSL: EVP_MD_CTX_new failed");
  return ctx.get();
}

// new_hmac_ctx: an HMAC context with the digest set once, so each use only sets the key (setting
// the digest by name would fetch it again). OpenSSL cleanses the context when freed.
std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> new_hmac_ctx() {
  std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> c{EVP_MAC_CTX_new(fetched_hmac())};
  if (!c) throw std::runtime_error("OpenSSL: EVP_MAC_CTX_new failed");
  char name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0),
                         OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(c.get(), params) != 1)
    throw std::runtime_error("OpenSSL: cannot set HMAC digest");
  return c;
}

// thread_mac_ctx: the per-thread context for HMACs whose key changes on every call.
EVP_MAC_CTX* thread_mac_ctx() {
  thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> ctx = new_hmac_ctx();
  return ctx.get();
}

// keyed_mac: a per-thread HMAC context remembering which signing key it holds; the copy of the
// key is wiped when the thread ends.
struct keyed_mac {
  std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> ctx = new_hmac_ctx();
  std::array<std::uint8_t, 32> key{};
  bool has_key = false;
  ~keyed_mac() { OPENSSL_cleanse(key.data(), key.size()); }
};

}  // namespace

void sha256(std::string_view data, digest& out) {
  EVP_MD_CTX* c = thread_md_ctx();
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(c, fetched_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(c, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(c, out.data(), &len) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: SHA-256 failed");
}

void hmac_sha256(const void* key, std::size_t key_len, std::string_view msg, digest& out) {
  EVP_MAC_CTX* c = thread_mac_ctx();
  std::size_t len = 0;
  if (EVP_MAC_init(c, static_cast<const unsigned char*>(key), key_len, nullptr) != 1 ||
      EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1 ||
      EVP_MAC_final(c, out.data(), &len, out.size()) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
}

void hmac_sha256_signing(const std::array<std::uint8_t, 32>& key, std::string_view msg,
                         digest& out) {
  thread_local keyed_mac km;
  bool same = km.has_key && CRYPTO_memcmp(km.key.data(), key.data(), key.size()) == 0;
  int ok = same ? EVP_MAC_init(km.ctx.get(), nullptr, 0, nullptr)
                : EVP_MAC_init(km.ctx.get(), key.data(), key.size(), nullptr);
  if (ok != 1) throw std::runtime_error("OpenSSL: HMAC init failed");
  if (!same) {
    km.key = key;
    km.has_key = true;
  }
  std::size_t len = 0;
  if (EVP_MAC_update(km.ctx.get(), reinterpret_cast<const unsigned char*>(msg.data()),
                     msg.size()) != 1 ||
      EVP_MAC_final(km.ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    throw std::runtime_error("OpenSSL: HMAC-SHA256 failed");
}

void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::size_t at = out.size();
  out.resize(at + 2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out[at + 2 * i] = digits[bytes[i] >> 4];
    out[at + 2 * i + 1] = digits[bytes[i] & 0xf];
  }
}

void wipe(void* p, std::size_t n) noexcept { OPENSSL_cleanse(p, n); }

}  // namespace onboard::signing::detail
