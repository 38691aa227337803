// onboard/engine/dispatcher.hpp: from batches to per-address outcomes.
//
// One sender coroutine per connection takes batches from the queue and drives each to a terminal
// outcome for every address: pace (rate gate) -> journal the intent -> sign -> send -> classify ->
// retry, bisect, verify or record. What each response means is decided in one place
// (`classify_exchange` in retry_policy) so the same rules serve every operation.
//
//   dispatcher d{cfg, signer, gate, journal, stats, sink};
//   for (auto& t : transports) net::co_spawn(ex, d.async_sender(*t, queue), net::detached);
#pragma once

#include <onboard/engine/async_queue.hpp>
#include <onboard/engine/batcher.hpp>
#include <onboard/engine/chime_api.hpp>
#include <onboard/engine/outcome.hpp>
#include <onboard/engine/retry_policy.hpp>
#include <onboard/engine/run_stats.hpp>
#include <onboard/engine/transport.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace onboard {

namespace signing {
class signer;
}
namespace engine {
class rate_gate;
}
class journal;

// in_doubt_policy: what to do with a request that may or may not have been applied.
enum class in_doubt_policy { verify, resend, skip };

// work_batch: what one InviteUsers call carries (<= 50 items), or one CreateUser: the batcher's
// own batch, handed from the reader to a sender and back (spent_batch) without copying a string.
using work_item = planned_address;
using work_batch = batch;

// dispatch_config: the knobs of the sending side.
struct dispatch_config {
  operation op = operation::invite;
  int max_attempts = 10;          // transient failures (5xx, drops) per batch; 429s are paced, not counted
  in_doubt_policy in_doubt = in_doubt_policy::verify;
  bool retry_failed = false;      // give per-address `Failed` invites one more try
  engine::retry_config retry;     // backoff, budget, deadline (max_attempts and in_doubt override)
  std::unordered_set<std::string> in_doubt_addresses;  // from the journal of an earlier run
};

// fatal_stop: why the whole run had to stop (bad credentials, unknown account, TLS refused).
struct fatal_stop {
  int exit_code = 0;
  std::string message;
};

// outcome_sink: called once per address with its terminal outcome (from any sender thread).
using outcome_sink = std::function<void(const work_item&, const address_outcome&)>;

class dispatcher {
 public:
  dispatcher(dispatch_config cfg, const signing::signer& signer, engine::rate_gate& gate,
             journal* jrnl, run_stats& stats, outcome_sink sink);

  // spawn_sender: starts a sender coroutine on `ex` (the transport's strand) that takes batches
  // from `queue` until it is closed or the run stops; `done` runs when it ends.
  void spawn_sender(boost::asio::any_io_executor ex, transport& t, async_queue<work_batch>& queue,
                    std::function<void(std::exception_ptr)> done);

  // request_stop: senders take no new batch. Senders waiting for a token or a batch are woken at
  // once; with `hard`, requests in flight are cancelled too (they stay in doubt in the journal).
  void request_stop(bool hard = false);
  bool stopping() const { return stopping_.load(); }

  // fatal: set when the run had to stop (first reason wins).
  std::optional<fatal_stop> fatal() const;

  // spent_batch: a batch a sender has finished with, for the reader to refill (ingest::next_batch
  // hands its strings to the batcher, which fills them again), or an empty one. Any thread.
  // Refilling instead of allocating keeps the reader's allocations from being freed by the
  // senders' threads, where every free of another thread's memory contends for its malloc arena.
  work_batch spent_batch();

 private:
  struct classified;
  // sender: one sender coroutine's identity: where it runs, how to cancel it, what it awaits.
  struct sender {
    boost::asio::any_io_executor ex;
    transport* t = nullptr;
    boost::asio::cancellation_signal cancel;
    bool waiting = false;  // in the rate gate, the queue or a backoff (safe to cancel on a soft stop)
    // The batch being processed. Its intent is either recorded just before its first request or,
    // when it was taken as `ahead`, was appended then (current_ticket != 0) and is awaited there.
    std::optional<work_batch> current;
    std::uint64_t current_ticket = 0;
    bool current_sent = false;  // its intent is durable and a request has gone out
    // current_maybe_applied: some request carrying its addresses may have been applied (a 2xx,
    // a 500/502/504, a timeout or reset after writing); until then a stop may withdraw its intent.
    bool current_maybe_applied = false;
    // ahead: the next batch, taken while `current` is in flight so that the commit of its intent
    // overlaps that exchange instead of delaying its own send.
    std::optional<work_batch> ahead;
    std::uint64_t ahead_ticket = 0;
    bool paced = false;  // its last token came after a wait: the rate gate sets the pace
    // Scratch for turning a response into outcomes, reused from response to response so that
    // its strings stop allocating after the first (finish() has consumed it before the next).
    std::vector<chime::invite> invites;
    std::vector<address_outcome> outcomes;
  };
  boost::asio::awaitable<void> async_sender(sender& s, async_queue<work_batch>& queue);
  boost::asio::awaitable<void> async_pause(sender& s, engine::retry_duration d);
  boost::asio::awaitable<void> async_process(sender& s, work_batch& batch);
  void take_ahead(sender& s, async_queue<work_batch>& queue);
  void release_unsent(sender& s);
  boost::asio::awaitable<bool> async_verify(sender& s, work_batch& batch,
                                            bool only_earlier_in_doubt);
  boost::asio::awaitable<classified> async_exchange(sender& s, const std::string& partition,
                                                    const std::string& method,
                                                    const std::string& target, std::string body,
                                                    std::size_t addresses, bool carries_intent);
  void finish(const work_batch& b, std::span<const address_outcome> outcomes);
  void fail_all(const work_batch& b, const std::string& code, const std::string& message,
                unsigned attempts, const std::string& request_id = {});
  void set_fatal(int code, std::string message);
  void recycle(work_batch&& b);

  dispatch_config cfg_;
  const signing::signer& signer_;
  engine::rate_gate& gate_;
  engine::retry_policy policy_;
  journal* journal_;
  run_stats& stats_;
  outcome_sink sink_;
  std::atomic<bool> stopping_{false};
  std::deque<sender> senders_;  // deque: stable addresses for the coroutines
  async_queue<work_batch>* queue_ = nullptr;
  mutable std::mutex fatal_mu_;
  std::optional<fatal_stop> fatal_;
  std::mutex spent_mu_;
  std::vector<work_batch> spent_;  // finished batches for spent_batch(); bounded by recycle()
};

}  // namespace onboard
