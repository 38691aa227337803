// service.cpp: Chime semantics for the emulator (see service.hpp and server.hpp for the decisions).
#include "service.hpp"

#include "swar.hpp"

#include <onboard/io/corpus_reader.hpp>  // valid_utf8

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <optional>
#include <span>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace onboard::emulator::detail {

namespace json = boost::json;
using clock = signing::clock;

// ---------------------------------------------------------------------------------------------
// counters

void counters::count_status(unsigned status) {
  requests.fetch_add(1, std::memory_order_relaxed);
  if (status < max_status) by_status[status].fetch_add(1, std::memory_order_relaxed);
}

server_stats counters::snapshot() const {
  server_stats s;
  for (int i = 0; i < max_status; ++i) {
    auto n = by_status[i].load(std::memory_order_relaxed);
    if (n) s.requests_by_status[i] = n;
  }
  auto ld = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.requests = ld(requests);
  s.invites_applied = ld(invites_applied);
  s.creates_applied = ld(creates_applied);
  s.duplicates_applied = ld(duplicates_applied);
  s.failed_invites = ld(failed_invites);
  s.emails_failed = ld(emails_failed);
  s.reinvites_not_sent = ld(reinvites_not_sent);
  s.wrong_account_refusals = ld(wrong_account_refusals);
  s.throttled = ld(throttled);
  s.dropped = ld(dropped);
  s.dropped_after_apply = ld(dropped_after_apply);
  s.connections_opened = ld(connections_opened);
  s.connections_active = ld(connections_active);
  s.auth_failures = ld(auth_failures);
  s.timeouts = ld(timeouts);
  for (std::size_t i = 0; i < operations; ++i) {
    const auto name = std::string(operation_name(static_cast<operation>(i)));
    if (auto n = ld(accepted_by_operation[i])) s.accepted_by_operation[name] = n;
    if (auto n = ld(throttled_by_operation[i])) s.throttled_by_operation[name] = n;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// ledger

ledger::ledger(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("--ledger " + path + ": " + std::strerror(errno));
  // An existing file keeps its old mode through O_CREAT; addresses are PII, so tighten it.
  ::fchmod(fd_, 0600);
}

ledger::~ledger() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

namespace {
std::size_t first_tab_or_backslash(std::string_view f) {
  std::size_t i = 0;
  for (; i + 8 <= f.size(); i += 8) {
    const auto w = swar::load(f.data() + i);
    if (swar::has_byte(w, '\t') || swar::has_byte(w, '\\')) break;
  }
  while (i < f.size() && f[i] != '\t' && f[i] != '\\') ++i;
  return i;
}

// append_field: `f` with '\t' and '\\' escaped; addresses almost never hold either, so the common
// case is one append.
void append_field(std::string& out, std::string_view f) {
  for (auto special = first_tab_or_backslash(f); special < f.size();
       special = first_tab_or_backslash(f)) {
    out.append(f.substr(0, special));
    out += f[special] == '\t' ? "\\t" : "\\\\";
    f.remove_prefix(special + 1);
  }
  out.append(f);
}
}  // namespace

void ledger::append(std::string_view op, std::string_view account,
                    std::span<const std::string_view> addresses) {
  if (addresses.empty()) return;
  std::lock_guard lk(mu_);
  const std::size_t line_start = buf_.size();
  buf_.append(op);
  buf_ += '\t';
  append_field(buf_, account);
  buf_ += '\t';
  // Every line starts with the same "op<TAB>account<TAB>", escaped once.
  const std::size_t prefix_size = buf_.size() - line_start;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) buf_.append(buf_, line_start, prefix_size);
    append_field(buf_, addresses[i]);
    buf_ += '\n';
  }
  if (buf_.size() >= 256 * 1024) write_locked();
}

void ledger::flush() {
  std::lock_guard lk(mu_);
  write_locked();
}

void ledger::write_locked() {
  std::size_t off = 0;
  while (off < buf_.size()) {
    auto n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // disk trouble: nothing sensible to do in an emulator but not lose the process
    }
    off += static_cast<std::size_t>(n);
  }
  buf_.clear();
}

// ---------------------------------------------------------------------------------------------
// helpers

bool matches_email_pattern(std::string_view s) {
  // Java-style full match of `.+@.+\..+`: '.' matches anything but line terminators. With the
  // leftmost usable '@' and the rightmost usable '.', the pattern matches iff they leave at least
  // one character before '@', between them, and after '.'.
  // Line terminators start with '\n', '\r' (below 0x0E) or a non-ASCII byte; whole words with
  // neither are skipped, and the exact checks run from the first word that may hold one.
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const auto w = swar::load(s.data() + i);
    if (swar::has_byte_below(w, '\r' + 1) || swar::has_high_byte(w)) break;
  }
  for (; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r') return false;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) return false;
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
         static_cast<unsigned char>(s[i + 2]) == 0xA9))
      return false;
  }
  if (s.size() < 5) return false;
  auto at = s.find('@', 1);
  if (at == std::string_view::npos) return false;
  auto dot = s.rfind('.', s.size() - 2);
  return dot != std::string_view::npos && dot >= at + 2;
}

std::string percent_decode(std::string_view s, bool* ok) {
  std::string out;
  out.reserve(s.size());
  *ok = true;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        *ok = false;
        return out;
      }
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h < 0 || l < 0) {
        *ok = false;
        return out;
      }
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (s[i] == '+') {
      out += ' ';  // form encoding in query strings; botocore always sends %20 anyway
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

void append_hex(std::string& out, std::uint64_t v, int digits) {
  static constexpr char hexd[] = "0123456789abcdef";
  char tmp[16];
  for (int i = 0; i < digits; ++i) tmp[i] = hexd[(v >> ((digits - 1 - i) * 4)) & 0xF];
  out.append(tmp, static_cast<std::size_t>(digits));
}

// plain_json: whether `s` goes into JSON as it is (printable ASCII without '"' or '\\'), as
// addresses and ids nearly always do.
bool plain_json(std::string_view s) {
  auto plain_byte = [](unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    const auto w = swar::load(s.data() + i);
    if (swar::has_byte_below(w, 0x20) || swar::has_high_byte(w) || swar::has_byte(w, '"') ||
        swar::has_byte(w, '\\'))
      return false;
  }
  for (; i < s.size(); ++i)
    if (!plain_byte(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

void json_escape(std::string& out, std::string_view s) {
  out += '"';
  if (plain_json(s)) {
    out.append(s);
    out += '"';
    return;
  }
  std::size_t run = 0;  // start of the pending run of characters that need no escaping
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Echoed request bytes (a target, a header) need not be UTF-8; JSON must be. A valid
      // sequence is kept, any other byte becomes U+FFFD.
      const std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
      if (n > 1 && i + n <= s.size() && io::valid_utf8(s.substr(i, n))) {
        i += n - 1;
        continue;
      }
      out.append(s.data() + run, i - run);
      run = i + 1;
      out += "\\ufffd";
      continue;
    }
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else {
      out += "\\u00";
      append_hex(out, c, 2);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

// append_iso8601: `t` as 2024-01-02T03:04:05.678Z, the form Chime uses for InvitedOn/RegisteredOn.
void append_iso8601(std::string& out, clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // roomy: the compiler cannot bound tm_year
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(ms % 1000));
  out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

// lowered_equals: whether `s` with 'A'..'Z' lowered is `lower` (compared without a copy).
bool lowered_equals(std::string_view s, std::string_view lower) {
  auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return s.size() == lower.size() && std::equal(s.begin(), s.end(), lower.begin(),
                                                [&](char x, char y) { return fold(x) == y; });
}

bool has_non_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v');
  });
}

bool valid_user_type(std::string_view t) { return t == "PrivateUser" || t == "SharedDevice"; }

user_type user_type_of(std::string_view valid) {
  return valid == "SharedDevice" ? user_type::shared_device : user_type::private_user;
}

std::string_view code_for(std::string_view shape) {
  if (shape == "BadRequestException") return "BadRequest";
  if (shape == "UnauthorizedClientException") return "Unauthorized";
  if (shape == "ForbiddenException") return "Forbidden";
  if (shape == "NotFoundException") return "NotFound";
  if (shape == "ConflictException") return "Conflict";
  if (shape == "ThrottledClientException") return "Throttled";
  if (shape == "ServiceFailureException") return "ServiceFailure";
  if (shape == "ServiceUnavailableException") return "ServiceUnavailable";
  return "NotFound";  // UnknownOperationException has no ErrorCode of its own
}

std::string validation_message(const std::vector<std::string>& errors) {
  std::string m =
      std::to_string(errors.size()) +
      (errors.size() == 1 ? " validation error detected: " : " validation errors detected: ");
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) m += "; ";
    m += errors[i];
  }
  return m;
}

reply bad_request(const std::vector<std::string>& errors) {
  return make_error(400, "BadRequestException", validation_message(errors));
}

constexpr std::string_view email_pattern_text = R"(.+@.+\..+)";

std::string pattern_error(std::string_view value, std::string_view where) {
  std::string e = "Value '";
  e.append(value);
  e += "' at '";
  e.append(where);
  e += "' failed to satisfy constraint: Member must satisfy regular expression pattern: ";
  e.append(email_pattern_text);
  return e;
}

std::string enum_error(std::string_view value, std::string_view where) {
  return "Value '" + std::string(value) + "' at '" + std::string(where) +
         "' failed to satisfy constraint: Member must satisfy enum value set: [PrivateUser, "
         "SharedDevice]";
}

}  // namespace

std::string error_body(std::string_view code, std::string_view message) {
  std::string b = "{\"Code\":";
  json_escape(b, code);
  b += ",\"Message\":";
  json_escape(b, message);
  b += '}';
  return b;
}

reply make_error(unsigned status, std::string_view shape, std::string_view message) {
  reply r;
  r.status = status;
  r.error_type = shape;
  r.body = error_body(code_for(shape), message);
  return r;
}

// ---------------------------------------------------------------------------------------------
// accounts

struct account_state {
  explicit account_state(account_spec s) : spec(named(std::move(s))), created(clock::now()) {}
  static account_spec named(account_spec s) {
    if (s.name.empty()) s.name = "Account " + s.id;
    return s;
  }
  const account_spec spec;
  const clock::time_point created;
  std::mutex mu;
  user_store users;
  std::atomic<std::uint64_t> accepted{0};  // requests that passed the token bucket
};

namespace {

// accepted_credentials: --access-key (and its secret and token), then --credentials-file's sets,
// whose expiry times go to `expiry`.
std::vector<signing::credentials> accepted_credentials(
    const server_options& opts,
    std::unordered_map<std::string, std::chrono::system_clock::time_point>& expiry) {
  std::vector<signing::credentials> v(1);
  v[0].access_key_id = opts.access_key;
  v[0].secret_access_key = signing::secret_string(opts.secret_key);
  if (!opts.session_token.empty()) v[0].session_token = signing::secret_string(opts.session_token);
  v[0].source = "emulator";
  if (opts.credentials_file.empty()) return v;
  const std::string& path = opts.credentials_file;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--credentials-file " + path + ": cannot read it");
  std::ostringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto doc = boost::json::parse(text.str(), ec);
  if (ec || !doc.is_array())
    throw std::runtime_error("--credentials-file " + path + ": not a JSON array");
  std::size_t n = 0;
  for (const auto& item : doc.as_array()) {
    const std::string where = "--credentials-file " + path + ": entry " + std::to_string(n++);
    const auto* o = item.if_object();
    auto field = [&](std::string_view k) -> std::string {
      const auto* f = o ? o->if_contains(k) : nullptr;
      return f && f->is_string() ? std::string(f->as_string()) : std::string();
    };
    signing::credentials c;
    c.access_key_id = field("AccessKeyId");
    c.secret_access_key = signing::secret_string(field("SecretAccessKey"));
    c.session_token = signing::secret_string(field("SessionToken"));
    c.source = "credentials file";
    if (c.access_key_id.empty() || c.secret_access_key.empty())
      throw std::runtime_error(where + ": needs AccessKeyId and SecretAccessKey");
    if (auto e = field("Expiration"); !e.empty()) {
      auto at = signing::parse_iso8601(e);
      if (!at) throw std::runtime_error(where + ": Expiration '" + e + "' is not ISO 8601");
      expiry[c.access_key_id] = *at;
    }
    v.push_back(std::move(c));
  }
  return v;
}

}  // namespace

service::service(const server_options& opts)
    : opts_(opts),
      verifier_(accepted_credentials(opts, expiry_), opts.region, "chime", opts.max_skew) {
  if (!opts_.ledger_file.empty()) ledger_ = std::make_unique<ledger>(opts_.ledger_file);
  for (const auto& a : opts_.accounts) {
    auto [it, added] = accounts_.emplace(a.id, std::make_unique<account_state>(a));
    if (added) account_order_.push_back(it->second.get());
  }
}

service::~service() = default;

server_stats service::snapshot() const {
  auto s = stats_.snapshot();
  {
    std::shared_lock lk(accounts_mu_);
    for (const auto& [id, a] : accounts_)
      if (auto n = a->accepted.load(std::memory_order_relaxed)) s.accepted_by_account[id] = n;
  }
  s.seconds = seconds_since_start(std::chrono::steady_clock::now());
  return s;
}

namespace {
// in_domains: whether the address's domain (after its last '@') is one of the lower-case `domains`.
bool in_domains(std::string_view email, const std::vector<std::string>& domains) {
  if (domains.empty()) return false;
  auto at = email.rfind('@');
  if (at == std::string_view::npos) return false;
  const auto domain = email.substr(at + 1);
  return std::any_of(domains.begin(), domains.end(),
                     [&](const std::string& d) { return lowered_equals(domain, d); });
}
}  // namespace

// refused_domain: --refuse-domain, a policy refusal (a 400 for a well-formed address) that lets
// tests prove the engine isolates one bad address in a batch by bisection.
bool service::refused_domain(std::string_view email) const {
  return in_domains(email, opts_.refuse_domains);
}

// failing_domain: --fail-domain: whether an InviteUsers body names an address at such a domain.
// It runs before validation (where the 500 draw is), so it reads the body leniently: anything
// that is not a list of strings simply fails nothing, and validation answers it next.
bool service::failing_domain(std::string_view body) const {
  if (opts_.fail_domains.empty()) return false;
  unsigned char buf[16 * 1024];
  json::monotonic_resource mr(buf, sizeof buf);
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, &mr);
  if (ec || !v.is_object()) return false;
  const auto* list = v.get_object().if_contains("UserEmailList");
  if (!list || !list->is_array()) return false;
  const auto& a = list->get_array();
  return std::any_of(a.begin(), a.end(), [&](const json::value& e) {
    return e.is_string() && in_domains(e.get_string(), opts_.fail_domains);
  });
}

void service::flush_ledger() {
  if (ledger_) ledger_->flush();
}

account_state* service::find_account(const std::string& id) {
  {
    std::shared_lock lk(accounts_mu_);
    auto it = accounts_.find(id);
    if (it != accounts_.end()) return it->second.get();
    if (!opts_.accounts.empty()) return nullptr;
  }
  std::unique_lock lk(accounts_mu_);
  auto& slot = accounts_[id];
  if (!slot) {
    slot = std::make_unique<account_state>(account_spec(id));
    account_order_.push_back(slot.get());
  }
  return slot.get();
}

namespace {

// auth_reply: the documented mapping of verifier errors onto Chime's modelled shapes.
reply auth_reply(const signing::verify_result& v) {
  using E = signing::verify_error;
  switch (v.error) {
    case E::unknown_access_key:
      return make_error(
          401, "UnauthorizedClientException",
          "The security token included in the request is invalid. (" + v.message + ")");
    case E::signature_mismatch:
      return make_error(401, "UnauthorizedClientException",
                        "The request signature we calculated does not match the signature you "
                        "provided. Check your AWS Secret Access Key and signing method. (" +
                            v.message + ")");
    case E::request_expired:
      // The real service's front end answers a signing time outside its window so; SDKs key
      // their clock correction on this code and the service's Date header.
      return make_error(403, "InvalidSignatureException", v.message);
    case E::scope_date_mismatch:
    case E::wrong_region:
    case E::missing_security_token:
      return make_error(401, "UnauthorizedClientException", v.message);
    case E::missing_authorization:
      return make_error(403, "ForbiddenException",
                        "Missing Authentication Token: the request must be signed with AWS "
                        "Signature Version 4 (" +
                            v.message + ")");
    default:
      return make_error(403, "ForbiddenException",
                        "Incomplete or malformed signature: " + v.message);
  }
}

struct query_param {
  std::string name;
  std::string value;
};

bool parse_query(std::string_view q, std::vector<query_param>& out) {
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    bool ok1 = true, ok2 = true;
    query_param p;
    p.name = percent_decode(part.substr(0, eq), &ok1);
    if (eq != std::string_view::npos) p.value = percent_decode(part.substr(eq + 1), &ok2);
    if (!ok1 || !ok2) return false;
    out.push_back(std::move(p));
  }
  return true;
}

const std::string* find_param(const std::vector<query_param>& ps, std::string_view name) {
  for (const auto& p : ps)
    if (p.name == name) return &p.value;
  return nullptr;
}

}  // namespace

call service::prepare(const request& req, clock::time_point now) {
  call c;
  auto qpos = req.target.find('?');
  std::string_view path = req.target.substr(0, qpos);
  std::string_view query =
      qpos == std::string_view::npos ? std::string_view{} : req.target.substr(qpos + 1);

  if (path == "/_emulator/stats" && req.method == "GET") {
    c.done = true;
    c.result.status = 200;
    c.result.body = stats_json(snapshot());
    c.result.count = false;
    return c;
  }

  std::vector<query_param> params;
  auto unknown_op = [&] {
    c.done = true;
    c.result =
        make_error(404, "UnknownOperationException",
                   "No operation matches " + std::string(req.method) + " " + std::string(path));
    return c;
  };
  constexpr std::string_view prefix = "/accounts/";
  constexpr std::string_view suffix = "/users";
  const bool users_path = path.size() > prefix.size() + suffix.size() && path.starts_with(prefix) &&
                          path.ends_with(suffix);
  const bool account_path = !users_path && path.size() > prefix.size() &&
                            path.starts_with(prefix) &&
                            path.find('/', prefix.size()) == std::string_view::npos;
  const bool accounts_path = path == "/accounts";
  if (!users_path && !account_path && !accounts_path) return unknown_op();
  auto raw_id = users_path ? path.substr(prefix.size(), path.size() - prefix.size() - suffix.size())
                : account_path ? path.substr(prefix.size())
                               : std::string_view{};
  if (raw_id.find('/') != std::string_view::npos) return unknown_op();
  if (!parse_query(query, params)) {
    c.done = true;
    c.result =
        make_error(400, "BadRequestException", "Malformed percent-encoding in the query string");
    return c;
  }
  const std::string* op = find_param(params, "operation");
  if (users_path && req.method == "POST" && op && *op == "add")
    c.op = operation::invite_users;
  else if (users_path && req.method == "POST" && op && *op == "create")
    c.op = operation::create_user;
  else if (users_path && req.method == "POST" && op && *op == "suspend")
    c.op = operation::batch_suspend_user;
  else if (users_path && req.method == "GET" && !op)
    c.op = operation::list_users;
  else if (account_path && req.method == "GET" && !op)
    c.op = operation::get_account;
  else if (accounts_path && req.method == "GET" && !op)
    c.op = operation::list_accounts;
  else
    return unknown_op();

  auto v =
      verifier_.verify(signing::request_view{req.method, req.target, req.headers, req.body}, now);
  if (!v) {
    stats_.auth_failures.fetch_add(1, std::memory_order_relaxed);
    c.done = true;
    c.result = auth_reply(v);
    return c;
  }
  if (auto e = expiry_.find(v.access_key_id); e != expiry_.end() && now >= e->second) {
    stats_.auth_failures.fetch_add(1, std::memory_order_relaxed);
    c.done = true;
    c.result = make_error(403, "ExpiredTokenException",
                          "The security token included in the request is expired");
    return c;
  }
  if (auto denied = access_denied(c.op, raw_id)) {
    c.done = true;
    c.result = std::move(*denied);
    return c;
  }
  // ListAccounts names no account: nothing to find, no account's bucket to draw from.
  if (c.op == operation::list_accounts) return c;

  bool ok = true;
  c.account_id = percent_decode(raw_id, &ok);
  if (!ok || !has_non_space(c.account_id)) {
    c.done = true;
    c.result = bad_request({"Value '" + c.account_id +
                            "' at 'accountId' failed to satisfy constraint: Member must satisfy "
                            "regular expression pattern: .*\\S.*"});
    return c;
  }
  c.account = find_account(c.account_id);
  if (!c.account) {
    c.done = true;
    c.result = make_error(
        404, "NotFoundException",
        "The requested resource does not exist: account '" + c.account_id + "' not found");
    return c;
  }

  const auto op_index = static_cast<std::size_t>(c.op);
  if (!take_token(c)) {
    stats_.throttled.fetch_add(1, std::memory_order_relaxed);
    stats_.throttled_by_operation[op_index].fetch_add(1, std::memory_order_relaxed);
    c.done = true;
    c.result = make_error(429, "ThrottledClientException", throttle_message(c));
    c.result.retry_after = true;
    return c;
  }
  stats_.accepted_by_operation[op_index].fetch_add(1, std::memory_order_relaxed);
  c.account->accepted.fetch_add(1, std::memory_order_relaxed);
  return c;
}

std::string_view operation_name(operation op) {
  switch (op) {
    case operation::invite_users: return "InviteUsers";
    case operation::create_user: return "CreateUser";
    case operation::list_users: return "ListUsers";
    case operation::get_account: return "GetAccount";
    case operation::list_accounts: return "ListAccounts";
    case operation::batch_suspend_user: return "BatchSuspendUser";
    case operation::none: break;
  }
  return "none";
}

double service::seconds_since_start(std::chrono::steady_clock::time_point t) const {
  return std::chrono::duration<double>(t - started_).count();
}

// rate_factor: what the rate schedule multiplies every bucket by at `at` seconds after start.
double service::rate_factor(double at) const {
  double factor = 1.0;
  for (const auto& [from, r] : opts_.rate_schedule) {
    if (from > at) break;
    factor = r / opts_.rate;
  }
  return factor;
}

// scaled_seconds: the integral of rate_factor over [from, to], so a bucket idle across a step
// of the schedule earns at each step's rate for the time it lasted.
double service::scaled_seconds(double from, double to) const {
  double sum = 0, factor = 1.0;
  for (const auto& [at, r] : opts_.rate_schedule) {
    if (at >= to) break;
    if (at > from) {
      sum += (at - from) * factor;
      from = at;
    }
    factor = r / opts_.rate;
  }
  return sum + (to - from) * factor;
}

// take_token: one token of the bucket the request draws from (server_options::scope, api_rates);
// true when there is none to draw from (throttling off).
bool service::take_token(const call& c) {
  double rate = opts_.rate;
  bool own_rate = false;  // not `rate`: the bucket's size is max(1, its rate), not `burst`
  std::string key;
  switch (opts_.scope) {
    case throttle_scope::account:
      key = c.account_id;
      if (auto it = opts_.account_rates.find(c.account_id); it != opts_.account_rates.end()) {
        rate = it->second;
        own_rate = true;
      }
      break;
    case throttle_scope::api: key = std::string(operation_name(c.op)); break;
    case throttle_scope::global: break;
  }
  if (!opts_.api_rates.empty()) {
    const auto name = operation_name(c.op);
    if (auto it = opts_.api_rates.find(name); it != opts_.api_rates.end()) {
      rate = own_rate ? std::min(rate, it->second) : it->second;
      own_rate = true;
      key += '\n';  // within the scope's key, a bucket of the API's own
      key += name;
    }
  }
  if (rate <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  const double t = seconds_since_start(now);
  const double burst = std::max(
      1.0, (opts_.burst > 0 && !own_rate ? opts_.burst : std::max(1.0, rate)) * rate_factor(t));
  std::lock_guard lk(buckets_mu_);
  auto [it, fresh] = buckets_.try_emplace(key, bucket{burst, now});
  bucket& b = it->second;
  if (!fresh) {
    const double earned = opts_.rate_schedule.empty()
                              ? std::chrono::duration<double>(now - b.refilled).count()
                              : scaled_seconds(seconds_since_start(b.refilled), t);
    b.tokens = std::min(burst, b.tokens + earned * rate);
    b.refilled = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

std::string service::throttle_message(const call& c) const {
  switch (opts_.scope) {
    case throttle_scope::account: return "Rate exceeded for account '" + c.account_id + "'";
    case throttle_scope::api: return "Rate exceeded for " + std::string(operation_name(c.op));
    case throttle_scope::global: break;
  }
  return "Rate exceeded";
}

std::chrono::microseconds service::draw_latency(rng_t& rng) const {
  if (opts_.latency_ms <= 0) return std::chrono::microseconds(0);
  std::uniform_real_distribution<double> d(1.0 - opts_.latency_jitter, 1.0 + opts_.latency_jitter);
  return std::chrono::microseconds(static_cast<std::int64_t>(opts_.latency_ms * 1000.0 * d(rng)));
}

// applied_then_dropped: --drop-invites. A share of the budget is taken before applying, so
// concurrent requests on several threads never drop more than N; one the service refuses (a
// 400) is answered and gives its share back.
std::optional<reply> service::applied_then_dropped(const call& c, const request& req, rng_t& rng) {
  auto used = invites_dropped_.load(std::memory_order_relaxed);
  do {
    if (used >= opts_.drop_invites) return std::nullopt;
  } while (!invites_dropped_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
  reply applied = invite_users(c, req, rng, true);
  if (applied.status >= 300) {
    invites_dropped_.fetch_sub(1, std::memory_order_relaxed);
    return applied;
  }
  stats_.dropped.fetch_add(1, std::memory_order_relaxed);
  stats_.dropped_after_apply.fetch_add(1, std::memory_order_relaxed);
  reply r;
  r.drop = true;
  return r;
}

reply service::execute(const call& c, const request& req, rng_t& rng) {
  auto draw = [&](double p) { return this->draw(rng, p); };
  // The account lookups are answered without injected faults and draw nothing: the faults model
  // the path a run's writes and checks take, and a client's pre-flight must not shift a seed's
  // fault sequence for the requests after it.
  if (c.op == operation::get_account) return get_account(c);
  if (c.op == operation::list_accounts) return list_accounts(req);
  if (draw(opts_.p503)) {
    auto r = make_error(503, "ServiceUnavailableException",
                        "The service is currently unavailable (injected).");
    r.retry_after = true;
    return r;
  }
  if (draw(opts_.p500))
    return make_error(500, "ServiceFailureException",
                      "The service encountered an unexpected error (injected).");
  // After the draws above, and drawing nothing itself, so a seed's 503/500 sequence is the same
  // with or without an answer mode; what it answers is never dropped (nor applied).
  if (auto r = answer_mode(c, req)) return std::move(*r);
  if (auto r = account_refusal(c)) return std::move(*r);
  if (c.op == operation::invite_users && opts_.drop_invites > 0) {
    if (auto r = applied_then_dropped(c, req, rng)) return std::move(*r);
  }
  if (draw(opts_.p_drop)) {
    bool apply_first = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    if (apply_first) {
      reply applied;
      if (c.op == operation::invite_users)
        applied = invite_users(c, req, rng, true);
      else if (c.op == operation::create_user)
        applied = create_user(c, req, true);
      if (applied.status < 300 &&
          (c.op == operation::invite_users || c.op == operation::create_user))
        stats_.dropped_after_apply.fetch_add(1, std::memory_order_relaxed);
    }
    stats_.dropped.fetch_add(1, std::memory_order_relaxed);
    reply r;
    r.drop = true;
    return r;
  }
  switch (c.op) {
    case operation::invite_users: return invite_users(c, req, rng, true);
    case operation::create_user: return create_user(c, req, true);
    case operation::list_users: return list_users(c, req);
    case operation::get_account: return get_account(c);
    case operation::list_accounts: return list_accounts(req);
    case operation::batch_suspend_user: return batch_suspend_user(c, req);
    case operation::none: break;
  }
  return make_error(404, "UnknownOperationException", "No such operation");
}

namespace {

// What a captive portal or filtering proxy between the client and Chime answers in the answer
// modes: a page or a redirect to its login, in HTML and without Chime's x-amzn-RequestId.
constexpr std::string_view proxy_content_type = "text/html";
constexpr std::string_view proxy_location = "https://portal.proxy.invalid/login?continue=chime";

reply proxy_page() {
  reply r;
  r.status = 200;
  r.request_id = false;
  r.content_type = proxy_content_type;
  r.body =
      "<!DOCTYPE html>\n<html><head><title>Network login</title></head><body>"
      "<h1>Sign in to continue</h1><p>This network requires you to sign in before you can reach "
      "the internet.</p><form method=\"post\" action=\"/login\"><input name=\"user\">"
      "<input name=\"password\" type=\"password\"><button>Sign in</button></form>"
      "</body></html>\n";
  return r;
}

reply proxy_redirect() {
  reply r;
  r.status = 302;
  r.request_id = false;
  r.content_type = proxy_content_type;
  r.location = proxy_location;
  r.body =
      "<html><head><title>302 Found</title></head><body><h1>Found</h1><p>The document has "
      "moved <a href=\"" +
      std::string(proxy_location) + "\">here</a>.</p></body></html>\n";
  return r;
}

}  // namespace

// answer_mode: the answer --list-users-fault, --invite-fault or --fail-domain gives this request
// in place of the service's, if any. omit_last and pending_without_email shape a normal answer
// and are applied by invite_users and list_users instead.
std::optional<reply> service::answer_mode(const call& c, const request& req) const {
  using lf = list_users_fault_mode;
  using inf = invite_fault_mode;
  if (c.op == operation::list_users) {
    switch (opts_.list_users_fault) {
      case lf::none: break;
      case lf::status_500:
        return make_error(500, "ServiceFailureException",
                          "The service encountered an unexpected error (injected: ListUsers).");
      case lf::html: return proxy_page();
      case lf::status_400:
        return make_error(400, "BadRequestException",
                          "The request was rejected as invalid (injected: ListUsers).");
      case lf::status_404:
        return make_error(404, "NotFoundException",
                          "The requested resource does not exist (injected: ListUsers).");
      case lf::redirect_302: return proxy_redirect();
    }
  } else if (c.op == operation::invite_users) {
    // The proxy stands in front of the service, so it answers before a failing domain could.
    switch (opts_.invite_fault) {
      case inf::redirect_302: return proxy_redirect();
      case inf::html: return proxy_page();
      case inf::status_400:
        return make_error(400, "BadRequestException", "Service received a bad request");
      case inf::none:
      case inf::omit_last: break;
    }
    if (failing_domain(req.body))
      return make_error(500, "ServiceFailureException",
                        "The service encountered an unexpected error (injected: an address of the "
                        "batch is in a failing domain).");
  }
  return std::nullopt;
}

namespace {

// parse_body: the JSON object of a request body ("" counts as {}), or a 400 in `err`. The value
// lives in `sp` (a stack buffer in the callers), so parsing allocates little and nothing is copied.
std::optional<json::value> parse_body(std::string_view body, json::storage_ptr sp, reply& err) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return json::value(json::object(sp));
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, sp);
  if (ec) {
    err = make_error(400, "BadRequestException", "Malformed JSON request body: " + ec.message());
    return std::nullopt;
  }
  if (!v.is_object()) {
    err = make_error(400, "BadRequestException", "The request body must be a JSON object");
    return std::nullopt;
  }
  return v;
}

// append_user_json: `u` as Chime's User object. Without `pending_email` a user whose invitation
// is pending has no PrimaryEmail (--pending-without-email).
void append_user_json(std::string& out, std::string_view account, const user_view& u,
                      bool pending_email = true) {
  out += "{\"UserId\":\"";
  append_uuid(out, u.id);
  out += "\",\"AccountId\":";
  json_escape(out, account);
  if (u.created || pending_email) {
    out += ",\"PrimaryEmail\":";
    json_escape(out, u.email);
  }
  out += ",\"DisplayName\":";
  json_escape(out, u.display_name);
  out += ",\"LicenseType\":\"Pro\",\"UserType\":\"";
  out += user_type_name(u.type);
  if (u.suspended) {
    out += "\",\"UserRegistrationStatus\":\"Suspended\",\"UserInvitationStatus\":\"";
    out += u.created ? "Accepted" : "Pending";
  } else if (u.created) {
    out += "\",\"UserRegistrationStatus\":\"Registered\",\"UserInvitationStatus\":\"Accepted\"";
    out += ",\"RegisteredOn\":\"";
    append_iso8601(out, u.registered_on);
  } else {
    out += "\",\"UserRegistrationStatus\":\"Unregistered\",\"UserInvitationStatus\":\"Pending";
  }
  out += "\",\"InvitedOn\":\"";
  append_iso8601(out, u.invited_on);
  out += "\",\"AlexaForBusinessMetadata\":{\"IsAlexaForBusinessEnabled\":false}}";
}

void append_invite_json(std::string& out, std::string_view address, std::string_view status,
                        std::string_view email_status) {
  out += "{\"InviteId\":\"";
  append_uuid(out, draw_uuid());
  out += "\",\"Status\":\"";
  out += status;
  out += "\",\"EmailAddress\":";
  json_escape(out, address);
  out += ",\"EmailStatus\":\"";
  out += email_status;
  out += "\"}";
}

// Chime's limit on UserEmailList.
constexpr std::size_t max_invites = 50;

// invite_tally: what one InviteUsers did, published to the shared counters once per request.
struct invite_tally {
  std::uint64_t applied = 0, duplicates = 0, failed = 0, emails_failed = 0, not_sent = 0;
  std::array<std::string_view, max_invites> ledger_lines{};  // applied addresses, in order
};

}  // namespace

reply service::invite_users(const call& c, const request& req, rng_t& rng, bool apply) {
  unsigned char buf[16 * 1024];
  json::monotonic_resource mr(buf, sizeof buf);
  reply err;
  auto v = parse_body(req.body, &mr, err);
  if (!v) return err;
  const auto& obj = v->get_object();

  std::vector<std::string> errors;
  std::string_view user_type = "PrivateUser";
  if (auto* t = obj.if_contains("UserType")) {
    if (!t->is_string())
      errors.push_back("Value at 'userType' must be a string");
    else if (!valid_user_type(t->get_string()))
      errors.push_back(enum_error(t->get_string(), "userType"));
    else
      user_type = t->get_string();
  }
  const json::array* list = nullptr;
  if (auto* l = obj.if_contains("UserEmailList")) {
    if (!l->is_array())
      errors.push_back("Value at 'userEmailList' must be a list of strings");
    else
      list = &l->get_array();
  } else {
    errors.push_back(
        "Value null at 'userEmailList' failed to satisfy constraint: Member must not be null");
  }
  // The model sets no minimum on UserEmailList: an empty list is a valid request inviting nobody.
  if (list) {
    if (list->size() > max_invites)
      errors.push_back(
          "Value at 'userEmailList' failed to satisfy constraint: Member must have length "
          "less than or equal to 50 (got " +
          std::to_string(list->size()) + ")");
    else {
      for (std::size_t i = 0; i < list->size(); ++i) {
        const auto& e = (*list)[i];
        // AWS numbers list members from 1 in its validation messages.
        auto where = [i] { return "userEmailList." + std::to_string(i + 1) + ".member"; };
        if (!e.is_string())
          errors.push_back("Value at '" + where() + "' must be a string");
        else if (!matches_email_pattern(e.get_string()))
          errors.push_back(pattern_error(e.get_string(), where()));
        else if (refused_domain(e.get_string()))
          errors.push_back("Value '" + std::string(e.get_string()) + "' at '" + where() +
                           "' is not allowed: the domain is refused by this account's policy");
      }
    }
  }
  if (!errors.empty()) return bad_request(errors);

  const auto now = clock::now();
  const auto type = user_type_of(user_type);
  reply r;
  r.status = 201;
  r.body.reserve(64 + list->size() * 140);
  r.body += "{\"Invites\":[";
  invite_tally tally;
  std::array<user_store::address_key, max_invites> keys;
  for (std::size_t i = 0; i < list->size(); ++i)
    keys[i] = user_store::key_of((*list)[i].get_string());
  std::lock_guard lk(c.account->mu);
  auto& users = c.account->users;
  if (apply)
    for (std::size_t i = 0; i < list->size(); ++i) users.prefetch(keys[i]);
  // --invite-fault omit_last: the last address is applied as usual but not listed.
  const bool omit_last = opts_.invite_fault == invite_fault_mode::omit_last;
  // --reinvite accepted|not-sent: a member is answered without an email, so it is looked up first.
  const bool members_unsent = opts_.reinvite != reinvite_mode::email_again;
  const std::string_view member_status =
      opts_.reinvite == reinvite_mode::accepted ? "Accepted" : "Pending";
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string_view addr = (*list)[i].get_string();
    auto answer = [&](std::string_view status, std::string_view email_status) {
      if (omit_last && i + 1 == list->size()) return;
      if (i > 0) r.body += ',';
      append_invite_json(r.body, addr, status, email_status);
    };
    if (p_failed(rng)) {
      answer("Failed", "Failed");
      ++tally.failed;
      continue;
    }
    if (members_unsent && users.find(addr) != user_store::npos) {
      answer(member_status, "NotSent");
      ++tally.not_sent;
      continue;
    }
    // The invitee is added as pending either way; only the email did not go out.
    const bool email_failed = draw(rng, opts_.p_email_failed);
    answer("Pending", email_failed ? "Failed" : "Sent");
    tally.emails_failed += email_failed ? 1 : 0;
    if (!apply) continue;
    new_user u;
    u.email = addr;
    u.type = type;
    u.at = now;
    // A known address wastes its id, which is cheaper than a second lookup to ask first.
    u.id = draw_uuid();
    auto [at, added] = users.insert(u, keys[i]);
    if (!added) {
      ++tally.duplicates;
      users.reinvited(at, now);
    }
    tally.ledger_lines[tally.applied++] = addr;
  }
  if (ledger_)
    ledger_->append("invite", c.account_id, std::span(tally.ledger_lines).first(tally.applied));
  stats_.failed_invites.fetch_add(tally.failed, std::memory_order_relaxed);
  stats_.emails_failed.fetch_add(tally.emails_failed, std::memory_order_relaxed);
  stats_.reinvites_not_sent.fetch_add(tally.not_sent, std::memory_order_relaxed);
  stats_.duplicates_applied.fetch_add(tally.duplicates, std::memory_order_relaxed);
  stats_.invites_applied.fetch_add(tally.applied, std::memory_order_relaxed);
  r.body += "]}";
  return r;
}

bool service::p_failed(rng_t& rng) const { return draw(rng, opts_.p_failed_invite); }

// draw: true with probability `p`; draws nothing when p <= 0, so a seed's sequence of the other
// faults is the same whether or not an option is on.
bool service::draw(rng_t& rng, double p) const {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p;
}

reply service::create_user(const call& c, const request& req, bool apply) {
  unsigned char buf[4096];
  json::monotonic_resource mr(buf, sizeof buf);
  reply err;
  auto v = parse_body(req.body, &mr, err);
  if (!v) return err;
  const auto& obj = v->get_object();

  std::vector<std::string> errors;
  std::string_view user_type = "PrivateUser", username, email;
  if (auto* t = obj.if_contains("UserType")) {
    if (!t->is_string())
      errors.push_back("Value at 'userType' must be a string");
    else if (!valid_user_type(t->get_string()))
      errors.push_back(enum_error(t->get_string(), "userType"));
    else
      user_type = t->get_string();
  }
  if (auto* u = obj.if_contains("Username")) {
    if (!u->is_string())
      errors.push_back("Value at 'username' must be a string");
    else
      username = u->get_string();
  }
  if (auto* e = obj.if_contains("Email")) {
    if (!e->is_string())
      errors.push_back("Value at 'email' must be a string");
    else if (!matches_email_pattern(e->get_string()))
      errors.push_back(pattern_error(e->get_string(), "email"));
    else
      email = e->get_string();
  } else {
    // The model leaves Email optional; the emulator needs an address to key the user by.
    errors.push_back("Value null at 'email' failed to satisfy constraint: Member must not be null");
  }
  if (!errors.empty()) return bad_request(errors);

  new_user u;
  u.email = email;
  u.username = username;
  u.type = user_type_of(user_type);
  u.created = true;
  u.at = clock::now();
  std::lock_guard lk(c.account->mu);
  auto& users = c.account->users;
  if (users.find(email) != user_store::npos)
    return make_error(409, "ConflictException",
                      "User with email " + std::string(email) + " already exists in account '" +
                          c.account_id + "'");
  u.id = draw_uuid();
  reply r;
  r.status = 201;
  r.body.reserve(400 + email.size() + username.size() + c.account_id.size());
  r.body = "{\"User\":";
  if (apply) {
    auto at = users.insert(u).first;
    append_user_json(r.body, c.account_id, users.view(at));
    stats_.creates_applied.fetch_add(1, std::memory_order_relaxed);
    if (ledger_) ledger_->append("create", c.account_id, std::span(&email, 1));
  } else {
    append_user_json(r.body, c.account_id, view_of(u));
  }
  r.body += '}';
  return r;
}

namespace {

// parse_max_results: the model's ProfileServiceMaxResults (1..200), into `out`, or an error.
void parse_max_results(const std::vector<query_param>& params, std::size_t& out,
                       std::vector<std::string>& errors) {
  auto* m = find_param(params, "max-results");
  if (!m) return;
  long long n = 0;
  auto [p, ec] = std::from_chars(m->data(), m->data() + m->size(), n);
  if (ec != std::errc{} || p != m->data() + m->size())
    errors.push_back("Value '" + *m + "' at 'maxResults' must be an integer");
  else if (n < 1 || n > 200)
    errors.push_back("Value '" + *m +
                     "' at 'maxResults' failed to satisfy constraint: Member must have value "
                     "between 1 and 200");
  else
    out = static_cast<std::size_t>(n);
}

// parse_next_token: "page-N" with N <= limit, as this emulator hands them out.
void parse_next_token(const std::vector<query_param>& params, std::size_t limit,
                      std::size_t& offset, std::vector<std::string>& errors) {
  auto* t = find_param(params, "next-token");
  if (!t) return;
  unsigned long long n = 0;
  std::string_view tok = *t;
  bool ok = tok.starts_with("page-");
  if (ok) {
    auto [p, ec] = std::from_chars(tok.data() + 5, tok.data() + tok.size(), n);
    ok = ec == std::errc{} && p == tok.data() + tok.size() && n <= limit;
  }
  if (!ok)
    errors.push_back("Invalid NextToken");
  else
    offset = static_cast<std::size_t>(n);
}

}  // namespace

reply service::list_users(const call& c, const request& req) {
  std::vector<query_param> params;
  auto qpos = req.target.find('?');
  if (qpos != std::string_view::npos) parse_query(req.target.substr(qpos + 1), params);

  std::vector<std::string> errors;
  const std::string* email = nullptr;  // the user-email filter, when valid
  std::string_view user_type;
  std::size_t max_results = 100, offset = 0;
  if (auto* e = find_param(params, "user-email")) {
    if (!matches_email_pattern(*e))
      errors.push_back(pattern_error(*e, "userEmail"));
    else
      email = e;
  }
  if (auto* t = find_param(params, "user-type")) {
    if (!valid_user_type(*t))
      errors.push_back(enum_error(*t, "userType"));
    else
      user_type = *t;
  }
  parse_max_results(params, max_results, errors);
  std::lock_guard lk(c.account->mu);
  const auto& a = *c.account;
  parse_next_token(params, a.users.size(), offset, errors);
  if (!errors.empty()) return bad_request(errors);

  reply r;
  r.status = 200;
  r.body = "{\"Users\":[";
  std::size_t emitted = 0, i = offset;
  const auto& users = a.users;
  auto matches = [&](std::size_t u) {
    return user_type.empty() || user_type_name(users.type(u)) == user_type;
  };
  const bool pending_email = !opts_.pending_without_email;
  if (email) {
    // The filter finds a user by the stored address even when the answer does not show it.
    auto u = users.find(*email);
    if (u != user_store::npos && u >= offset && matches(u))
      append_user_json(r.body, c.account_id, users.view(u), pending_email);
    i = users.size();
  } else {
    for (; i < users.size() && emitted < max_results; ++i) {
      if (!matches(i)) continue;
      if (emitted++) r.body += ',';
      append_user_json(r.body, c.account_id, users.view(i), pending_email);
    }
    // Only hand out a token when something is left to see.
    while (i < users.size() && !matches(i)) ++i;
  }
  r.body += ']';
  if (i < a.users.size()) r.body += ",\"NextToken\":\"page-" + std::to_string(i) + "\"";
  r.body += '}';
  return r;
}

// access_denied: --deny-action: the answer IAM gives a principal without the action.
std::optional<reply> service::access_denied(operation op, std::string_view raw_id) const {
  if (opts_.denied_actions.empty()) return std::nullopt;
  std::string_view action;
  switch (op) {
    case operation::invite_users: action = "chime:InviteUsers"; break;
    case operation::create_user: action = "chime:CreateUser"; break;
    case operation::list_users: action = "chime:ListUsers"; break;
    case operation::get_account: action = "chime:GetAccount"; break;
    case operation::list_accounts: action = "chime:ListAccounts"; break;
    case operation::batch_suspend_user: action = "chime:BatchSuspendUser"; break;
    case operation::none: return std::nullopt;
  }
  if (std::find(opts_.denied_actions.begin(), opts_.denied_actions.end(), action) ==
      opts_.denied_actions.end())
    return std::nullopt;
  reply r;
  r.status = 403;
  r.error_type = "ForbiddenException";
  r.body = error_body("AccessDenied",
                      "User: arn:aws:iam::" + opts_.aws_account_id +
                          ":user/onboard is not authorized to perform: " + std::string(action) +
                          " on resource: arn:aws:chime::" + opts_.aws_account_id + ":account/" +
                          std::string(raw_id));
  return r;
}

// account_refusal: InviteUsers and CreateUser on an account that cannot take them (its status or
// type), before anything is dropped or applied. See server.hpp for the shapes and their sources.
std::optional<reply> service::account_refusal(const call& c) {
  if (c.op != operation::invite_users && c.op != operation::create_user &&
      c.op != operation::batch_suspend_user)
    return std::nullopt;
  const auto& a = c.account->spec;
  auto refuse = [&](reply r) {
    stats_.wrong_account_refusals.fetch_add(1, std::memory_order_relaxed);
    return std::optional<reply>(std::move(r));
  };
  const std::string ids =
      "[AWS Account ID: " + opts_.aws_account_id + "][Chime Account ID: " + a.id + "]";
  if (a.status == account_status::suspended)
    return refuse(make_error(403, "ForbiddenException", "Chime Account is suspended" + ids));
  if (c.op == operation::invite_users && a.type != account_type::team) {
    if (opts_.wrong_type == wrong_type_refusal::bad_request_400)
      return refuse(make_error(400, "BadRequestException", "Service received a bad request"));
    return refuse(make_error(403, "ForbiddenException",
                             "Chime Account provided is not a Team Chime Account" + ids));
  }
  // BatchSuspendUser: "from a Team or EnterpriseLWA Amazon Chime account" (the model).
  if (c.op == operation::batch_suspend_user && a.type != account_type::team &&
      a.type != account_type::enterprise_lwa)
    return refuse(make_error(400, "BadRequestException", "Service received a bad request"));
  if (c.op == operation::create_user && a.type == account_type::team && opts_.refuse_create_on_team)
    return refuse(make_error(400, "BadRequestException", "Service received a bad request"));
  return std::nullopt;
}

namespace {

// append_account_json: `a` as the model's Account structure.
void append_account_json(std::string& out, std::string_view aws_account_id,
                         const account_state& a) {
  out += "{\"AwsAccountId\":";
  json_escape(out, aws_account_id);
  out += ",\"AccountId\":";
  json_escape(out, a.spec.id);
  out += ",\"Name\":";
  json_escape(out, a.spec.name);
  out += ",\"AccountType\":\"";
  out += to_string(a.spec.type);
  out += "\",\"CreatedTimestamp\":\"";
  append_iso8601(out, a.created);
  out += "\",\"DefaultLicense\":\"Pro\",\"SupportedLicenses\":[\"Basic\",\"Pro\"]";
  out += ",\"AccountStatus\":\"";
  out += to_string(a.spec.status);
  out += "\",\"SigninDelegateGroups\":[]}";
}

}  // namespace

reply service::get_account(const call& c) {
  reply r;
  r.status = 200;
  r.body = "{\"Account\":";
  append_account_json(r.body, opts_.aws_account_id, *c.account);
  r.body += '}';
  return r;
}

// list_accounts: ListAccounts with the model's filters (`name` prefix, `user-email`: the account
// holding that user) and pagination (`max-results` default 100, `next-token`).
reply service::list_accounts(const request& req) {
  std::vector<query_param> params;
  auto qpos = req.target.find('?');
  if (qpos != std::string_view::npos) parse_query(req.target.substr(qpos + 1), params);
  std::vector<std::string> errors;
  const std::string* email = find_param(params, "user-email");
  if (email && !matches_email_pattern(*email)) errors.push_back(pattern_error(*email, "userEmail"));
  const std::string* name = find_param(params, "name");
  std::size_t max_results = 100, offset = 0;
  parse_max_results(params, max_results, errors);

  std::vector<const account_state*> matching;
  {
    std::shared_lock lk(accounts_mu_);
    for (const auto* a : account_order_) {
      if (name && !a->spec.name.starts_with(*name)) continue;
      if (email) {
        auto& st = const_cast<account_state&>(*a);
        std::lock_guard alk(st.mu);
        if (st.users.find(*email) == user_store::npos) continue;
      }
      matching.push_back(a);
    }
  }
  parse_next_token(params, matching.size(), offset, errors);
  if (!errors.empty()) return bad_request(errors);

  reply r;
  r.status = 200;
  r.body = "{\"Accounts\":[";
  const std::size_t end = std::min(matching.size(), offset + max_results);
  for (std::size_t i = offset; i < end; ++i) {
    if (i > offset) r.body += ',';
    append_account_json(r.body, opts_.aws_account_id, *matching[i]);
  }
  r.body += ']';
  if (end < matching.size()) r.body += ",\"NextToken\":\"page-" + std::to_string(end) + "\"";
  r.body += '}';
  return r;
}

}  // namespace onboard::emulator::detail

namespace onboard::emulator {

std::string_view to_string(account_type t) {
  switch (t) {
    case account_type::team: return "Team";
    case account_type::enterprise_directory: return "EnterpriseDirectory";
    case account_type::enterprise_lwa: return "EnterpriseLWA";
    case account_type::enterprise_oidc: return "EnterpriseOIDC";
  }
  return "Team";
}

std::string_view to_string(account_status s) {
  return s == account_status::suspended ? "Suspended" : "Active";
}

std::optional<account_type> parse_account_type(std::string_view s) {
  for (auto t : {account_type::team, account_type::enterprise_directory,
                 account_type::enterprise_lwa, account_type::enterprise_oidc})
    if (to_string(t) == s) return t;
  return std::nullopt;
}

std::optional<account_status> parse_account_status(std::string_view s) {
  if (s == "Active") return account_status::active;
  if (s == "Suspended") return account_status::suspended;
  return std::nullopt;
}

std::string stats_json(const server_stats& s) {
  namespace json = boost::json;
  json::object by;
  for (const auto& [k, v] : s.requests_by_status) by[std::to_string(k)] = v;
  json::object o;
  o["requests"] = s.requests;
  o["requests_by_status"] = std::move(by);
  o["invites_applied"] = s.invites_applied;
  o["creates_applied"] = s.creates_applied;
  o["duplicates_applied"] = s.duplicates_applied;
  o["failed_invites"] = s.failed_invites;
  o["emails_failed"] = s.emails_failed;
  o["reinvites_not_sent"] = s.reinvites_not_sent;
  o["wrong_account_refusals"] = s.wrong_account_refusals;
  o["throttled"] = s.throttled;
  o["dropped"] = s.dropped;
  o["dropped_after_apply"] = s.dropped_after_apply;
  o["connections_opened"] = s.connections_opened;
  o["connections_active"] = s.connections_active;
  o["auth_failures"] = s.auth_failures;
  o["timeouts"] = s.timeouts;
  auto counts = [](const std::map<std::string, std::uint64_t>& m) {
    json::object out;
    for (const auto& [k, v] : m) out[k] = v;
    return out;
  };
  o["accepted_by_operation"] = counts(s.accepted_by_operation);
  o["throttled_by_operation"] = counts(s.throttled_by_operation);
  o["accepted_by_account"] = counts(s.accepted_by_account);
  o["seconds"] = s.seconds;
  return json::serialize(o);
}

}  // namespace onboard::emulator

namespace onboard::emulator::detail {

// batch_suspend_user: BatchSuspendUser, POST /accounts/{id}/users?operation=suspend with
// {"UserIdList": [...]} (at most 50, as the model's UserIdList): 200 {"UserErrors": [...]}, one
// error per id that names no user of the account (ErrorCode NotFound). Suspending a suspended
// user again is no error. The ids are found by one pass over the account's users (the store has
// no id index): O(users) per request, enough for an emulator.
reply service::batch_suspend_user(const call& c, const request& req) {
  unsigned char buf[8 * 1024];
  json::monotonic_resource mr(buf, sizeof buf);
  reply err;
  auto v = parse_body(req.body, &mr, err);
  if (!v) return err;
  const auto* l = v->get_object().if_contains("UserIdList");
  if (!l)
    return bad_request(
        {"Value null at 'userIdList' failed to satisfy constraint: Member must not be null"});
  if (!l->is_array()) return bad_request({"Value at 'userIdList' must be a list of strings"});
  const auto& ids = l->get_array();
  if (ids.size() > max_invites)
    return bad_request(
        {"Value at 'userIdList' failed to satisfy constraint: Member must have "
         "length less than or equal to 50 (got " +
         std::to_string(ids.size()) + ")"});
  std::unordered_map<std::string, bool> wanted;  // id -> found
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_string() || !has_non_space(ids[i].get_string()))
      return bad_request({"Value at 'userIdList." + std::to_string(i + 1) +
                          ".member' failed to satisfy constraint: Member must satisfy regular "
                          "expression pattern: .*\\S.*"});
    wanted.emplace(std::string(ids[i].get_string()), false);
  }
  {
    std::lock_guard lk(c.account->mu);
    auto& users = c.account->users;
    char text[uuid_text_size];
    for (std::size_t i = 0; i < users.size() && !wanted.empty(); ++i) {
      format_uuid(users.view(i).id, text);
      auto it = wanted.find(std::string(text, uuid_text_size));
      if (it == wanted.end()) continue;
      users.suspend(i);
      it->second = true;
    }
  }
  reply r;
  r.status = 200;
  r.body = "{\"UserErrors\":[";
  bool first = true;
  for (const auto& id : ids) {
    auto it = wanted.find(std::string(id.get_string()));
    if (it == wanted.end() || it->second) continue;
    it->second = true;  // one error per id, however often it is named
    if (!first) r.body += ',';
    first = false;
    r.body += "{\"UserId\":";
    json_escape(r.body, id.get_string());
    r.body += ",\"ErrorCode\":\"NotFound\",\"ErrorMessage\":\"User not found\"}";
  }
  r.body += "]}";
  return r;
}

}  // namespace onboard::emulator::detail
