#include <onboard/dispatch/limiter_set.hpp>

#include <algorithm>
#include <cmath>

namespace onboard::engine {

std::string limit_partition(std::string_view api, std::string_view account) {
  std::string p;
  p.reserve(api.size() + 1 + account.size());
  p.append(api).append("/").append(account);
  return p;
}

namespace {

// group_key_of: "API/account" -> "API"; a key without '/' is its own group.
std::string_view group_key_of(std::string_view partition) {
  auto slash = partition.find('/');
  return slash == std::string_view::npos ? partition : partition.substr(0, slash);
}

}  // namespace

double binomial_tail(std::uint64_t n, std::uint64_t k, double p) {
  if (k == 0) return 1.0;
  if (k > n || p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  const double lp = std::log(p), lq = std::log1p(-p);
  const double ln_n1 = std::lgamma(static_cast<double>(n) + 1.0);
  double sum = 0.0;
  for (std::uint64_t i = k; i <= n; ++i) {
    const auto di = static_cast<double>(i), dr = static_cast<double>(n - i);
    sum += std::exp(ln_n1 - std::lgamma(di + 1.0) - std::lgamma(dr + 1.0) + di * lp + dr * lq);
  }
  return std::min(1.0, sum);
}

std::uint32_t limiter_set::make_limiter(const rate_limiter_config& cfg, time_point now) {
  limiters_.push_back(std::make_unique<rate_limiter>(cfg, now));
  return static_cast<std::uint32_t>(limiters_.size() - 1);
}

limiter_set::member& limiter_set::member_of(std::string_view partition, time_point now) {
  auto it = members_.find(partition);
  if (it != members_.end()) return it->second;
  const std::string_view key = set_cfg_.share_limits ? group_key_of(partition) : partition;
  auto g = groups_.find(key);
  if (g == groups_.end())
    g = groups_.emplace(std::string(key), group_state{make_limiter(cfg_, now)}).first;
  member m;
  m.group = &g->second;
  return members_.emplace(std::string(partition), m).first->second;
}

set_reservation limiter_set::reserve(std::string_view partition, time_point now) {
  const member& m = member_of(partition, now);
  set_reservation r;
  r.group = m.group->lim;
  r.own = m.own;
  if (m.own) {
    r.own_ticket = limiters_[*m.own]->reserve(now);
  } else {
    r.group_ticket = limiters_[r.group]->reserve(now);
    r.group_taken = true;
  }
  return r;
}

std::optional<time_point> limiter_set::wait_until(set_reservation& r, time_point now) {
  // The member's own cap first, then a ticket of the group's: a member held back by its own
  // limit does not hold a group ticket the others could use meanwhile.
  if (r.own && !r.own_ready) {
    if (auto w = limiters_[*r.own]->wait_until(*r.own_ticket, now)) return w;
    r.own_ready = true;
  }
  if (!r.group_taken) {
    r.group_ticket = limiters_[r.group]->reserve(now);
    r.group_taken = true;
  }
  return limiters_[r.group]->wait_until(r.group_ticket, now);
}

void limiter_set::cancel(const set_reservation& r, time_point now) {
  if (r.own) limiters_[*r.own]->cancel(*r.own_ticket, now);
  if (r.group_taken) limiters_[r.group]->cancel(r.group_ticket, now);
}

set_stamp limiter_set::on_send(std::string_view partition, const set_reservation& r,
                               time_point now) {
  set_stamp s;
  s.group = r.group;
  s.group_stamp = limiters_[r.group]->on_send(now);
  if (r.own) {
    s.own = r.own;
    s.own_stamp = limiters_[*r.own]->on_send(now);
  }
  member& m = member_of(partition, now);
  if (!m.own) {  // a member with a limit of its own is out of the tallies
    m.sends += 1;
    m.group->sends += 1;
  }
  return s;
}

double limiter_set::chance_of(const member& m, const group_state& g) const {
  // Counted with this 429: k of the member's, n of the group's.
  if (g.sends <= 0 || m.sends >= g.sends) return 1.0;
  const auto k = static_cast<std::uint64_t>(std::llround(m.throttles + 1));
  const auto n = static_cast<std::uint64_t>(std::llround(g.throttles + 1));
  return binomial_tail(n, k, m.sends / g.sends);
}

void limiter_set::on_response(std::string_view partition, time_point now, const set_stamp& stamp,
                              response_kind kind) {
  rate_limiter& group = *limiters_[stamp.group];
  if (kind != response_kind::throttled) {
    group.on_response(now, stamp.group_stamp, kind);
    if (stamp.own) limiters_[*stamp.own]->on_response(now, stamp.own_stamp, kind);
    return;
  }
  member& m = member_of(partition, now);
  group_state& g = *m.group;
  const double chance = m.own ? 0.0 : chance_of(m, g);
  if (m.own ||
      (chance < set_cfg_.own_limit_p && m.throttles + 1 >= set_cfg_.own_limit_min_throttles)) {
    // Its own limit: the member's cap takes the cut, the group only gets its slot back. The
    // member leaves the tallies (its 429s are explained): they must not hide the next member
    // with a limit of its own.
    ++own_throttles_;
    if (!m.own) {
      rate_limiter_config own = cfg_;
      own.start_rate = std::max(cfg_.min_rate, m.sends / g.sends * group.goodput(now));
      m.own = make_limiter(own, now);
      g.sends -= m.sends;
      g.throttles -= m.throttles;
      m.sends = m.throttles = 0;
    }
    group.on_response(now, stamp.group_stamp, response_kind::other_error);
    rate_limiter& own = *limiters_[*m.own];
    send_stamp st = stamp.own ? stamp.own_stamp : own.on_send(now);
    // A request sent before the cap existed belongs to the cap's first episode: only the first
    // such 429 cuts it.
    if (!stamp.own) st.epoch = 0;
    own.on_response(now, st, kind);
    return;
  }
  m.throttles += 1;
  g.throttles += 1;
  // Suspect (a member with a small share of the sends, or a run of 429s on it): not yet the
  // group's signal either. A member held to a limit of its own soon shows it again; under a
  // shared limit the next 429s land on the others and cut the group.
  const bool suspect = chance < set_cfg_.suspect_p;
  group.on_response(now, stamp.group_stamp, suspect ? response_kind::other_error : kind);
  if (stamp.own)
    limiters_[*stamp.own]->on_response(now, stamp.own_stamp, response_kind::other_error);
  if (g.throttles >= set_cfg_.decay_throttles) decay(g);
}

void limiter_set::on_abandon(const set_stamp& stamp) {
  limiters_[stamp.group]->on_abandon(stamp.group_stamp);
  if (stamp.own) limiters_[*stamp.own]->on_abandon(stamp.own_stamp);
}

void limiter_set::on_retry_after(std::string_view partition, time_point now, seconds_d delay) {
  limiters_[member_of(partition, now).group->lim]->on_retry_after(now, delay);
}

void limiter_set::decay(group_state& g) {
  g.sends /= 2;
  g.throttles /= 2;
  for (auto& [name, m] : members_) {
    if (m.group != &g) continue;
    m.sends /= 2;
    m.throttles /= 2;
  }
}

const rate_limiter* limiter_set::group_limiter(std::string_view partition) const {
  auto it = members_.find(partition);
  return it == members_.end() ? nullptr : limiters_[it->second.group->lim].get();
}

const rate_limiter* limiter_set::own_limiter(std::string_view partition) const {
  auto it = members_.find(partition);
  return it == members_.end() || !it->second.own ? nullptr : limiters_[*it->second.own].get();
}

bool limiter_set::shares_limit(std::string_view a, std::string_view b) const {
  auto x = members_.find(a), y = members_.find(b);
  return x != members_.end() && y != members_.end() && x->second.group == y->second.group;
}

}  // namespace onboard::engine
