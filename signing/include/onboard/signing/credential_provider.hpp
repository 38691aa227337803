// onboard/signing/credential_provider.hpp: the credentials a long run signs with, refreshed
// before they expire, as botocore's RefreshableCredentials.
//
// Each fetch yields one immutable snapshot (key id, secret, token, expiry); signers take the
// current snapshot with current() and sign with it alone, so a request is never signed with the
// key of one set and the token of another, whichever thread refreshes meanwhile.
//
// Refresh windows: botocore refreshes 15 minutes ahead (advisory: a failure keeps the old set)
// and insists at 10 (mandatory: the caller waits for the refresh). Credentials that live less
// than an hour get windows of the same proportion of their lifetime (a quarter and a sixth), so
// that a 15-minute STS session is not refreshed on every request and a 60-second test credential
// is refreshed 15 s ahead and insisted on at 10 s. The advisory refresh runs on the provider's
// own thread (start_refresher), so the senders never wait for it.
//
//   // given: signing::resolve_result r (with r.refetch set for a refreshable source)
//   auto p = std::make_shared<credential_provider>(std::move(*r.value), r.refetch);
//   p->start_refresher();
//   credentials_ptr c = p->current();   // sign with *c
//   if (refused_as_expired) p->refresh_after_refusal(c);
#pragma once

#include <onboard/signing/credentials.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace onboard::signing {

using credentials_ptr = std::shared_ptr<const credentials>;

// refresh_windows: how long before expiry to refresh (advisory) and to insist (mandatory).
struct refresh_windows {
  std::chrono::milliseconds advisory;
  std::chrono::milliseconds mandatory;
};

// windows_for: botocore's 15/10 minutes, or a quarter/sixth of `lifetime` when that is shorter.
refresh_windows windows_for(std::chrono::system_clock::duration lifetime);

// key_id_hint: "…ABCD": the last four characters of a key id, what logs may show of it.
std::string key_id_hint(std::string_view access_key_id);

class credential_provider {
 public:
  using clock_fn = std::function<std::chrono::system_clock::time_point()>;

  // Credentials that are never refreshed (static keys).
  explicit credential_provider(credentials c);
  // Refreshable credentials: `refetch` fetches a new set from the same source. `now` is
  // injectable for tests.
  credential_provider(credentials initial, credential_fetch refetch,
                      clock_fn now = std::chrono::system_clock::now);
  ~credential_provider();
  credential_provider(const credential_provider&) = delete;
  credential_provider& operator=(const credential_provider&) = delete;

  // current: the snapshot to sign with. Blocks only inside the mandatory window (one thread
  // refreshes, the others wait for it); when that refresh fails the old set is returned.
  credentials_ptr current();

  // refresh_after_refusal: the service refused `refused` as expired. Refreshes unless another
  // thread already replaced that snapshot; true when current() now differs from `refused`.
  bool refresh_after_refusal(const credentials_ptr& refused);

  // refresh_if_due: one advisory step (what the refresher thread does when it wakes): refreshes
  // when inside the advisory window. True when a new set was installed.
  bool refresh_if_due();

  // start_refresher: a thread that wakes at each snapshot's advisory time and refreshes; a
  // failed refresh is tried again (every tenth of the time left, 1 s to 60 s). No-op for static
  // credentials. Stopped by the destructor.
  void start_refresher();

  bool refreshable() const { return static_cast<bool>(refetch_); }
  std::uint64_t refreshes() const;

 private:
  struct entry {
    credentials_ptr creds;
    std::chrono::system_clock::time_point advisory_at;  // max() when it does not expire
    std::chrono::system_clock::time_point mandatory_at;
  };
  entry make_entry(credentials c) const;
  entry snapshot() const;
  // refresh: fetches and installs a new set unless `seen` is no longer current (someone else
  // refreshed). Holds refresh_mu_. True when current differs from `seen` afterwards.
  bool refresh(const credentials_ptr& seen, const char* why);
  void refresher_loop();

  credential_fetch refetch_;
  clock_fn now_;
  mutable std::mutex mu_;  // guards current_, refreshes_, stop_
  entry current_;
  std::uint64_t refreshes_ = 0;
  bool stop_ = false;
  std::condition_variable wake_;
  std::mutex refresh_mu_;  // one fetch at a time
  std::thread refresher_;
};

// make_provider: the provider for a resolved set (`r` holds one): refreshable when its source can
// fetch again (r.refetch), static otherwise.
std::shared_ptr<credential_provider> make_provider(resolve_result r);

}  // namespace onboard::signing
