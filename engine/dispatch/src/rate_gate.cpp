#include <onboard/dispatch/rate_gate.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <optional>

namespace onboard::engine {

net::awaitable<set_stamp> rate_gate::async_acquire(std::string_view partition) {
  // The caller's string may not outlive the first suspension.
  const std::string key(partition);
  set_reservation res;
  {
    std::lock_guard lock(mutex_);
    res = set_.reserve(key, limiter_clock::now());
  }
  // ticket_guard: if the coroutine leaves by exception or is destroyed while waiting, the ticket
  // goes back so the senders queued behind it are not delayed by a slot nobody uses.
  struct ticket_guard {
    rate_gate* gate;
    const set_reservation* r;
    bool armed = true;
    ~ticket_guard() {
      if (!armed) return;
      std::lock_guard lock(gate->mutex_);
      gate->set_.cancel(*r, limiter_clock::now());
    }
  } guard{this, &res};

  // The timer is made only when there is something to wait for: most acquisitions of an
  // unthrottled run get their token at once, and making a timer looks up the timer service.
  std::optional<net::steady_timer> timer;
  for (;;) {
    time_point wake;
    {
      std::lock_guard lock(mutex_);
      auto now = limiter_clock::now();
      auto w = set_.wait_until(res, now);
      if (!w) {
        guard.armed = false;
        co_return set_.on_send(key, res, now);
      }
      wake = *w;
    }
    if (!timer) timer.emplace(co_await net::this_coro::executor);
    timer->expires_at(wake);
    co_await timer->async_wait(net::use_awaitable);
  }
}

void rate_gate::on_response(std::string_view partition, const set_stamp& stamp,
                            response_kind kind) {
  std::lock_guard lock(mutex_);
  set_.on_response(partition, limiter_clock::now(), stamp, kind);
}

void rate_gate::on_abandon(std::string_view, const set_stamp& stamp) {
  std::lock_guard lock(mutex_);
  set_.on_abandon(stamp);
}

void rate_gate::on_retry_after(std::string_view partition, seconds_d delay) {
  std::lock_guard lock(mutex_);
  set_.on_retry_after(partition, limiter_clock::now(), delay);
}

limiter_snapshot rate_gate::snapshot(std::string_view partition) const {
  std::lock_guard lock(mutex_);
  limiter_snapshot s;
  const rate_limiter* found = set_.group_limiter(partition);
  if (!found) return s;
  const rate_limiter& l = *found;
  auto now = limiter_clock::now();
  s.rate = l.rate();
  s.w_max = l.w_max();
  s.goodput = l.goodput(now);
  s.burst = l.burst();
  s.latency_p95 = l.latency_p95();
  s.phase = l.phase();
  s.gate_until = l.gate_until();
  s.in_flight = l.in_flight();
  s.in_flight_cap = l.in_flight_cap();
  s.breaker_open = l.breaker_open(now);
  s.sent = l.sent();
  s.successes = l.successes();
  s.throttles = l.throttles();
  s.unavailables = l.unavailables();
  s.cuts = l.cuts();
  return s;
}

bool rate_gate::shares_limit(std::string_view a, std::string_view b) const {
  std::lock_guard lock(mutex_);
  return set_.shares_limit(a, b);
}

}  // namespace onboard::engine
