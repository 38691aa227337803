// sigv4.cpp: the public SigV4 stages, the whole-pipeline sign_request, and the caching signer.
#include <onboard/signing/sigv4.hpp>

#include "canonical.hpp"
#include "crypto.hpp"

#include <algorithm>

namespace onboard::signing {
namespace {

using detail::digest;

std::string_view scope_date(std::string_view amz) { return amz.substr(0, 8); }

void append_scope(std::string& out, std::string_view date8, std::string_view region,
                  std::string_view service) {
  out.append(date8);
  out.push_back('/');
  out.append(region);
  out.push_back('/');
  out.append(service);
  out.append("/aws4_request");
}

// stage_buffers: per-thread outputs of one run of the pipeline; reused so steady-state signing
// allocates only the headers it returns.
struct stage_buffers {
  std::vector<header_view> headers;
  std::string canonical;
  std::string scope;
  std::string signed_headers;
  std::string sts;
  std::string signature;
  std::string authorization;
};

stage_buffers& thread_buffers() {
  thread_local stage_buffers b;
  return b;
}

// replaced_by: whether a request header is one the signer sets itself (the caller's copy would
// otherwise be signed twice), or Authorization (never signed).
bool replaced_by(std::string_view name, std::span<const header_view> added) {
  if (detail::iequals(name, "authorization")) return true;
  return std::any_of(added.begin(), added.end(),
                     [&](const header_view& a) { return detail::iequals(name, a.name); });
}

// run_pipeline: stages 1 to 4 for `req` plus the `added` headers, into the thread's buffers.
stage_buffers& run_pipeline(const request_view& req, std::span<const header_view> added,
                            const signing_params& p, std::string_view amz,
                            std::string_view payload_hash, const std::array<std::uint8_t, 32>& key,
                            std::string_view access_key_id) {
  stage_buffers& b = thread_buffers();
  b.headers.clear();
  for (const auto& h : req.headers)
    if (!replaced_by(h.name, added)) b.headers.push_back(h);
  b.headers.insert(b.headers.end(), added.begin(), added.end());
  detail::sort_headers(b.headers);

  std::string_view path, query;
  detail::split_target(req.target, path, query);
  b.canonical.clear();
  b.canonical.append(req.method);
  b.canonical.push_back('\n');
  detail::append_canonical_path(b.canonical, path, p.normalize_path, p.double_encode_path);
  b.canonical.push_back('\n');
  detail::append_canonical_query(b.canonical, query);
  b.canonical.push_back('\n');
  detail::append_canonical_headers(b.canonical, b.headers);
  b.canonical.push_back('\n');
  b.signed_headers.clear();
  detail::append_signed_headers(b.signed_headers, b.headers);
  b.canonical.append(b.signed_headers);
  b.canonical.push_back('\n');
  b.canonical.append(payload_hash);

  b.scope.clear();
  append_scope(b.scope, scope_date(amz), p.region, p.service);
  b.sts.clear();
  detail::append_string_to_sign(b.sts, amz, b.scope, b.canonical);

  digest mac;
  detail::hmac_sha256_signing(key, b.sts, mac);
  b.signature.clear();
  detail::append_hex(b.signature, mac.data(), mac.size());

  b.authorization.clear();
  detail::append_authorization(b.authorization, access_key_id, b.scope, b.signed_headers,
                               b.signature);
  return b;
}

// added_headers_for: the headers SigV4 itself adds, in the order they are sent.
std::size_t added_headers_for(std::string_view amz, const credentials& creds,
                              const signing_params& p, std::string_view payload_hash,
                              std::array<header_view, 3>& out) {
  std::size_t n = 0;
  out[n++] = {"X-Amz-Date", amz};
  if (!creds.session_token.empty())
    out[n++] = {"X-Amz-Security-Token", creds.session_token.reveal()};
  if (p.add_content_sha256) out[n++] = {"x-amz-content-sha256", payload_hash};
  return n;
}

}  // namespace

std::string canonical_request(const request_view& req, const signing_params& p,
                              std::string_view payload_hash) {
  std::vector<header_view> hs(req.headers.begin(), req.headers.end());
  detail::sort_headers(hs);
  std::string_view path, query;
  detail::split_target(req.target, path, query);
  std::string out;
  out.reserve(256 + req.target.size());
  out.append(req.method);
  out.push_back('\n');
  detail::append_canonical_path(out, path, p.normalize_path, p.double_encode_path);
  out.push_back('\n');
  detail::append_canonical_query(out, query);
  out.push_back('\n');
  detail::append_canonical_headers(out, hs);
  out.push_back('\n');
  detail::append_signed_headers(out, hs);
  out.push_back('\n');
  out.append(payload_hash);
  return out;
}

std::string signed_header_names(const request_view& req) {
  std::vector<header_view> hs(req.headers.begin(), req.headers.end());
  detail::sort_headers(hs);
  std::string out;
  detail::append_signed_headers(out, hs);
  return out;
}

std::string string_to_sign(std::string_view canonical, const signing_params& p) {
  std::string out;
  detail::append_string_to_sign(out, amz_date(p.time), credential_scope(p), canonical);
  return out;
}

std::string credential_scope(const signing_params& p) {
  std::string out;
  append_scope(out, scope_date(amz_date(p.time)), p.region, p.service);
  return out;
}

std::string amz_date(clock::time_point t) {
  char buf[16];
  detail::format_amz_date(t, buf);
  return std::string(buf, sizeof buf);
}

std::optional<clock::time_point> parse_amz_date(std::string_view s) {
  using namespace std::chrono;
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), se = num(13, 2);
  // Years outside 1700..2200 would overflow clock::duration (nanoseconds: 1678..2262).
  if (y < 1700 || y > 2200 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0 || h > 23 || mi > 59 ||
      se > 60)
    return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return time_point_cast<clock::duration>(sys_days{ymd} + hours{h} + minutes{mi} + seconds{se});
}

signing_key::~signing_key() { detail::wipe(bytes_.data(), bytes_.size()); }

signing_key derive_signing_key(const secret_string& secret, std::string_view yyyymmdd,
                               std::string_view region, std::string_view service) {
  std::array<std::uint8_t, 32> bytes{};
  detail::derive_key_bytes(secret.reveal(), yyyymmdd, region, service, bytes);
  signing_key key{bytes};
  detail::wipe(bytes.data(), bytes.size());
  return key;
}

std::string signature_hex(const signing_key& key, std::string_view sts) {
  digest mac;
  detail::hmac_sha256_signing(key.bytes(), sts, mac);
  std::string out;
  detail::append_hex(out, mac.data(), mac.size());
  return out;
}

std::string authorization_header(std::string_view access_key_id, const signing_params& p,
                                 std::string_view signed_headers, std::string_view signature) {
  std::string out;
  detail::append_authorization(out, access_key_id, credential_scope(p), signed_headers, signature);
  return out;
}

std::string sha256_hex(std::string_view data) {
  digest d;
  detail::sha256(data, d);
  std::string out;
  detail::append_hex(out, d.data(), d.size());
  return out;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  detail::append_uri_encode(out, s, keep_slash);
  return out;
}

signing_artifacts sign_request(const request_view& req, const credentials& creds,
                               const signing_params& p) {
  std::string amz = amz_date(p.time);
  std::string payload = sha256_hex(req.body);
  signing_key key =
      derive_signing_key(creds.secret_access_key, scope_date(amz), p.region, p.service);
  std::array<header_view, 3> added;
  std::size_t n = added_headers_for(amz, creds, p, payload, added);
  stage_buffers& b = run_pipeline(req, std::span(added.data(), n), p, amz, payload, key.bytes(),
                                  creds.access_key_id);
  signing_artifacts a;
  a.canonical_request = b.canonical;
  a.string_to_sign = b.sts;
  a.signature = b.signature;
  a.authorization = b.authorization;
  for (std::size_t i = 0; i < n; ++i)
    a.added_headers.push_back({std::string(added[i].name), std::string(added[i].value)});
  a.added_headers.push_back({"Authorization", b.authorization});
  return a;
}

signer::signer(credentials creds, std::string region, std::string service)
    : signer(std::make_shared<credential_provider>(std::move(creds)), std::move(region),
             std::move(service)) {}

signer::signer(std::shared_ptr<credential_provider> creds, std::string region, std::string service)
    : provider_(std::move(creds)), region_(std::move(region)), service_(std::move(service)) {}

std::vector<header> signer::sign(const request_view& req, clock::time_point now,
                                 credentials_ptr* used) const {
  now += clock_offset();
  char amz_buf[16];
  detail::format_amz_date(now, amz_buf);
  std::string_view amz(amz_buf, sizeof amz_buf);

  const credentials_ptr snap = provider_->current();
  const credentials& creds = *snap;
  std::array<std::uint8_t, 32> key;
  {
    std::lock_guard lock(mu_);
    if (cached_for_ != snap || cached_date_ != scope_date(amz)) {
      cached_key_ = derive_signing_key(creds.secret_access_key, scope_date(amz), region_, service_);
      cached_date_.assign(scope_date(amz));
      cached_for_ = snap;
    }
    key = cached_key_.bytes();
  }

  digest body_hash;
  detail::sha256(req.body, body_hash);
  char payload_buf[64];
  {
    static constexpr char digits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < body_hash.size(); ++i) {
      payload_buf[2 * i] = digits[body_hash[i] >> 4];
      payload_buf[2 * i + 1] = digits[body_hash[i] & 0xf];
    }
  }
  std::string_view payload(payload_buf, sizeof payload_buf);

  signing_params p;
  p.region = region_;
  p.service = service_;
  p.time = now;
  std::array<header_view, 3> added;
  std::size_t n = added_headers_for(amz, creds, p, payload, added);
  stage_buffers& b =
      run_pipeline(req, std::span(added.data(), n), p, amz, payload, key, creds.access_key_id);
  detail::wipe(key.data(), key.size());

  std::vector<header> out;
  out.reserve(n + 1);
  for (std::size_t i = 0; i < n; ++i)
    out.push_back({std::string(added[i].name), std::string(added[i].value)});
  out.push_back({"Authorization", b.authorization});
  if (used) *used = snap;
  return out;
}

}  // namespace onboard::signing
