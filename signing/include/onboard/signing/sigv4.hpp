// onboard/signing/sigv4.hpp: AWS Signature Version 4 as staged pure functions, a signer and a
// verifier.
//
// Every stage produces an artefact that can be compared with the AWS test suite's golden files:
//   canonical_request() -> string_to_sign() -> derive_signing_key() -> signature -> authorization.
// Time and credentials are always inputs; nothing here reads a clock or the environment.
//
//   #include <boost/beast/http/message.hpp>
//   #include <boost/beast/http/string_body.hpp>
//   // given: const credentials& creds, std::span<const header_view> headers, std::string body
//   // given: boost::beast::http::request<boost::beast::http::string_body>& beast_req
//   onboard::signing::signer s{creds, "us-east-1", "chime"};
//   request_view req{"POST", "/accounts/a/users?operation=add", headers, body};
//   for (auto& h : s.sign(req, std::chrono::system_clock::now())) beast_req.set(h.name, h.value);
#pragma once

#include <onboard/signing/credential_provider.hpp>
#include <onboard/signing/credentials.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::signing {

using clock = std::chrono::system_clock;

// header: one HTTP header line as sent (name case preserved; duplicates allowed).
struct header {
  std::string name;
  std::string value;
};

// header_view: non-owning form used on hot paths (the emulator verifies from Beast's buffers).
struct header_view {
  std::string_view name;
  std::string_view value;
};

// request_view: the parts of an HTTP/1.1 request that SigV4 covers. `target` is the request-target
// as on the wire: path plus optional `?query`, already percent-encoded by the sender.
struct request_view {
  std::string_view method;
  std::string_view target;
  std::span<const header_view> headers;
  std::string_view body;
};

// signing_params: what, besides the request and the key, determines a signature.
struct signing_params {
  std::string_view region;
  std::string_view service;
  clock::time_point time;
  bool normalize_path = true;       // false for S3-style services (and `sign --unnormalized-path`)
  bool double_encode_path = true;   // non-S3 services URI-encode the already-encoded path again
  bool add_content_sha256 = false;  // send and sign `x-amz-content-sha256`
};

// Stage 1. canonical_request: the SigV4 canonical request for `req`, signing every header in `req`
// (lower-cased names, sorted, values trimmed and inner whitespace folded, duplicates comma-joined).
// `payload_hash` is the lower-case hex SHA-256 of the body (or a literal such as UNSIGNED-PAYLOAD).
std::string canonical_request(const request_view& req, const signing_params& p,
                              std::string_view payload_hash);

// signed_header_names: the `SignedHeaders` list (lower-case, sorted, ';'-joined) for `req`.
std::string signed_header_names(const request_view& req);

// Stage 2. string_to_sign: "AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256(canonical)>".
std::string string_to_sign(std::string_view canonical, const signing_params& p);

// credential_scope: "<yyyymmdd>/<region>/<service>/aws4_request".
std::string credential_scope(const signing_params& p);

// amz_date: "YYYYMMDDTHHMMSSZ" for `t` (UTC); parse_amz_date is its inverse.
std::string amz_date(clock::time_point t);
std::optional<clock::time_point> parse_amz_date(std::string_view s);

// signing_key: a derived 32-byte HMAC key, wiped when destroyed.
class signing_key {
 public:
  signing_key() = default;
  explicit signing_key(const std::array<std::uint8_t, 32>& bytes) : bytes_(bytes) {}
  signing_key(const signing_key&) = default;
  signing_key& operator=(const signing_key&) = default;
  ~signing_key();
  const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, 32> bytes_{};
};

// Stage 3. derive_signing_key: HMAC chain "AWS4"+secret -> date -> region -> service ->
// aws4_request.
signing_key derive_signing_key(const secret_string& secret, std::string_view yyyymmdd,
                               std::string_view region, std::string_view service);

// signature_hex: lower-case hex HMAC-SHA256(key, string_to_sign).
std::string signature_hex(const signing_key& key, std::string_view string_to_sign);

// Stage 4. authorization_header: the value of the Authorization header.
std::string authorization_header(std::string_view access_key_id, const signing_params& p,
                                 std::string_view signed_headers, std::string_view signature);

// sha256_hex: lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// uri_encode: AWS URI encoding (RFC 3986 unreserved kept, everything else %XX upper-case);
// `keep_slash` leaves '/' as is (paths).
std::string uri_encode(std::string_view s, bool keep_slash);

// signing_artifacts: every intermediate of one signature, for tests and `chime-onboard sign`.
struct signing_artifacts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;
  std::vector<header>
      added_headers;  // X-Amz-Date, [X-Amz-Security-Token], [x-amz-content-sha256], Authorization
};

// sign_request: the whole pipeline. The headers SigV4 adds (X-Amz-Date, the session token,
// x-amz-content-sha256 when asked) are signed too; Authorization is last in `added_headers`.
signing_artifacts sign_request(const request_view& req, const credentials& creds,
                               const signing_params& p);

// signer: signs outgoing requests for one (credentials, region, service), caching the derived key
// per UTC date and credential set. Thread-safe. Each request is signed with one snapshot of the
// provider's credentials (key id, secret and token of the same set), refreshed as it decides.
class signer {
 public:
  signer(credentials creds, std::string region, std::string service);
  signer(std::shared_ptr<credential_provider> creds, std::string region, std::string service);

  // sign: the headers to add to `req` (Authorization last), signed at `now` + clock_offset().
  // `req` must already carry Host and every other header that should be signed. `used`, when
  // given, receives the snapshot signed with (what to hand back to
  // credential_provider::refresh_after_refusal).
  std::vector<header> sign(const request_view& req, clock::time_point now,
                           credentials_ptr* used = nullptr) const;

  // clock_offset: the service's clock minus ours, as learnt from the service when it refused a
  // signature as too old or too new. Kept here so that every sender sharing this signer signs
  // with the corrected time once one of them has learnt it.
  std::chrono::milliseconds clock_offset() const {
    return std::chrono::milliseconds(offset_ms_.load(std::memory_order_relaxed));
  }
  void set_clock_offset(std::chrono::milliseconds offset) const {
    offset_ms_.store(offset.count(), std::memory_order_relaxed);
  }

  std::string access_key_id() const { return provider_->current()->access_key_id; }
  const std::string& region() const { return region_; }
  credential_provider& credentials_source() const { return *provider_; }

 private:
  mutable std::atomic<std::int64_t> offset_ms_{0};
  std::shared_ptr<credential_provider> provider_;
  std::string region_;
  std::string service_;
  mutable std::mutex mu_;
  mutable credentials_ptr cached_for_;  // the set cached_key_ was derived from
  mutable std::string cached_date_;
  mutable signing_key cached_key_;
};

// verify_error: why a request's signature is refused. Each value is a distinct, reportable reason.
enum class verify_error {
  ok = 0,
  missing_authorization,    // no Authorization header
  malformed_authorization,  // the header does not parse (missing
                            // Credential/SignedHeaders/Signature)
  unsupported_algorithm,    // not AWS4-HMAC-SHA256
  missing_date,             // neither X-Amz-Date nor Date
  malformed_date,           // the date does not parse
  request_expired,          // outside the allowed clock skew (default 5 minutes)
  scope_date_mismatch,      // credential scope date is not the request date
  wrong_region,             // credential scope region is not ours
  wrong_service,            // credential scope service is not ours
  bad_scope_terminator,     // scope does not end in aws4_request
  unknown_access_key,       // the access key id is not accepted
  host_not_signed,          // `host` missing from SignedHeaders
  signed_header_missing,    // a header listed in SignedHeaders is absent from the request
  missing_security_token,   // the key needs a session token and none (or a wrong one) was sent
  signature_mismatch,       // the signature does not match (wrong secret, tampered request)
};

// verify_error_name: a stable snake_case name for logs and tests.
std::string_view verify_error_name(verify_error e);

// verify_result: the verdict and a human-readable message that never contains secret material.
struct verify_result {
  verify_error error = verify_error::ok;
  std::string message;
  std::string access_key_id;  // as parsed from the request (empty when unparseable)
  explicit operator bool() const { return error == verify_error::ok; }
};

// parsed_authorization: the fields of an AWS4-HMAC-SHA256 Authorization header.
struct parsed_authorization {
  std::string access_key_id;
  std::string date;  // scope date yyyymmdd
  std::string region;
  std::string service;
  std::string terminator;
  std::vector<std::string> signed_headers;  // lower-case, as listed
  std::string signature;                    // hex
};

// parse_authorization: parses an Authorization header value; nullopt (with `why` filled) if
// malformed.
std::optional<parsed_authorization> parse_authorization(std::string_view value, std::string* why);

// verifier: server-side check of incoming requests (the emulator). Thread-safe; caches derived
// keys.
class verifier {
 public:
  verifier(std::vector<credentials> accepted, std::string region, std::string service,
           std::chrono::seconds max_skew = std::chrono::minutes(5));

  verify_result verify(const request_view& req, clock::time_point now) const;

 private:
  struct key_entry;
  std::vector<credentials> accepted_;
  std::string region_;
  std::string service_;
  std::chrono::seconds max_skew_;
  mutable std::mutex mu_;
  mutable std::vector<std::pair<std::string, signing_key>> key_cache_;  // "akid/date" -> key
};

}  // namespace onboard::signing
