// onboard/dispatch/dispatcher.hpp: from batches to per-address outcomes.
//
// One sender coroutine per connection takes batches from the queue and drives each to a terminal
// outcome for every address. The happy path of a batch, in dispatcher.cpp's async_attempt: take a
// token (rate gate) -> make the intent durable (journal) -> sign -> send -> settle. Every other
// answer is settled by a helper that says what comes next (done, send again, stop), and what an
// answer means is decided in one place (retry_policy's classify_*) for every operation.
//
// Nobody lost, nobody invited twice: every address of a batch ends with an outcome, or stays in
// doubt in the journal (its intent without outcome) and the run ends non-zero (fatal()). Under
// --in-doubt verify an address is sent again only after ListUsers said the service does not know
// it; one that ListUsers cannot check is never sent again.
//
//   dispatcher d{cfg, signer, gate, &journal, stats, sink};
//   for (auto& t : transports) d.spawn_sender(t->executor(), *t, queue, on_sender_done);
//   ...
//   if (auto f = d.fatal()) return exit_code_of(f->kind);   // the CLI's mapping
#pragma once

#include <onboard/dispatch/async_latch.hpp>
#include <onboard/dispatch/async_queue.hpp>
#include <onboard/dispatch/in_doubt_listing.hpp>
#include <onboard/dispatch/fatal.hpp>
#include <onboard/dispatch/refusal_watch.hpp>
#include <onboard/core/batch.hpp>
#include <onboard/chime/chime_api.hpp>
#include <onboard/core/outcome.hpp>
#include <onboard/dispatch/retry_policy.hpp>
#include <onboard/dispatch/run_stats.hpp>
#include <onboard/dispatch/transport.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

// dispatch_config: the knobs of the sending side.
struct dispatch_config {
  operation op = operation::invite;
  int max_attempts = 10;  // transient failures (5xx, drops) per batch; 429s are paced, not counted
  in_doubt_policy in_doubt = in_doubt_policy::verify;
  bool retry_failed = false;           // give per-address `Failed` invites one more try
  engine::failure_limit max_failures;  // --max-failures: stop once this many addresses failed
  engine::retry_config retry;  // backoff, budget, deadline (max_attempts and in_doubt override)
  // in_doubt_addresses: what an earlier run left in doubt, as its journal spells them. Matched
  // by address_key under the journal header's case rule, not as written, so that a corpus
  // re-exported with `Ann@` for `ann@` still has the address checked before it is sent.
  std::unordered_set<std::string> in_doubt_addresses;
};

// send_partition / list_partition: the rate gate's partitions (limit_partition) for the run's
// operation and for ListUsers on an account: AWS limits each API on its own.
std::string send_partition(operation op, std::string_view account);
std::string list_partition(std::string_view account);

// outcome_sink: called once per address with its terminal outcome (from any sender thread).
using outcome_sink = std::function<void(const planned_address&, const address_outcome&)>;

class dispatcher {
 public:
  dispatcher(dispatch_config cfg, const signing::signer& signer, engine::rate_gate& gate,
             journal* jrnl, run_stats& stats, outcome_sink sink);

  // spawn_sender: starts a sender coroutine on `ex` (the transport's strand) that takes batches
  // from `queue` until it is closed or the run stops; `done` runs when it ends.
  void spawn_sender(boost::asio::any_io_executor ex, transport& t, async_queue<batch>& queue,
                    std::function<void(std::exception_ptr)> done);

  // request_stop: senders take no new batch. Senders waiting for a token or a batch are woken at
  // once; with `hard`, requests in flight are cancelled too (they stay in doubt in the journal).
  void request_stop(bool hard = false);
  bool stopping() const { return stopping_.load(); }

  // fatal: why the run must end non-zero: it had to stop (first reason wins), or it went on to
  // the end but left addresses in doubt (fatal_kind::in_doubt); the message then says how many
  // and how to finish. nullopt when every address handed to the senders has its outcome.
  std::optional<fatal_stop> fatal() const;

  // spent_batch: a batch a sender has finished with, for the reader to refill (ingest::next_batch
  // hands its strings to the batcher, which fills them again), or an empty one. Any thread.
  // Refilling instead of allocating keeps the reader's allocations from being freed by the
  // senders' threads, where every free of another thread's memory contends for its malloc arena.
  batch spent_batch();

 private:
  struct classified;
  struct attempt_log;
  struct verification;
  struct lookup;
  struct doubt_round;
  class work_list;
  enum class next_step { settled, send_again, stop };
  using time_point = std::chrono::steady_clock::time_point;

  // batch_state: how far the batch a sender holds has gone, which decides what a stop does
  // with its journal intent.
  enum class batch_state {
    unsent,         // no intent in the journal: a stop leaves nothing behind
    intent_ahead,   // intent appended ahead (take_ahead), not yet awaited: a stop withdraws it
    sent,           // intent durable, requests out, none of them can have been applied: withdrawn
    maybe_applied,  // a request may have been applied (2xx, 5xx, cut after writing): in doubt
  };

  // sender: one sender coroutine's identity: where it runs, how to cancel it, what it holds.
  struct sender {
    boost::asio::any_io_executor ex;
    transport* t = nullptr;
    boost::asio::cancellation_signal cancel;
    // waiting: in the rate gate, the queue or a backoff (safe to cancel on a soft stop).
    bool waiting = false;
    // finished: its coroutine is over, so its signal is never emitted again.
    bool finished = false;
    bool paced = false;            // its last token came after a wait: the rate gate sets the pace
    unsigned attempt = 1;          // the request's attempt at its addresses, for --debug's line
    std::optional<batch> current;  // the batch being processed
    batch_state current_state = batch_state::unsent;
    // handed / accounted: addresses of `current` when it was taken, and those that have an
    // outcome or were left in doubt since: a batch that ends short of them without a stop is a
    // bug, reported rather than left silently in doubt.
    std::size_t handed = 0;
    std::size_t accounted = 0;
    std::uint64_t current_ticket = 0;  // its intent's journal ticket while intent_ahead
    // ahead: the next batch, taken while `current` is in flight so that the commit of its intent
    // overlaps that exchange instead of delaying its own send.
    std::optional<batch> ahead;
    std::uint64_t ahead_ticket = 0;
    // Scratch for turning a response into outcomes, reused from response to response so that
    // its strings stop allocating after the first (finish() has consumed it before the next).
    std::vector<chime::invite> invites;
    std::vector<address_outcome> outcomes;
  };

  // The life of a sender and of one batch, in the order they run.
  boost::asio::awaitable<void> async_sender(sender& s, async_queue<batch>& queue);
  void take_ahead(sender& s, async_queue<batch>& queue);
  boost::asio::awaitable<void> async_process(sender& s, batch& b);
  boost::asio::awaitable<next_step> async_attempt(sender& s, work_list& work, attempt_log& log);
  boost::asio::awaitable<classified> async_exchange(sender& s, const std::string& partition,
                                                    const std::string& method,
                                                    const std::string& target, std::string body,
                                                    std::size_t addresses, bool carries_intent);
  // async_exchange_once: one request of async_exchange, which adds the one refresh and retry
  // after a refusal of expired credentials.
  boost::asio::awaitable<classified> async_exchange_once(sender& s, const std::string& partition,
                                                         const std::string& method,
                                                         const std::string& target,
                                                         std::string body, std::size_t addresses,
                                                         bool carries_intent);
  boost::asio::awaitable<exchange_result> async_send_signed(transport& t, const std::string& method,
                                                            const std::string& target,
                                                            std::string body,
                                                            signing::credentials_ptr* used);
  void note_clock_offset(std::chrono::milliseconds offset, std::chrono::milliseconds was);
  boost::asio::awaitable<void> async_make_intent_durable(sender& s);
  void release_unsent(sender& s);

  // Settling an answer: each returns what comes next for the part being sent.
  std::optional<next_step> settle_success(sender& s, work_list& work, const classified& c,
                                          attempt_log& log);
  std::optional<next_step> settle_refusal(sender& s, work_list& work, const classified& c,
                                          const attempt_log& log);
  boost::asio::awaitable<next_step> async_back_off(sender& s, work_list& work, const classified& c,
                                                   attempt_log& log);
  next_step settle_exhausted(sender& s, work_list& work, const classified& c,
                             const attempt_log& log);
  boost::asio::awaitable<bool> async_verify(sender& s, batch& b, verification v);
  boost::asio::awaitable<lookup> async_look_up(sender& s, const std::string& account,
                                               const std::string& email, time_point since);
  boost::asio::awaitable<lookup> async_read_list_users(
      sender& s, const std::string& account, const std::string& target, time_point since,
      const std::function<std::string(std::string_view body)>& read, bool retry_faults = true);
  boost::asio::awaitable<const in_doubt_listing*> async_listing(sender& s,
                                                                const std::string& account);
  boost::asio::awaitable<void> async_list_in_doubt(sender& s, const std::string& account,
                                                   in_doubt_listing& l);
  boost::asio::awaitable<std::shared_ptr<const doubt_round>> async_own_round(sender& s,
                                                                             const batch& b);
  boost::asio::awaitable<void> async_list_round(sender& s, doubt_round& r);
  boost::asio::awaitable<void> async_list_pages(sender& s, const std::string& account,
                                                in_doubt_listing& l, bool retry_faults = true);
  boost::asio::awaitable<void> async_pause(sender& s, engine::retry_duration d);
  bool earlier_in_doubt(std::string_view email) const;

  // Whether the service is up: the outage clock.
  void note_answer(bool to_the_operation);
  void note_failure();
  bool answering() const;
  bool outage_too_long() const;
  static std::string unavailable_message(const classified& c, std::string_view to_what);

  // Recording.
  void finish(sender& s, const batch& b, std::span<const address_outcome> outcomes);
  void fail_all(sender& s, const batch& b, const std::string& code, const std::string& message,
                unsigned attempts, const std::string& request_id = {});
  void leave_in_doubt(sender& s, const batch& b, std::span<const planned_address> items,
                      const std::string& why);
  void check_accounted(sender& s);
  // set_fatal: the run must stop for `kind` (the first reason wins); `hard` also cancels the
  // requests in flight.
  void set_fatal(fatal_kind kind, std::string message, bool hard = true);
  void recycle(batch&& b);

  dispatch_config cfg_;
  const signing::signer& signer_;
  engine::rate_gate& gate_;
  engine::retry_policy policy_;
  journal* journal_;
  run_stats& stats_;
  outcome_sink sink_;
  // in_doubt_keys_: cfg_.in_doubt_addresses by address_key, under case_sensitive_local_ (the
  // journal header's rule).
  bool case_sensitive_local_ = false;
  std::unordered_set<std::string> in_doubt_keys_;
  // listing_: the account's users listed once for in_doubt_keys_ (async_listing), written by
  // one sender before listing_latch_ opens, read by all after.
  async_latch listing_latch_;
  std::optional<in_doubt_listing> listing_;
  std::string listing_account_;
  // A run's own in-doubt addresses are settled in rounds (async_own_round): gathering_ collects
  // them while listing_round_, the one before, lists the account. pages_at_least_: what the
  // listings so far showed of the account's size in pages, which tells a round when listing
  // cannot be cheaper than asking. Under rounds_mu_ (senders run on several strands).
  std::mutex rounds_mu_;
  std::shared_ptr<doubt_round> gathering_;
  std::shared_ptr<doubt_round> listing_round_;
  std::size_t pages_at_least_ = 0;
  // answers_: answers of the service to the operation itself (InviteUsers, CreateUser) that are
  // neither a 5xx nor a transport failure: it works for other addresses while one batch fails.
  std::atomic<std::uint64_t> answers_{0};
  // failures_in_a_row_ / failing_since_: failures (5xx, the network) since the service's last
  // answer to any request, and steady_clock ticks of the first of them (0: none).
  std::atomic<std::uint64_t> failures_in_a_row_{0};
  std::atomic<std::int64_t> failing_since_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> clock_warned_{false};  // the clock offset has been warned about
  std::deque<sender> senders_;             // deque: stable addresses for the coroutines
  std::mutex senders_mu_;                  // senders_'s shape (spawn_sender, request_stop)
  std::atomic<std::size_t> sender_count_{0};
  async_queue<batch>* queue_ = nullptr;
  engine::refusal_watch refusals_;
  mutable std::mutex fatal_mu_;
  std::optional<fatal_stop> fatal_;
  std::string in_doubt_why_;  // why the first address left in doubt could not be checked
  std::mutex spent_mu_;
  std::vector<batch> spent_;  // finished batches for spent_batch(); bounded by recycle()
};

}  // namespace onboard
