#include <onboard/dispatch/retry_policy.hpp>

#include <onboard/dispatch/clock_skew.hpp>

#include <onboard/core/text.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

namespace onboard::engine {

std::string_view to_string(retry_class c) {
  switch (c) {
    case retry_class::success: return "success";
    case retry_class::retry_throttled: return "retry_throttled";
    case retry_class::retry_transient: return "retry_transient";
    case retry_class::in_doubt: return "in_doubt";
    case retry_class::fatal_auth: return "fatal_auth";
    case retry_class::fatal_not_found: return "fatal_not_found";
    case retry_class::bisect: return "bisect";
    case retry_class::conflict_exists: return "conflict_exists";
    case retry_class::foreign: return "foreign";
    case retry_class::fatal_rejected: break;
  }
  return "fatal_rejected";
}

namespace {

// The union of the SDKs' throttling codes (botocore standard, aws-sdk-cpp CoreErrors) plus Chime's
// ThrottledClientException, which no SDK lists (research doc §1.4).
constexpr std::array<std::string_view, 16> throttling_codes{
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "ThrottledClientException",
    "Throttled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException"};

// Codes that mean the request never counted (signature time window): resend after the clock or
// credentials refresh.
constexpr std::array<std::string_view, 3> skew_codes{"RequestTimeTooSkewed", "RequestExpired",
                                                     "RequestTimeout"};

template <std::size_t N>
bool any_of(const std::array<std::string_view, N>& set, std::string_view code) {
  return std::any_of(set.begin(), set.end(), [&](std::string_view s) { return iequals(s, code); });
}

}  // namespace

retry_class classify_http(int status, std::string_view error_type, const request_context& ctx) {
  // x-amzn-ErrorType may carry ":http://internal..." after the code.
  std::string_view code = error_type.substr(0, error_type.find(':'));
  if (status >= 200 && status < 300) return retry_class::success;
  if (status >= 300 && status < 400) return retry_class::foreign;
  if (status == 429 || status == 509) return retry_class::retry_throttled;
  if (!code.empty() && any_of(throttling_codes, code) && status != 500)
    return retry_class::retry_throttled;
  // A 503 refuses the request before any work, like a throttle, but it is the service failing,
  // not pacing: counted against max attempts, so that a dead service ends the run in seconds
  // instead of at the deadline. The rate limiter still hears it as `unavailable`.
  if (status == 503) return retry_class::retry_transient;
  if (status == 408 || (status >= 400 && status < 500 && any_of(skew_codes, code)))
    return retry_class::retry_transient;
  switch (status) {
    case 401:
    case 403: return retry_class::fatal_auth;
    case 404: return retry_class::fatal_not_found;
    case 400: return ctx.addresses > 1 ? retry_class::bisect : retry_class::fatal_rejected;
    case 409:
      if (ctx.op == operation::create || ctx.addresses <= 1) return retry_class::conflict_exists;
      return retry_class::bisect;
    case 500:
    case 502:
    case 504: return retry_class::in_doubt;
    default: break;
  }
  return retry_class::fatal_rejected;
}

namespace {

// json_body: the body starts like a JSON object (what every Chime answer with a body is).
bool json_body(std::string_view body) {
  const auto at = body.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && body[at] == '{';
}

}  // namespace

bool foreign_answer(const answer& a) {
  const bool maybe_foreign = a.status < 500 && a.status != 429;
  return maybe_foreign && a.request_id.empty() && !json_body(a.body);
}

retry_class classify_answer(const answer& a, const request_context& ctx) {
  if (foreign_answer(a)) return retry_class::foreign;
  // Our clock, not our credentials: resent (the dispatcher has corrected the time by then).
  if (signing_time_refused({a.status, a.error_type, a.body, {}}))
    return retry_class::retry_transient;
  return classify_http(a.status, a.error_type, ctx);
}

bool expired_credentials(const answer& a) {
  if (a.status < 400 || a.status >= 500) return false;
  const std::string_view code = a.error_type.substr(0, a.error_type.find(':'));
  if (iequals(code, "ExpiredToken") || iequals(code, "ExpiredTokenException")) return true;
  // Without a code, the message of STS-style services: "The security token included in the
  // request is expired" / "... token has expired".
  static constexpr std::string_view phrases[] = {"token included in the request is expired",
                                                 "token has expired", "token is expired"};
  const std::string body = ascii_lower(a.body.substr(0, 4096));
  return std::any_of(std::begin(phrases), std::end(phrases),
                     [&](std::string_view p) { return body.find(p) != std::string::npos; });
}

retry_class classify_transport(const io::transport_error& e) {
  return e.in_doubt() ? retry_class::in_doubt : retry_class::retry_transient;
}

response_kind to_response_kind(int status, retry_class c) {
  if (c == retry_class::success) return response_kind::success;
  if (status == 503) return response_kind::unavailable;
  if (c == retry_class::retry_throttled) return response_kind::throttled;
  return response_kind::other_error;
}

retry_policy::retry_policy(const retry_config& cfg)
    : cfg_(cfg), budget_(cfg.budget_capacity),
      rng_(cfg.seed != 0 ? cfg.seed : std::random_device{}()) {}

double retry_policy::uniform01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

retry_duration retry_policy::backoff_bound(retry_class c, unsigned retry) const {
  bool throttled = c == retry_class::retry_throttled;
  double base = (throttled ? cfg_.throttled_base : cfg_.transient_base).count();
  double cap = (throttled ? cfg_.throttled_cap : cfg_.transient_cap).count();
  // 2^(retry-1) overflows nothing: the exponent is clamped well past any cap.
  double grow = std::ldexp(1.0, static_cast<int>(std::min(retry == 0 ? 0u : retry - 1, 60u)));
  return retry_duration(std::min(cap, base * grow));
}

retry_duration retry_policy::backoff(retry_class c, unsigned retry) {
  auto bound = backoff_bound(c, retry);
  std::lock_guard lock(mutex_);
  return bound * uniform01();
}

retry_decision retry_policy::decide(retry_class c, unsigned attempts, retry_duration age,
                                    bool answered) {
  retry_decision d;
  switch (c) {
    case retry_class::success: return d;
    case retry_class::fatal_auth:
    case retry_class::fatal_not_found:
    case retry_class::bisect:
    case retry_class::conflict_exists:
    case retry_class::foreign:
    case retry_class::fatal_rejected: d.what = retry_action::give_up; return d;
    case retry_class::in_doubt:
      if (!cfg_.resend_in_doubt) {
        d.what = retry_action::reconcile;
        return d;
      }
      break;
    case retry_class::retry_throttled:
    case retry_class::retry_transient: break;
  }
  bool throttled = c == retry_class::retry_throttled;
  unsigned max_attempts = throttled ? cfg_.max_attempts_throttled : cfg_.max_attempts_transient;
  if ((max_attempts != 0 && attempts >= max_attempts) || age >= cfg_.deadline) {
    d.what = retry_action::give_up;
    return d;
  }
  unsigned cost = throttled ? cfg_.throttled_cost : cfg_.transient_cost;
  auto bound = backoff_bound(c, attempts);
  std::lock_guard lock(mutex_);
  if (budget_ < cost) {
    if (!answered && !throttled) {
      d.what = retry_action::stop;
      return d;
    }
    d.what = retry_action::park;
    d.delay = cfg_.park_min + (cfg_.park_max - cfg_.park_min) * uniform01();
    return d;
  }
  budget_ -= cost;
  d.what = retry_action::retry;
  d.cost = cost;
  d.delay = bound * uniform01();
  return d;
}

void retry_policy::on_success(unsigned last_cost) {
  std::lock_guard lock(mutex_);
  budget_ =
      std::min(cfg_.budget_capacity, budget_ + (last_cost == 0 ? cfg_.success_refund : last_cost));
}

unsigned retry_policy::budget() const {
  std::lock_guard lock(mutex_);
  return budget_;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// digits: a non-empty run of ASCII digits only (no sign, no fraction).
std::optional<std::uint64_t> digits(std::string_view s) {
  if (s.empty() || s.size() > 15) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.front() == '+' || s.front() == '-')
    return std::nullopt;
  return v;
}

std::optional<int> month_of(std::string_view m) {
  constexpr std::array<std::string_view, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < names.size(); ++i)
    if (m == names[i]) return static_cast<int>(i) + 1;
  return std::nullopt;
}

std::optional<int> num(std::string_view s, std::size_t width) {
  if (s.size() != width) return std::nullopt;
  auto v = digits(s);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

// parse_hms: "HH:MM:SS".
std::optional<std::chrono::seconds> parse_hms(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = num(s.substr(0, 2), 2), m = num(s.substr(3, 2), 2), sec = num(s.substr(6, 2), 2);
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return std::chrono::hours(*h) + std::chrono::minutes(*m) + std::chrono::seconds(*sec);
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto i = s.find_first_not_of(' ');
    if (i == std::string_view::npos) break;
    s.remove_prefix(i);
    auto j = s.find(' ');
    out.push_back(s.substr(0, j));
    s.remove_prefix(j == std::string_view::npos ? s.size() : j);
  }
  return out;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  using namespace std::chrono;
  auto f = split_ws(s);
  int d = 0, mo = 0, y = 0;
  std::optional<seconds> hms;
  if (f.size() == 6 && f[0].size() == 4 && f[0].back() == ',' && f[5] == "GMT") {  // IMF-fixdate
    auto dd = num(f[1], 2), yy = num(f[3], 4);
    auto mm = month_of(f[2]);
    if (!dd || !mm || !yy) return std::nullopt;
    d = *dd, mo = *mm, y = *yy;
    hms = parse_hms(f[4]);
  } else if (f.size() == 4 && f[0].back() == ',' && f[3] == "GMT" && f[1].size() == 9 &&
             f[1][2] == '-' && f[1][6] == '-') {  // RFC 850
    auto dd = num(f[1].substr(0, 2), 2), yy = num(f[1].substr(7, 2), 2);
    auto mm = month_of(f[1].substr(3, 3));
    if (!dd || !mm || !yy) return std::nullopt;
    d = *dd, mo = *mm, y = *yy < 70 ? 2000 + *yy : 1900 + *yy;  // two-digit years: RFC 9110 §5.6.7
    hms = parse_hms(f[2]);
  } else if (f.size() == 5 && f[0].size() == 3) {  // asctime
    auto mm = month_of(f[1]);
    auto dd = f[2].size() <= 2 ? digits(f[2]) : std::nullopt;
    auto yy = num(f[4], 4);
    if (!mm || !dd || !yy) return std::nullopt;
    d = static_cast<int>(*dd), mo = *mm, y = *yy;
    hms = parse_hms(f[3]);
  } else {
    return std::nullopt;
  }
  if (!hms) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd} + *hms;
}

namespace {

constexpr double max_retry_after_s = 86400.0;

}  // namespace

std::optional<retry_duration> parse_retry_after(std::string_view retry_after,
                                                std::string_view x_amz_retry_after,
                                                std::chrono::system_clock::time_point now) {
  std::optional<retry_duration> best;
  auto offer = [&](double s) {
    s = std::clamp(s, 0.0, max_retry_after_s);
    if (!best || s > best->count()) best = retry_duration(s);
  };
  if (auto ms = digits(trim(x_amz_retry_after))) offer(static_cast<double>(*ms) / 1000.0);
  auto ra = trim(retry_after);
  if (auto secs = digits(ra)) {
    offer(static_cast<double>(*secs));
  } else if (auto when = parse_http_date(ra)) {
    offer(std::chrono::duration<double>(*when - now).count());
  }
  return best;
}

}  // namespace onboard::engine
