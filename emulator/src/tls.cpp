// tls.cpp: self-signed certificate generation with OpenSSL 3 APIs.
#include "tls.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace onboard::emulator::detail {

namespace {

template <auto Fn>
struct deleter {
  template <class T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("generating the self-signed certificate: ") + what);
}

void add_ext(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) fail(value);
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string slurp(const std::string& path, const char* flag) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(std::string(flag) + " " + path + ": cannot read the file");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

tls_identity generate_self_signed() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("EVP_EC_gen");
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), X509_VERSION_3);

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) fail("RAND_bytes");
  serial_bytes[0] &= 0x7F;  // a positive serial
  bn_ptr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    fail("serial");

  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("chime-onboard emulator"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  // CA:TRUE + keyCertSign lets the one certificate be the trust anchor; the key identifiers and
  // serverAuth keep strict verifiers (Python's VERIFY_X509_STRICT) happy too.
  add_ext(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  add_ext(cert.get(), NID_ext_key_usage, "serverAuth");
  add_ext(cert.get(), NID_subject_key_identifier, "hash");
  add_ext(cert.get(), NID_authority_key_identifier, "keyid:always");
  add_ext(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");

  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("X509_sign");

  tls_identity id;
  bio_ptr cb(BIO_new(BIO_s_mem()));
  if (!cb || !PEM_write_bio_X509(cb.get(), cert.get())) fail("PEM_write_bio_X509");
  id.cert_pem = bio_string(cb.get());
  bio_ptr kb(BIO_new(BIO_s_mem()));
  if (!kb || !PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
    fail("PEM_write_bio_PrivateKey");
  id.key_pem = bio_string(kb.get());
  return id;
}

tls_identity load_or_generate_identity(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() != key_file.empty())
    throw std::runtime_error("--cert and --key must be given together");
  if (cert_file.empty()) return generate_self_signed();
  return tls_identity{slurp(cert_file, "--cert"), slurp(key_file, "--key")};
}

}  // namespace onboard::emulator::detail
