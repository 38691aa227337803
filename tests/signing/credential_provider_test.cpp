// credential_provider: botocore's refresh windows (scaled to short lifetimes), refreshes that
// never pause a signer outside the mandatory window, one fetch for many refusals, and signatures
// that always use one consistent (key, secret, token) set while another thread refreshes.
#include <onboard/signing/credential_provider.hpp>
#include <onboard/signing/sigv4.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

namespace {

using namespace onboard::signing;
using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

// fake_time: a clock the test moves.
struct fake_time {
  std::atomic<sys::rep> ticks{sys::now().time_since_epoch().count()};
  sys::time_point now() const { return sys::time_point(sys::duration(ticks.load())); }
  void advance(sys::duration d) { ticks += d.count(); }
  credential_provider::clock_fn fn() {
    return [this] { return now(); };
  }
};

credentials make_set(int n, std::optional<sys::time_point> expiry) {
  credentials c;
  c.access_key_id = "ASIATEST" + std::to_string(1000 + n);
  c.secret_access_key = secret_string("secret/" + std::to_string(n) + "/wJalrXUtnFEMIK7MDENG");
  c.session_token = secret_string("token-" + std::to_string(n));
  c.expiration = expiry;
  c.source = "test source";
  return c;
}

// source: hands out set 1, 2, ... each valid for `lifetime` from the fake clock's now.
struct source {
  fake_time& t;
  sys::duration lifetime;
  std::atomic<int> fetches{0};
  std::atomic<bool> failing{false};
  credential_fetch fetch() {
    return [this] {
      resolve_result r;
      if (failing) {
        r.error = "the source is down";
        return r;
      }
      int n = ++fetches;
      r.value = make_set(n, t.now() + lifetime);
      return r;
    };
  }
};

TEST(credential_provider, windows_are_botocores_for_an_hour_and_proportional_below) {
  EXPECT_EQ(windows_for(1h).advisory, 15min);
  EXPECT_EQ(windows_for(1h).mandatory, 10min);
  EXPECT_EQ(windows_for(12h).advisory, 15min);
  EXPECT_EQ(windows_for(12h).mandatory, 10min);
  EXPECT_EQ(windows_for(60s).advisory, 15s);
  EXPECT_EQ(windows_for(60s).mandatory, 10s);
  EXPECT_EQ(windows_for(15min).advisory, 225s);
  EXPECT_EQ(windows_for(-5s).advisory, 0s);
}

TEST(credential_provider, static_keys_are_never_refreshed) {
  credential_provider p(make_set(0, std::nullopt));
  EXPECT_FALSE(p.refreshable());
  auto c = p.current();
  EXPECT_FALSE(p.refresh_if_due());
  EXPECT_FALSE(p.refresh_after_refusal(c));
  EXPECT_EQ(p.current(), c);
}

TEST(credential_provider, advisory_refresh_is_the_refreshers_and_never_blocks_current) {
  fake_time t;
  source src{t, 60s};
  credential_provider p(make_set(0, t.now() + 60s), src.fetch(), t.fn());
  auto first = p.current();

  t.advance(44s);  // 16 s left: before the advisory window (15 s)
  EXPECT_FALSE(p.refresh_if_due());
  EXPECT_EQ(src.fetches, 0);

  t.advance(2s);  // 14 s left: advisory; a signer still gets the old set without a fetch
  EXPECT_EQ(p.current(), first);
  EXPECT_EQ(src.fetches, 0);
  EXPECT_TRUE(p.refresh_if_due());
  EXPECT_EQ(src.fetches, 1);
  EXPECT_EQ(p.current()->access_key_id, "ASIATEST1001");
  EXPECT_EQ(p.refreshes(), 1u);
}

TEST(credential_provider, a_failed_advisory_refresh_keeps_the_old_set) {
  fake_time t;
  source src{t, 60s};
  credential_provider p(make_set(0, t.now() + 60s), src.fetch(), t.fn());
  auto first = p.current();
  src.failing = true;
  t.advance(46s);
  EXPECT_FALSE(p.refresh_if_due());
  EXPECT_EQ(p.current(), first);
}

TEST(credential_provider, inside_the_mandatory_window_current_refreshes_itself) {
  fake_time t;
  source src{t, 60s};
  credential_provider p(make_set(0, t.now() + 60s), src.fetch(), t.fn());
  t.advance(51s);  // 9 s left: mandatory (10 s)
  EXPECT_EQ(p.current()->access_key_id, "ASIATEST1001");
  EXPECT_EQ(src.fetches, 1);
  EXPECT_EQ(p.current()->access_key_id, "ASIATEST1001");  // the new set is not due yet
  EXPECT_EQ(src.fetches, 1);

  // A mandatory refresh that fails hands out the old set (the service decides; a refusal
  // then asks again).
  src.failing = true;
  t.advance(55s);
  EXPECT_EQ(p.current()->access_key_id, "ASIATEST1001");
}

TEST(credential_provider, many_refusals_of_one_set_fetch_once) {
  fake_time t;
  source src{t, 1h};
  credential_provider p(make_set(0, std::nullopt), src.fetch(), t.fn());
  auto refused = p.current();
  std::vector<std::thread> threads;
  std::atomic<int> refreshed{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] { refreshed += p.refresh_after_refusal(refused) ? 1 : 0; });
  for (auto& th : threads) th.join();
  EXPECT_EQ(src.fetches, 1);
  EXPECT_EQ(refreshed, 8);
  EXPECT_NE(p.current(), refused);
}

TEST(credential_provider, a_refetch_giving_the_same_keys_is_no_refresh) {
  fake_time t;
  credential_provider p(make_set(7, std::nullopt), [] {
    resolve_result r;
    r.value = make_set(7, std::nullopt);
    return r;
  });
  auto c = p.current();
  EXPECT_FALSE(p.refresh_after_refusal(c));
  EXPECT_EQ(p.current(), c);
}

// Eight threads sign while another replaces the credentials 200 times: every request verifies
// against the union of the sets, which needs key id, secret and token of one and the same set.
TEST(credential_provider, signatures_use_one_consistent_set_while_another_thread_refreshes) {
  constexpr int sets = 200;
  std::vector<credentials> all;
  for (int n = 0; n <= sets; ++n) all.push_back(make_set(n, std::nullopt));
  std::atomic<int> next{1};
  auto p = std::make_shared<credential_provider>(make_set(0, std::nullopt), [&] {
    resolve_result r;
    int n = next++;
    r.value = make_set(n <= sets ? n : 0, std::nullopt);
    return r;
  });
  signer s(p, "us-east-1", "chime");
  verifier v(all, "us-east-1", "chime");

  std::atomic<bool> done{false};
  std::atomic<int> signed_requests{0}, refused{0};
  std::vector<std::thread> signers;
  for (int i = 0; i < 8; ++i)
    signers.emplace_back([&, i] {
      std::string body = R"({"UserEmailList":["user)" + std::to_string(i) + R"(@example.com"]})";
      do {
        std::vector<header> hs{{"Host", "service.chime.aws.amazon.com"},
                               {"Content-Type", "application/json"}};
        std::vector<header_view> views;
        for (const auto& h : hs) views.push_back({h.name, h.value});
        request_view req{"POST", "/accounts/a/users?operation=add", views, body};
        auto now = clock::now();
        auto added = s.sign(req, now);
        for (auto& h : added) hs.push_back(std::move(h));
        views.clear();
        for (const auto& h : hs) views.push_back({h.name, h.value});
        if (!v.verify({"POST", "/accounts/a/users?operation=add", views, body}, now)) ++refused;
        ++signed_requests;
      } while (!done.load());
    });
  // Each swap waits (bounded) for a signature made since the one before, so signing and swapping
  // overlap however the threads are scheduled (on a loaded machine the swaps alone once finished
  // before the signers had signed twice).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int n = 0; n < sets; ++n) {
    while (signed_requests.load() <= n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    ASSERT_TRUE(p->refresh_after_refusal(p->current()));
  }
  done = true;
  for (auto& th : signers) th.join();
  EXPECT_EQ(refused, 0) << "of " << signed_requests;
  EXPECT_GT(signed_requests, sets);
  EXPECT_EQ(p->current()->access_key_id, all[sets].access_key_id);
}

// The refresher thread refreshes on its own, ahead of expiry, on the real clock: a set valid for
// 2 s is replaced within its advisory window (the last 0.5 s), waited for with a bound.
TEST(credential_provider, the_refresher_thread_refreshes_ahead_of_expiry) {
  std::promise<sys::time_point> fetched;
  std::atomic<int> fetches{0};
  const auto expiry = sys::now() + 2s;
  credential_provider p(make_set(0, expiry), [&] {
    resolve_result r;
    if (fetches++ == 0) fetched.set_value(sys::now());
    r.value = make_set(fetches, sys::now() + 1h);
    return r;
  });
  p.start_refresher();
  auto f = fetched.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  const auto at = f.get();
  EXPECT_LT(at, expiry);
  EXPECT_GE(at, expiry - 600ms);  // not before the advisory window (0.5 s; a little slack)
}

}  // namespace
