// onboard/dispatch/rate_gate.hpp: the asynchronous face of rate_limiter for sender coroutines on a
// (possibly multi-threaded) io_context. Partitions are "API/account" (limit_partition); the
// limiter_set behind the gate maps them to one limiter per limit the service enforces.
//
// A sender waits in co_await on its own steady_timer, never blocking a thread; the limiters are
// guarded by one mutex held only for the few arithmetic steps of a call, never across an await.
// Cancelling the coroutine (or destroying it) gives its ticket back. The gate must outlive every
// coroutine that uses it.
//
//   #include <onboard/dispatch/retry_policy.hpp>
//   // given: const rate_limiter_config& cfg, std::string_view partition
//   // given: net::awaitable<response_kind> send_batch(), std::string_view retry_after
//   onboard::engine::rate_gate gate{cfg};
//   auto stamp = co_await gate.async_acquire(partition);  // paced; this *is* on_send
//   auto kind = co_await send_batch();                    // e.g. to_response_kind(status, cls)
//   gate.on_response(partition, stamp, kind);             // every granted send, exactly once
//   auto now = std::chrono::system_clock::now();
//   if (auto ra = parse_retry_after(retry_after, "", now)) gate.on_retry_after(partition, *ra);
#pragma once

#include <onboard/dispatch/limiter_set.hpp>
#include <onboard/dispatch/rate_limiter.hpp>

#include <boost/asio/awaitable.hpp>

#include <mutex>
#include <string>
#include <string_view>

namespace onboard::engine {

namespace net = boost::asio;

// limiter_snapshot: a partition's state for metrics and logs.
struct limiter_snapshot {
  double rate = 0, w_max = 0, goodput = 0, burst = 0;
  double latency_p95 = 0;  // s
  limiter_phase phase = limiter_phase::slow_start;
  time_point gate_until{};
  int in_flight = 0, in_flight_cap = 0;
  bool breaker_open = false;
  std::uint64_t sent = 0, successes = 0, throttles = 0, unavailables = 0, cuts = 0;
};

// rate_gate: keyed rate_limiters behind a mutex, with an awaitable acquire.
class rate_gate {
 public:
  explicit rate_gate(const rate_limiter_config& cfg, const limiter_set_config& set_cfg = {})
      : set_(cfg, set_cfg) {}
  rate_gate(const rate_gate&) = delete;
  rate_gate& operator=(const rate_gate&) = delete;

  // async_acquire: waits (timer co_await) until the partition lets one request go, records the
  // send and returns its stamp. Throws the timer's error (operation_aborted) when cancelled, in
  // which case nothing was taken. Pass the stamp to on_response (or on_abandon if not sent).
  net::awaitable<set_stamp> async_acquire(std::string_view partition);

  // on_response: the answer to a request granted with `stamp`.
  void on_response(std::string_view partition, const set_stamp& stamp, response_kind kind);
  // on_abandon: a granted request that will not be sent after all.
  void on_abandon(std::string_view partition, const set_stamp& stamp);
  // on_retry_after: pause the whole partition for at least `delay` (capped by the config).
  void on_retry_after(std::string_view partition, seconds_d delay);

  // snapshot: the state now of the partition's group limiter (shared with the other partitions
  // of its group); a default snapshot for an unknown partition.
  limiter_snapshot snapshot(std::string_view partition) const;
  // shares_limit: whether two partitions are paced by one limiter now.
  bool shares_limit(std::string_view a, std::string_view b) const;

 private:
  mutable std::mutex mutex_;
  limiter_set set_;  // guarded by mutex_
};

}  // namespace onboard::engine
