#include <onboard/dispatch/dispatcher.hpp>

#include <onboard/chime/chime_api.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/core/log.hpp>
#include <onboard/core/text.hpp>
#include <onboard/core/version.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <unordered_map>

namespace onboard {

namespace net = boost::asio;
using engine::retry_action;
using engine::retry_class;

namespace {

std::vector<std::string_view> addresses_of(const batch& b) {
  std::vector<std::string_view> v;
  v.reserve(b.items.size());
  for (const auto& i : b.items) v.push_back(i.email);
  return v;
}

// invite_matcher: finds the Invite the service returned for each address of a batch. The service
// answers in request order, so the invite at the item's own position is tried first; a map
// (case-insensitive, as the service may change the case) is built only if that fails.
class invite_matcher {
 public:
  explicit invite_matcher(std::span<const chime::invite> invites) : invites_(invites) {}

  const chime::invite* find(std::size_t position, std::string_view email) {
    if (position < invites_.size() && iequals(invites_[position].email_address, email))
      return &invites_[position];
    if (by_email_.empty())
      for (const auto& i : invites_) by_email_.emplace(ascii_lower(i.email_address), &i);
    auto it = by_email_.find(ascii_lower(email));
    return it == by_email_.end() ? nullptr : it->second;
  }

 private:
  std::span<const chime::invite> invites_;
  std::unordered_map<std::string, const chime::invite*> by_email_;
};

// outcome_buffer: the outcomes of one response, written over the elements a sender kept from its
// previous response (assigning into a string with room does not allocate).
class outcome_buffer {
 public:
  explicit outcome_buffer(std::vector<address_outcome>& store) : store_(store) {}
  // next: the next element, holding whatever the previous response left: assign every member.
  address_outcome& next() {
    if (used_ == store_.size()) store_.emplace_back();
    return store_[used_++];
  }
  void push(address_outcome o) { next() = std::move(o); }
  std::span<const address_outcome> view() const { return {store_.data(), used_}; }

 private:
  std::vector<address_outcome>& store_;
  std::size_t used_ = 0;
};

// set_invite_outcome: the outcome an Invite of the service's response gives `item` (every member
// assigned: `o` is reused).
void set_invite_outcome(address_outcome& o, const planned_address& item, const chime::invite& i,
                        unsigned attempts, std::string_view request_id) {
  const bool failed = i.status == "Failed";
  o.email.assign(item.email);
  o.kind = failed ? outcome_kind::failed : outcome_kind::invited;
  o.id.assign(i.invite_id);
  o.status.assign(i.status);
  o.email_status.assign(i.email_status);
  o.request_id.assign(request_id);
  o.attempts = attempts;
  if (failed) {
    o.error_code.assign("InviteFailed");
    o.message.assign("the service reported Status Failed, EmailStatus ");
    o.message.append(i.email_status);
  } else {
    o.error_code.clear();
    o.message.clear();
  }
}

address_outcome failed_outcome(const planned_address& item, std::string code, std::string message,
                               unsigned attempts, std::string request_id) {
  address_outcome o;
  o.email = item.email;
  o.kind = outcome_kind::failed;
  o.error_code = std::move(code);
  o.message = std::move(message);
  o.request_id = std::move(request_id);
  o.attempts = attempts;
  return o;
}

engine::retry_config retry_config_of(const dispatch_config& c) {
  engine::retry_config r = c.retry;
  r.max_attempts_transient = static_cast<unsigned>(c.max_attempts);
  r.resend_in_doubt = c.in_doubt == in_doubt_policy::resend;
  return r;
}

}  // namespace

// classified: an exchange and what it means (decided once, by retry_policy's classification).
struct dispatcher::classified {
  exchange_result r;
  retry_class cls = retry_class::success;
  bool tls_rejected = false;
  bool cancelled = false;
  std::string request_id;

  // describe: the failure in one line, for reports ("HTTP 503 ServiceUnavailableException: ...").
  std::string describe() const {
    if (r.failure) return r.failure->message;
    auto e = chime::decode_error(r.response.status, r.response.header("x-amzn-ErrorType"),
                                 r.response.body);
    return "HTTP " + std::to_string(r.response.status) + " " + e.code + ": " + e.message;
  }
};

// attempt_log: the attempts at one part of a batch, for the retry policy.
struct dispatcher::attempt_log {
  unsigned attempts = 0;
  unsigned last_cost = 0;       // budget taken by the retry before the latest attempt
  bool retried_failed = false;  // --retry-failed has had its one more try
  std::chrono::steady_clock::time_point first_try = std::chrono::steady_clock::now();
};

// work_list: the part of a batch being sent, then the halves a 400 split off, one at a time.
// The batch itself is sent in place: in the common case one response settles all of its
// addresses and nothing is copied. What changes a part's items (a retry of some, a verification,
// a split) works on a copy (writable()), so that the sender's batch keeps every address for
// release_unsent. Every part keeps the batch id: their outcomes close the same journal intent.
class dispatcher::work_list {
 public:
  explicit work_list(batch& whole) : whole_(whole), part_(&whole) {}

  batch& part() { return *part_; }
  batch& writable() {
    if (part_ == &whole_) part_ = &own_.emplace(whole_);
    return *part_;
  }
  // split: the part's two halves go to the list; the first half is sent next.
  void split() {
    const batch& b = *part_;
    auto mid = b.items.begin() + static_cast<std::ptrdiff_t>(b.items.size() / 2);
    pending_.push_back(batch{b.id, b.account_id, b.type, {mid, b.items.end()}});
    pending_.push_back(batch{b.id, b.account_id, b.type, {b.items.begin(), mid}});
  }
  // next: moves on to the next pending half; false when none is left.
  bool next() {
    if (pending_.empty()) return false;
    part_ = &own_.emplace(std::move(pending_.back()));
    pending_.pop_back();
    return true;
  }

 private:
  batch& whole_;
  batch* part_;
  std::optional<batch> own_;
  std::vector<batch> pending_;
};

namespace {

// paced_wait: a token wait longer than this means the rate gate, not the network, sets the pace.
constexpr auto paced_wait = std::chrono::milliseconds(2);

// not_applied: the exchange certainly did not apply the request: it was never completely written
// (or cancelled before that), or the service refused it (429 and 503 mean "not applied"; a 4xx
// refuses the request as a whole).
bool not_applied(const exchange_result& r) {
  if (r.failure) return !r.failure->in_doubt();
  const unsigned st = r.response.status;
  return st == 429 || st == 503 || (st >= 400 && st < 500);
}

}  // namespace

dispatcher::dispatcher(dispatch_config cfg, const signing::signer& signer, engine::rate_gate& gate,
                       journal* jrnl, run_stats& stats, outcome_sink sink)
    : cfg_(std::move(cfg)), signer_(signer), gate_(gate), policy_(retry_config_of(cfg_)),
      journal_(jrnl), stats_(stats), sink_(std::move(sink)) {}

std::optional<fatal_stop> dispatcher::fatal() const {
  std::lock_guard lk(fatal_mu_);
  return fatal_;
}

void dispatcher::set_fatal(fatal_kind kind, std::string message) {
  {
    std::lock_guard lk(fatal_mu_);
    if (!fatal_) fatal_ = fatal_stop{kind, std::move(message)};
  }
  // Bad credentials or an unknown account fail every request alike: stop everything now rather
  // than let the other connections spend more of the corpus on the same refusal.
  request_stop(/*hard=*/true);
}

void dispatcher::spawn_sender(net::any_io_executor ex, transport& t, async_queue<batch>& queue,
                              std::function<void(std::exception_ptr)> done) {
  queue_ = &queue;
  sender& s = senders_.emplace_back();
  s.ex = ex;
  s.t = &t;
  net::co_spawn(ex, async_sender(s, queue),
                net::bind_cancellation_slot(s.cancel.slot(), std::move(done)));
}

batch dispatcher::spent_batch() {
  std::lock_guard lk(spent_mu_);
  if (spent_.empty()) return {};
  batch b = std::move(spent_.back());
  spent_.pop_back();
  return b;
}

void dispatcher::recycle(batch&& b) {
  std::lock_guard lk(spent_mu_);
  // The reader takes one per batch and senders return one per batch, so a few per sender keep it
  // supplied; beyond that, let them go.
  if (spent_.size() < 2 * senders_.size() + 8) spent_.push_back(std::move(b));
}

void dispatcher::request_stop(bool hard) {
  stopping_.store(true);
  if (queue_) queue_->close(/*discard=*/true);
  for (auto& s : senders_) {
    // The signal belongs to the sender's strand: emit it there, where `waiting` is also exact.
    net::post(s.ex, [&s, hard] {
      if (hard || s.waiting) s.cancel.emit(net::cancellation_type::terminal);
    });
  }
}

// async_pause: a backoff wait; nothing is in flight, so a stop may cut it short.
net::awaitable<void> dispatcher::async_pause(sender& s, engine::retry_duration d) {
  net::steady_timer t(s.ex, std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  s.waiting = true;
  co_await t.async_wait(net::use_awaitable);
  s.waiting = false;
}

net::awaitable<void> dispatcher::async_sender(sender& s, async_queue<batch>& queue) {
  try {
    while (!stopping()) {
      // The next batch: the one taken ahead (its intent already appended), or from the queue.
      if (s.ahead) {
        s.current = std::move(s.ahead);
        s.current_ticket = std::exchange(s.ahead_ticket, 0);
        s.current_state = batch_state::intent_ahead;
        s.ahead.reset();
      } else {
        s.waiting = true;
        auto b = co_await queue.async_pop();
        s.waiting = false;
        if (!b) break;
        s.current = std::move(b);
        s.current_ticket = 0;
        s.current_state = batch_state::unsent;
      }
      if (stopping()) break;  // a popped but unsent batch: the next run reads it again
      take_ahead(s, queue);
      co_await async_process(s, *s.current);
      // A stop can end async_process before the batch is settled (its request refused with a 429
      // just as the stop came): keep it, so that release_unsent can withdraw an intent that no
      // request applied.
      if (stopping()) break;
      recycle(std::move(*s.current));
      s.current.reset();
    }
  } catch (const boost::system::system_error& e) {
    // Cancelled by request_stop: whatever this sender had not finished stays in the journal as an
    // intent without outcome, which the next run verifies, unless release_unsent can withdraw it.
    if (e.code() != net::error::operation_aborted) throw;
  }
  release_unsent(s);
}

// take_ahead: with a journal, the next queued batch (if one is ready) becomes this sender's
// `ahead` and its intent is appended now; its fdatasync then runs while the current request is
// on the wire. Not when an earlier run left addresses in doubt: those batches are verified before
// their intent is written, and a withdrawn intent must not hide that doubt.
//
// Only while the rate gate lets requests through at once: a paced sender waits for its token
// anyway, so a late intent costs nothing there, while an intent taken ahead would add a batch in
// doubt after a crash (ListUsers calls on resume, at the throttled rate).
void dispatcher::take_ahead(sender& s, async_queue<batch>& queue) {
  if (!journal_ || s.ahead || s.paced || !cfg_.in_doubt_addresses.empty()) return;
  s.ahead = queue.try_pop();
  if (s.ahead) s.ahead_ticket = journal_->append_intent(s.ahead->id, addresses_of(*s.ahead));
}

// release_unsent: a stopping sender withdraws the intents of batches that no request can have
// applied (appended ahead and never sent, or only ever refused with 429/503/4xx or not written),
// so the next run sends those addresses without first asking ListUsers about each of them.
// Addresses of the batch that already have an outcome are left alone by the replay.
void dispatcher::release_unsent(sender& s) {
  if (!journal_) return;
  try {
    const bool withdraw =
        s.current_state == batch_state::intent_ahead || s.current_state == batch_state::sent;
    if (s.current && withdraw) journal_->record_release(s.current->id, addresses_of(*s.current));
    if (s.ahead && s.ahead_ticket) journal_->record_release(s.ahead->id, addresses_of(*s.ahead));
  } catch (const std::exception& e) {
    // Only costs the next run some ListUsers calls (the intents stay in doubt).
    spdlog::warn("could not withdraw unsent intents: {}", e.what());
  }
  s.current.reset();
  s.ahead.reset();
}

// async_process: one batch from the queue to terminal outcomes for all its addresses. `b` is
// s.current: verification takes the confirmed addresses out of it before its intent is written,
// so that the intent covers exactly what is sent.
net::awaitable<void> dispatcher::async_process(sender& s, batch& b) {
  // Addresses an earlier run left in doubt are asked about first; only the others are sent.
  if (cfg_.in_doubt != in_doubt_policy::resend && !cfg_.in_doubt_addresses.empty()) {
    if (!co_await async_verify(s, b, /*only_earlier_in_doubt=*/true)) co_return;
  }
  // The whole batch, then each half a 400 splits off, until every address has its outcome.
  work_list work(b);
  do {
    attempt_log log;
    for (;;) {
      if (work.part().items.empty()) break;
      const next_step next = co_await async_attempt(s, work, log);
      if (next == next_step::stop) co_return;
      if (next == next_step::settled) break;
    }
  } while (work.next());
}

// async_attempt: one request for the current part of a batch, and what its answer means.
net::awaitable<dispatcher::next_step> dispatcher::async_attempt(sender& s, work_list& work,
                                                                attempt_log& log) {
  const batch& b = work.part();
  if (stopping() && log.attempts > 0) co_return next_step::stop;  // in doubt for the next run
  if (log.attempts > 0) bump(stats_.retries);
  ++log.attempts;

  // Sign and send (async_exchange takes the token and makes the intent durable first).
  const bool is_invite = cfg_.op == operation::invite;
  std::string body = is_invite
                         ? chime::invite_users_body(addresses_of(b), b.type)
                         : chime::create_user_body(b.items[0].email, b.items[0].username, b.type);
  classified c =
      co_await async_exchange(s, b.account_id, "POST", chime::users_target(b.account_id, cfg_.op),
                              std::move(body), b.items.size(), /*carries_intent=*/true);
  if (c.cancelled) co_return next_step::stop;
  if (c.tls_rejected) {
    set_fatal(fatal_kind::tls, c.r.failure->message);
    co_return next_step::stop;
  }

  // Settle: a success, a refusal of the request itself, or something to retry.
  if (c.cls == retry_class::success) {
    if (auto next = settle_success(s, work, c, log)) co_return *next;
    c.cls = retry_class::in_doubt;  // a 2xx we cannot read may still have been applied
  }
  if (auto next = settle_refusal(work, c, log.attempts)) co_return *next;
  co_return co_await async_back_off(s, work, c, log);
}

// async_make_intent_durable: write-ahead. Recorded as late as possible unless it was appended
// ahead (take_ahead): a batch still waiting for its token when the run stops has no intent, so
// the next run sends it without first asking ListUsers about it.
net::awaitable<void> dispatcher::async_make_intent_durable(sender& s) {
  if (s.current_state == batch_state::intent_ahead)
    co_await journal_->async_durable(s.current_ticket);
  else
    co_await journal_->async_record_intent(s.current->id, addresses_of(*s.current));
  s.current_state = batch_state::sent;
}

net::awaitable<dispatcher::classified> dispatcher::async_exchange(
    sender& s, const std::string& partition, const std::string& method, const std::string& target,
    std::string body, std::size_t addresses, bool carries_intent) {
  // Take a token.
  s.waiting = true;
  const auto asked = std::chrono::steady_clock::now();
  auto stamp = co_await gate_.async_acquire(partition);
  s.waiting = false;
  s.paced = std::chrono::steady_clock::now() - asked > paced_wait;
  classified c;
  if (stopping()) {
    gate_.on_abandon(partition, stamp);
    c.cancelled = true;
    co_return c;
  }

  // Make the intent durable.
  const bool intent_pending =
      s.current_state == batch_state::unsent || s.current_state == batch_state::intent_ahead;
  if (carries_intent && journal_ && intent_pending) co_await async_make_intent_durable(s);

  // Sign: every attempt afresh, so a retry minutes later does not carry a stale X-Amz-Date.
  transport& t = *s.t;
  outgoing_request req;
  req.method = method;
  req.target = t.target(target);
  req.body = std::move(body);
  req.headers.emplace_back("Host", t.host_header());
  if (method == "POST") req.headers.emplace_back("Content-Type", "application/json");
  std::vector<signing::header_view> views;
  for (const auto& [k, v] : req.headers) views.push_back({k, v});
  auto added = signer_.sign({req.method, req.target, views, req.body}, signing::clock::now());
  for (auto& h : added) req.headers.emplace_back(std::move(h.name), std::move(h.value));
  req.headers.emplace_back("User-Agent", std::string(user_agent));

  // Send.
  bump(stats_.requests);
  bump(stats_.in_flight);
  c.r = co_await t.async_exchange(std::move(req));
  stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);

  // Classify, once, and tell the rate gate.
  const incoming_response& resp = c.r.response;
  int status = 0;
  if (c.r.ok()) {
    status = static_cast<int>(resp.status);
    c.cls = engine::classify_http(status, resp.header("x-amzn-ErrorType"), {cfg_.op, addresses});
    c.request_id = std::string(resp.header("x-amzn-RequestId"));
  } else if (c.r.failure->certificate_refused()) {
    c.tls_rejected = true;
    c.cls = retry_class::fatal_rejected;
  } else if (c.r.failure->cancelled_before_send()) {
    c.cancelled = true;
    c.cls = retry_class::retry_transient;
  } else {
    c.cls = engine::classify_transport(*c.r.failure);
  }
  if (carries_intent && !not_applied(c.r)) s.current_state = batch_state::maybe_applied;
  if (!c.r.ok()) bump(stats_.transport_errors);
  if (status == 429) bump(stats_.throttled);
  if (status >= 500) bump(stats_.unavailable);
  gate_.on_response(partition, stamp, engine::to_response_kind(status, c.cls));
  if (status == 429 || status == 503) {
    if (auto ra =
            engine::parse_retry_after(resp.header("Retry-After"), resp.header("x-amz-retry-after"),
                                      std::chrono::system_clock::now()))
      gate_.on_retry_after(partition, *ra);
  }
  co_return c;
}

// settle_success: the outcomes a 2xx gives the part. nullopt when the body cannot be read (the
// request may still have been applied); send_again when --retry-failed gives some addresses
// their one more try.
std::optional<dispatcher::next_step> dispatcher::settle_success(sender& s, work_list& work,
                                                                const classified& c,
                                                                attempt_log& log) {
  const batch& b = work.part();
  policy_.on_success(log.last_cost);
  outcome_buffer outs(s.outcomes);
  if (cfg_.op != operation::invite) {
    auto u = chime::decode_created_user(c.r.response.body);
    if (!u) {
      spdlog::warn("batch {}: unreadable CreateUser response ({}); treating as in doubt", b.id,
                   u.error);
      return std::nullopt;
    }
    address_outcome& o = outs.next();
    o = address_outcome{};
    o.email = b.items[0].email;
    o.kind = outcome_kind::created;
    o.id = u.value->user_id;
    o.status = u.value->invitation_status;
    o.request_id = c.request_id;
    o.attempts = log.attempts;
    finish(b, outs.view());
    return next_step::settled;
  }

  std::string why;
  if (!chime::decode_invites(c.r.response.body, s.invites, why)) {
    spdlog::warn("batch {}: unreadable InviteUsers response ({}); treating as in doubt", b.id, why);
    return std::nullopt;
  }
  std::vector<planned_address> retry_items;
  invite_matcher match(s.invites);
  for (std::size_t k = 0; k < b.items.size(); ++k) {
    const planned_address& item = b.items[k];
    const chime::invite* found = match.find(k, item.email);
    if (!found) {
      outs.push(failed_outcome(item, "MissingFromResponse",
                               "the service returned no Invite for this address", log.attempts,
                               c.request_id));
    } else if (found->status == "Failed" && cfg_.retry_failed && !log.retried_failed) {
      retry_items.push_back(item);
    } else {
      set_invite_outcome(outs.next(), item, *found, log.attempts, c.request_id);
    }
  }
  finish(b, outs.view());
  if (retry_items.empty()) return next_step::settled;
  work.writable().items = std::move(retry_items);
  log.retried_failed = true;
  return next_step::send_again;
}

// settle_refusal: an answer that refuses the request itself, whatever happens next: the users
// exist (409), a 400 to split, an address refused, or the whole run refused (401/403, 404).
// nullopt for what the retry policy decides instead (throttling, 5xx, the network).
std::optional<dispatcher::next_step> dispatcher::settle_refusal(work_list& work,
                                                                const classified& c,
                                                                unsigned attempts) {
  const batch& b = work.part();
  retry_class cls = c.cls;
  // A 400 on a batch of one cannot be split further: that address is the one refused.
  if (cls == retry_class::bisect && b.items.size() == 1) cls = retry_class::fatal_rejected;
  auto service_error = [&] {
    return chime::decode_error(c.r.response.status, c.r.response.header("x-amzn-ErrorType"),
                               c.r.response.body);
  };
  switch (cls) {
    case retry_class::conflict_exists: {
      auto e = service_error();
      std::vector<address_outcome> outs;
      for (const auto& item : b.items) {
        address_outcome o;
        o.email = item.email;
        o.kind = outcome_kind::exists;
        o.error_code = e.code;
        o.message = e.message;
        o.request_id = c.request_id;
        o.attempts = attempts;
        outs.push_back(std::move(o));
      }
      finish(b, outs);
      return next_step::settled;
    }
    case retry_class::bisect:
      bump(stats_.bisections);
      work.split();
      return next_step::settled;
    case retry_class::fatal_rejected: {
      auto e = service_error();
      fail_all(b, e.code, e.message, attempts, c.request_id);
      return next_step::settled;
    }
    case retry_class::fatal_auth:
      set_fatal(fatal_kind::credentials,
                "the service refused our credentials (" + c.describe() +
                    "). Check the profile, keys and permissions; nothing more will be sent.");
      return next_step::stop;
    case retry_class::fatal_not_found:
      set_fatal(fatal_kind::account_not_found,
                "account '" + b.account_id + "' was not found (" + c.describe() + ")");
      return next_step::stop;
    default: return std::nullopt;
  }
}

// async_back_off: throttled, transient or in doubt: the policy decides (attempts, budget,
// deadline) whether to send again after a pause, verify first, or stop the run.
net::awaitable<dispatcher::next_step> dispatcher::async_back_off(sender& s, work_list& work,
                                                                 const classified& c,
                                                                 attempt_log& log) {
  const batch& b = work.part();
  const retry_class cls = c.cls;
  if (cls == retry_class::in_doubt) {
    bump(stats_.in_doubt);
    if (cfg_.in_doubt == in_doubt_policy::skip) {
      fail_all(b, "InDoubt",
               "the request may have been applied (" + c.describe() +
                   "); not re-sent because of --in-doubt skip",
               log.attempts, c.request_id);
      co_return next_step::settled;
    }
  }
  auto d = policy_.decide(cls, log.attempts, std::chrono::steady_clock::now() - log.first_try);
  switch (d.what) {
    case retry_action::give_up:
      // Only retryable failures reach here (throttling, 5xx, the network): nothing is wrong with
      // these addresses, the service is unreachable or overwhelmed. Marking them failed would
      // let a resume skip them; instead the run stops with no outcome recorded, so the same
      // command sends them (after verifying the in-doubt ones) once the service is back.
      set_fatal(fatal_kind::service_unavailable,
                "the service did not accept batch " + std::to_string(b.id) + " after " +
                    std::to_string(log.attempts) + " attempts (last: " + c.describe() +
                    "); stopping so that nothing is marked failed for a passing outage");
      co_return next_step::stop;
    case retry_action::reconcile:
      // Ask ListUsers which addresses arrived; only the others are sent again.
      // Nothing left to send settles the part (async_process sees it empty); a stop ends it at
      // the next attempt.
      if (!co_await async_verify(s, work.writable(), /*only_earlier_in_doubt=*/false))
        co_return next_step::send_again;
      co_await async_pause(s, policy_.backoff(cls, log.attempts));
      co_return next_step::send_again;
    case retry_action::park:
      // An empty retry budget delays the batch. Throttling is the service pacing us, so that
      // wait is free; a network or 5xx failure still spends an attempt, or a dead service would
      // keep every batch parked until the 30-minute deadline instead of stopping.
      if (cls == retry_class::retry_throttled) --log.attempts;
      [[fallthrough]];
    case retry_action::retry:
    case retry_action::done:
      log.last_cost = d.cost;
      co_await async_pause(s, d.delay);
      co_return next_step::send_again;
  }
  co_return next_step::send_again;
}

// async_verify: asks ListUsers about the addresses of `batch` that may already have been applied
// and takes out those the service knows. Returns false when nothing is left to send.
net::awaitable<bool> dispatcher::async_verify(sender& s, batch& b, bool only_earlier_in_doubt) {
  std::vector<planned_address> keep;
  std::vector<address_outcome> confirmed;
  batch confirmed_items{b.id, b.account_id, b.type, {}};
  for (auto& item : b.items) {
    if (only_earlier_in_doubt && !cfg_.in_doubt_addresses.count(item.email)) {
      keep.push_back(std::move(item));
      continue;
    }
    if (cfg_.in_doubt == in_doubt_policy::skip) {
      // An earlier run sent this address without learning the outcome; --in-doubt skip says
      // never risk a second invitation.
      confirmed.push_back(failed_outcome(
          item, "InDoubt", "an earlier run may have sent this address; skipped (--in-doubt skip)",
          0, {}));
      confirmed_items.items.push_back(std::move(item));
      continue;
    }
    std::optional<bool> found;
    std::string request_id;
    for (unsigned attempt = 1; !found; ++attempt) {
      if (stopping()) co_return false;
      // ListUsers is read-only: nothing to journal.
      auto c = co_await async_exchange(s, b.account_id, "GET",
                                       chime::list_users_target(b.account_id, item.email), {}, 1,
                                       /*carries_intent=*/false);
      if (c.cancelled) co_return false;
      if (c.cls == retry_class::success) {
        auto users = chime::decode_users(c.r.response.body);
        if (users) {
          bool f = false;
          for (const auto& u : *users.value)
            f = f || ascii_lower(u.primary_email) == ascii_lower(item.email);
          found = f;
          request_id = c.request_id;
          break;
        }
      }
      if (c.cls == retry_class::fatal_auth) {
        set_fatal(fatal_kind::credentials,
                  "ListUsers was refused (" + c.describe() +
                      "): these credentials cannot verify in-doubt requests; use "
                      "--in-doubt resend or skip, or grant chime:ListUsers");
        co_return false;
      }
      // ListUsers is read-only, so every failure is safe to retry; the policy bounds how long.
      auto d = policy_.decide(c.cls == retry_class::in_doubt ? retry_class::retry_transient : c.cls,
                              attempt, {});
      if (d.what == retry_action::give_up) break;
      co_await async_pause(s, d.delay);
    }
    if (!found) {
      spdlog::warn("could not verify {} with ListUsers; sending it again", log_email(item.email));
      keep.push_back(std::move(item));
    } else if (*found) {
      bump(stats_.verified);
      address_outcome o;
      o.email = item.email;
      o.kind = cfg_.op == operation::invite ? outcome_kind::invited : outcome_kind::exists;
      o.status = "Pending";
      o.message = "confirmed by ListUsers after an in-doubt request; not sent again";
      o.request_id = request_id;
      confirmed.push_back(std::move(o));
      confirmed_items.items.push_back(std::move(item));
    } else {
      keep.push_back(std::move(item));
    }
  }
  finish(confirmed_items, confirmed);
  b.items = std::move(keep);
  co_return !b.items.empty();
}

void dispatcher::finish(const batch& b, std::span<const address_outcome> outcomes) {
  if (outcomes.empty()) return;
  if (journal_) journal_->record_outcomes(b.id, outcomes);
  // Outcomes usually come in the batch's order; the map is the fallback for the rest.
  std::unordered_map<std::string_view, const planned_address*> items;
  auto item_of = [&](std::size_t k, const address_outcome& o) -> const planned_address* {
    if (k < b.items.size() && b.items[k].email == o.email) return &b.items[k];
    if (items.empty())
      for (const auto& i : b.items) items.emplace(i.email, &i);
    auto it = items.find(o.email);
    return it == items.end() ? nullptr : it->second;
  };
  for (std::size_t k = 0; k < outcomes.size(); ++k) {
    const address_outcome& o = outcomes[k];
    switch (o.kind) {
      case outcome_kind::invited: bump(stats_.invited); break;
      case outcome_kind::created: bump(stats_.created); break;
      case outcome_kind::exists: bump(stats_.exists); break;
      case outcome_kind::failed:
        bump(stats_.failed);
        stats_.add_failure(o.error_code);
        break;
    }
    bump(stats_.done);
    if (sink_) {
      if (const planned_address* item = item_of(k, o)) {
        sink_(*item, o);
      } else {
        sink_(planned_address{o.email, 0, 0, {}}, o);
      }
    }
  }
}

void dispatcher::fail_all(const batch& b, const std::string& code, const std::string& message,
                          unsigned attempts, const std::string& request_id) {
  std::vector<address_outcome> outs;
  for (const auto& i : b.items)
    outs.push_back(failed_outcome(i, code, message, attempts, request_id));
  finish(b, outs);
}

}  // namespace onboard
