// credential_provider.cpp: snapshots, the two refresh windows, and the refresher thread.
#include <onboard/signing/credential_provider.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

namespace onboard::signing {

namespace {

using sys_clock = std::chrono::system_clock;

constexpr std::chrono::seconds botocore_advisory{15 * 60};
constexpr std::chrono::seconds botocore_mandatory{10 * 60};

// same_set: a fetch that handed back the set we have is no refresh (static keys re-read).
bool same_set(const credentials& a, const credentials& b) {
  return a.access_key_id == b.access_key_id &&
         a.secret_access_key.reveal() == b.secret_access_key.reveal() &&
         a.session_token.reveal() == b.session_token.reveal();
}

}  // namespace

refresh_windows windows_for(sys_clock::duration lifetime) {
  using ms = std::chrono::milliseconds;
  const ms life = std::max(ms{0}, std::chrono::duration_cast<ms>(lifetime));
  return {std::min<ms>(botocore_advisory, life / 4), std::min<ms>(botocore_mandatory, life / 6)};
}

std::string key_id_hint(std::string_view id) {
  return "…" + std::string(id.substr(id.size() > 4 ? id.size() - 4 : 0));
}

credential_provider::credential_provider(credentials c)
    : now_(sys_clock::now), current_(make_entry(std::move(c))) {}

credential_provider::credential_provider(credentials initial, credential_fetch refetch,
                                         clock_fn now)
    : refetch_(std::move(refetch)), now_(std::move(now)), current_(make_entry(std::move(initial))) {
}

credential_provider::~credential_provider() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (refresher_.joinable()) refresher_.join();
}

credential_provider::entry credential_provider::make_entry(credentials c) const {
  entry e;
  if (c.expiration && *c.expiration != sys_clock::time_point::max()) {
    const auto w = windows_for(*c.expiration - now_());
    e.advisory_at = *c.expiration - w.advisory;
    e.mandatory_at = *c.expiration - w.mandatory;
  } else {
    e.advisory_at = e.mandatory_at = sys_clock::time_point::max();
  }
  e.creds = std::make_shared<const credentials>(std::move(c));
  return e;
}

credential_provider::entry credential_provider::snapshot() const {
  std::lock_guard lk(mu_);
  return current_;
}

std::uint64_t credential_provider::refreshes() const {
  std::lock_guard lk(mu_);
  return refreshes_;
}

credentials_ptr credential_provider::current() {
  entry e = snapshot();
  if (!refetch_ || now_() < e.mandatory_at) return e.creds;
  refresh(e.creds, "mandatory");
  return snapshot().creds;
}

bool credential_provider::refresh_after_refusal(const credentials_ptr& refused) {
  if (!refetch_) return false;
  return refresh(refused, "refused as expired");
}

bool credential_provider::refresh_if_due() {
  entry e = snapshot();
  if (!refetch_ || now_() < e.advisory_at) return false;
  return refresh(e.creds, "advisory");
}

bool credential_provider::refresh(const credentials_ptr& seen, const char* why) {
  std::lock_guard one_at_a_time(refresh_mu_);
  if (snapshot().creds != seen) return true;  // another thread refreshed while we waited
  resolve_result r = refetch_();
  if (!r) {
    spdlog::warn("credentials: {} refresh from {} failed: {}", why, seen->source, r.error);
    return false;
  }
  if (same_set(*r.value, *seen)) {
    spdlog::warn("credentials: {} refresh from {} gave the same key {} again", why, seen->source,
                 key_id_hint(seen->access_key_id));
    return false;
  }
  entry fresh = make_entry(std::move(*r.value));
  spdlog::info("credentials refreshed ({}) from {}: key id {}{}", why, fresh.creds->source,
               key_id_hint(fresh.creds->access_key_id),
               fresh.creds->expiration ? ", valid until " + format_iso8601(*fresh.creds->expiration)
                                       : std::string());
  {
    std::lock_guard lk(mu_);
    current_ = std::move(fresh);
    ++refreshes_;
  }
  wake_.notify_all();  // the refresher's next wake-up moved
  return true;
}

std::shared_ptr<credential_provider> make_provider(resolve_result r) {
  if (!r.refetch) return std::make_shared<credential_provider>(std::move(*r.value));
  return std::make_shared<credential_provider>(std::move(*r.value), std::move(r.refetch));
}

void credential_provider::start_refresher() {
  if (!refetch_ || refresher_.joinable()) return;
  refresher_ = std::thread([this] { refresher_loop(); });
}

void credential_provider::refresher_loop() {
  std::unique_lock lk(mu_);
  auto next_try = sys_clock::time_point::min();  // after a failed refresh: not before then
  while (!stop_) {
    auto due = std::max(current_.advisory_at, next_try);
    if (due == sys_clock::time_point::max()) {
      wake_.wait(lk);
      continue;
    }
    // Wait the difference on the (injectable) clock; a refresh by another thread wakes us.
    if (const auto wait = due - now_(); wait > sys_clock::duration::zero()) {
      wake_.wait_for(lk, wait);
      continue;
    }
    lk.unlock();
    const bool ok = refresh_if_due();
    lk.lock();
    if (ok) {
      next_try = sys_clock::time_point::min();
      continue;
    }
    // Failed or nothing new: again after a tenth of the time left, within 1 s..60 s.
    const auto left = current_.mandatory_at - now_();
    next_try = now_() + std::clamp<sys_clock::duration>(left / 10, std::chrono::seconds{1},
                                                        std::chrono::seconds{60});
  }
}

}  // namespace onboard::signing
