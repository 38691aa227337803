// verifier.cpp: server-side SigV4 checks for the emulator. Every refusal names its reason and
// never echoes secret material; the canonical request is rebuilt from the SignedHeaders only.
#include <onboard/signing/sigv4.hpp>

#include "canonical.hpp"
#include "crypto.hpp"

#include <openssl/crypto.h>

#include <algorithm>

namespace onboard::signing {
namespace {

using detail::iequals;

std::string_view trim(std::string_view s) {
  while (!s.empty() && detail::is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && detail::is_space(s.back())) s.remove_suffix(1);
  return s;
}

const header_view* find_header(const request_view& req, std::string_view name) {
  for (const auto& h : req.headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

// printable: a bounded, control-free copy of client input for messages.
std::string printable(std::string_view s, std::size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  if (s.size() > max) out += "...";
  return out;
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// parse_http_date: RFC 7231 IMF-fixdate ("Sun, 30 Aug 2015 12:36:00 GMT"), the form a `Date`
// header carries when a client signs with it instead of X-Amz-Date.
std::optional<clock::time_point> parse_http_date(std::string_view s) {
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  s = trim(s);
  if (s.size() != 29 || s[3] != ',' || s.substr(25) != " GMT") return std::nullopt;
  std::string_view dd = s.substr(5, 2), mon = s.substr(8, 3), yyyy = s.substr(12, 4);
  std::string_view hh = s.substr(17, 2), mi = s.substr(20, 2), ss = s.substr(23, 2);
  if (s[19] != ':' || s[22] != ':') return std::nullopt;
  auto m = std::find(std::begin(months), std::end(months), mon);
  if (m == std::end(months)) return std::nullopt;
  int month_no = static_cast<int>(m - std::begin(months)) + 1;
  std::string buf;
  buf.reserve(16);
  buf.append(yyyy).push_back(char('0' + month_no / 10));
  buf.push_back(char('0' + month_no % 10));
  buf.append(dd).append("T").append(hh).append(mi).append(ss).append("Z");
  return parse_amz_date(buf);
}

}  // namespace

std::string_view verify_error_name(verify_error e) {
  switch (e) {
    case verify_error::ok: return "ok";
    case verify_error::missing_authorization: return "missing_authorization";
    case verify_error::malformed_authorization: return "malformed_authorization";
    case verify_error::unsupported_algorithm: return "unsupported_algorithm";
    case verify_error::missing_date: return "missing_date";
    case verify_error::malformed_date: return "malformed_date";
    case verify_error::request_expired: return "request_expired";
    case verify_error::scope_date_mismatch: return "scope_date_mismatch";
    case verify_error::wrong_region: return "wrong_region";
    case verify_error::wrong_service: return "wrong_service";
    case verify_error::bad_scope_terminator: return "bad_scope_terminator";
    case verify_error::unknown_access_key: return "unknown_access_key";
    case verify_error::host_not_signed: return "host_not_signed";
    case verify_error::signed_header_missing: return "signed_header_missing";
    case verify_error::missing_security_token: return "missing_security_token";
    case verify_error::signature_mismatch: return "signature_mismatch";
  }
  return "unknown";
}

std::optional<parsed_authorization> parse_authorization(std::string_view value, std::string* why) {
  auto fail = [&](std::string m) -> std::optional<parsed_authorization> {
    if (why) *why = std::move(m);
    return std::nullopt;
  };
  value = trim(value);
  std::size_t sp = value.find(' ');
  std::string_view alg = value.substr(0, sp);
  if (alg != detail::algorithm)
    return fail("algorithm '" + printable(alg) + "' is not " + std::string(detail::algorithm));
  if (sp == std::string_view::npos)
    return fail("Authorization has no Credential, SignedHeaders, Signature");
  std::string_view rest = value.substr(sp + 1);

  std::optional<std::string_view> credential, signed_headers, signature;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view part = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos)
      return fail("Authorization component '" + printable(part) + "' is not name=value");
    std::string_view k = part.substr(0, eq), v = part.substr(eq + 1);
    std::optional<std::string_view>* slot = k == "Credential"      ? &credential
                                            : k == "SignedHeaders" ? &signed_headers
                                            : k == "Signature"     ? &signature
                                                                   : nullptr;
    if (!slot) return fail("Authorization has unknown component '" + printable(k) + "'");
    if (*slot) return fail("Authorization repeats '" + std::string(k) + "'");
    *slot = v;
  }
  if (!credential) return fail("Authorization lacks Credential=");
  if (!signed_headers) return fail("Authorization lacks SignedHeaders=");
  if (!signature) return fail("Authorization lacks Signature=");

  parsed_authorization pa;
  // The scope is the last four '/'-separated fields; whatever precedes them is the key id.
  std::string_view cred = *credential;
  std::string_view fields[4];
  for (int i = 3; i >= 0; --i) {
    std::size_t slash = cred.rfind('/');
    if (slash == std::string_view::npos)
      return fail("Credential '" + printable(*credential) +
                  "' is not <key id>/<date>/<region>/<service>/aws4_request");
    fields[i] = cred.substr(slash + 1);
    cred = cred.substr(0, slash);
  }
  if (cred.empty()) return fail("Credential has an empty access key id");
  if (fields[0].size() != 8 || !all_digits(fields[0]))
    return fail("Credential scope date '" + printable(fields[0]) + "' is not yyyymmdd");
  pa.access_key_id = cred;
  pa.date = fields[0];
  pa.region = fields[1];
  pa.service = fields[2];
  pa.terminator = fields[3];

  std::string_view sh = *signed_headers;
  while (!sh.empty()) {
    std::size_t semi = sh.find(';');
    std::string_view name = sh.substr(0, semi);
    sh = semi == std::string_view::npos ? std::string_view{} : sh.substr(semi + 1);
    if (name.empty()) return fail("SignedHeaders has an empty name");
    std::string lower;
    detail::append_lower(lower, name);
    pa.signed_headers.push_back(std::move(lower));
  }
  if (pa.signed_headers.empty()) return fail("SignedHeaders is empty");

  std::string_view sig = *signature;
  if (sig.size() != 64 || !std::all_of(sig.begin(), sig.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      }))
    return fail("Signature is not 64 hex digits");
  for (char c : sig) pa.signature.push_back(detail::to_lower(c));
  return pa;
}

verifier::verifier(std::vector<credentials> accepted, std::string region, std::string service,
                   std::chrono::seconds max_skew)
    : accepted_(std::move(accepted)), region_(std::move(region)), service_(std::move(service)),
      max_skew_(max_skew) {}

verify_result verifier::verify(const request_view& req, clock::time_point now) const {
  verify_result r;
  auto fail = [&r](verify_error e, std::string message) {
    r.error = e;
    r.message = std::move(message);
    return r;
  };

  const header_view* auth = find_header(req, "authorization");
  if (!auth) return fail(verify_error::missing_authorization, "no Authorization header");
  std::string_view av = trim(auth->value);
  std::string_view alg = av.substr(0, av.find(' '));
  if (alg != detail::algorithm)
    return fail(verify_error::unsupported_algorithm,
                "Authorization algorithm '" + printable(alg) + "' is not AWS4-HMAC-SHA256");
  std::string why;
  auto pa = parse_authorization(av, &why);
  if (!pa) return fail(verify_error::malformed_authorization, "malformed Authorization: " + why);
  r.access_key_id = pa->access_key_id;

  // The request time: X-Amz-Date, else Date (as botocore signs when a Date header is present).
  char amz_buf[16];
  std::string_view amz;
  std::optional<clock::time_point> when;
  if (const header_view* xd = find_header(req, "x-amz-date")) {
    amz = trim(xd->value);
    when = parse_amz_date(amz);
    if (!when)
      return fail(verify_error::malformed_date,
                  "X-Amz-Date '" + printable(amz) + "' is not YYYYMMDDTHHMMSSZ");
  } else if (const header_view* d = find_header(req, "date")) {
    when = parse_http_date(d->value);
    if (!when)
      return fail(verify_error::malformed_date,
                  "Date '" + printable(d->value) + "' is not an RFC 7231 date");
    detail::format_amz_date(*when, amz_buf);
    amz = std::string_view(amz_buf, sizeof amz_buf);
  } else {
    return fail(verify_error::missing_date, "neither X-Amz-Date nor Date is present");
  }

  if (pa->date != amz.substr(0, 8))
    return fail(verify_error::scope_date_mismatch, "credential scope date " + pa->date +
                                                       " does not match the request date " +
                                                       std::string(amz));
  if (pa->region != region_)
    return fail(verify_error::wrong_region,
                "credential scope region '" + printable(pa->region) + "' is not '" + region_ + "'");
  if (pa->service != service_)
    return fail(verify_error::wrong_service, "credential scope service '" + printable(pa->service) +
                                                 "' is not '" + service_ + "'");
  if (pa->terminator != "aws4_request")
    return fail(
        verify_error::bad_scope_terminator,
        "credential scope ends in '" + printable(pa->terminator) + "' instead of aws4_request");

  auto cred = std::find_if(accepted_.begin(), accepted_.end(), [&](const credentials& c) {
    return c.access_key_id == pa->access_key_id;
  });
  if (cred == accepted_.end())
    return fail(verify_error::unknown_access_key,
                "access key id '" + printable(pa->access_key_id) + "' is not known");

  // The wording of AWS's front end, which clients (ours included) recognise as a clock problem.
  const std::string window = std::to_string(max_skew_.count() / 60) + " min.)";
  if (*when < now - max_skew_)
    return fail(verify_error::request_expired,
                "Signature expired: " + std::string(amz) + " is now earlier than " +
                    amz_date(now - max_skew_) + " (" + amz_date(now) + " - " + window);
  if (*when > now + max_skew_)
    return fail(verify_error::request_expired,
                "Signature not yet current: " + std::string(amz) + " is still later than " +
                    amz_date(now + max_skew_) + " (" + amz_date(now) + " + " + window);

  if (std::find(pa->signed_headers.begin(), pa->signed_headers.end(), "host") ==
      pa->signed_headers.end())
    return fail(verify_error::host_not_signed, "host is not in SignedHeaders");
  for (const auto& name : pa->signed_headers)
    if (!find_header(req, name))
      return fail(verify_error::signed_header_missing,
                  "signed header '" + printable(name) + "' is not in the request");

  if (!cred->session_token.empty()) {
    const header_view* tok = find_header(req, "x-amz-security-token");
    const std::string& want = cred->session_token.reveal();
    if (!tok)
      return fail(verify_error::missing_security_token,
                  "access key id '" + pa->access_key_id + "' needs X-Amz-Security-Token");
    std::string_view got = trim(tok->value);
    if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0)
      return fail(verify_error::missing_security_token,
                  "X-Amz-Security-Token does not match the session of access key id '" +
                      pa->access_key_id + "'");
  }

  // Payload hash: the declared x-amz-content-sha256 when sent (it must describe this body).
  char body_hex[64];
  std::string_view payload;
  {
    detail::digest d;
    detail::sha256(req.body, d);
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < d.size(); ++i) {
      body_hex[2 * i] = digits[d[i] >> 4];
      body_hex[2 * i + 1] = digits[d[i] & 0xf];
    }
    payload = std::string_view(body_hex, sizeof body_hex);
  }
  if (const header_view* cs = find_header(req, "x-amz-content-sha256")) {
    std::string_view declared = trim(cs->value);
    if (declared != "UNSIGNED-PAYLOAD" && declared != payload)
      return fail(verify_error::signature_mismatch,
                  "x-amz-content-sha256 does not match the SHA-256 of the body");
    payload = declared;
  }

  // Stage 1 from the signed headers only, in the order listed.
  thread_local std::string canonical, sts, scope;
  std::string_view path, query;
  detail::split_target(req.target, path, query);
  canonical.clear();
  canonical.append(req.method);
  canonical.push_back('\n');
  detail::append_canonical_path(canonical, path, true, true);
  canonical.push_back('\n');
  detail::append_canonical_query(canonical, query);
  canonical.push_back('\n');
  for (const auto& name : pa->signed_headers) {
    canonical.append(name);
    canonical.push_back(':');
    bool first = true;
    for (const auto& h : req.headers) {
      if (!iequals(h.name, name)) continue;
      if (!first) canonical.push_back(',');
      first = false;
      detail::append_trimmed_value(canonical, h.value);
    }
    canonical.push_back('\n');
  }
  canonical.push_back('\n');
  for (std::size_t i = 0; i < pa->signed_headers.size(); ++i) {
    if (i) canonical.push_back(';');
    canonical.append(pa->signed_headers[i]);
  }
  canonical.push_back('\n');
  canonical.append(payload);

  scope.clear();
  scope.append(pa->date).append("/").append(region_).append("/").append(service_).append(
      "/aws4_request");
  sts.clear();
  detail::append_string_to_sign(sts, amz, scope, canonical);

  std::array<std::uint8_t, 32> key;
  {
    std::string cache_key = pa->access_key_id + "/" + pa->date;
    std::lock_guard lock(mu_);
    auto hit = std::find_if(key_cache_.begin(), key_cache_.end(),
                            [&](const auto& e) { return e.first == cache_key; });
    if (hit == key_cache_.end()) {
      // Bounded: a few dates per key are live at once; clearing wipes the old keys.
      if (key_cache_.size() >= 256) key_cache_.clear();
      key_cache_.emplace_back(
          cache_key, derive_signing_key(cred->secret_access_key, pa->date, region_, service_));
      hit = key_cache_.end() - 1;
    }
    key = hit->second.bytes();
  }
  detail::digest mac;
  detail::hmac_sha256_signing(key, sts, mac);
  detail::wipe(key.data(), key.size());
  std::string expected;
  expected.reserve(64);
  detail::append_hex(expected, mac.data(), mac.size());
  if (CRYPTO_memcmp(expected.data(), pa->signature.data(), 64) != 0)
    return fail(verify_error::signature_mismatch,
                "signature does not match for access key id '" + pa->access_key_id +
                    "' (check the secret key and that the request was not altered)");
  return r;
}

}  // namespace onboard::signing
