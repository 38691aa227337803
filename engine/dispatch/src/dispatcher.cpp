#include <onboard/dispatch/dispatcher.hpp>

#include <onboard/chime/chime_api.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/core/log.hpp>
#include <onboard/core/text.hpp>
#include <onboard/chime/user_page.hpp>
#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/dispatch/request_log.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <unordered_map>

namespace onboard {

namespace net = boost::asio;
using engine::retry_action;
using engine::retry_class;
using steady = std::chrono::steady_clock;

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

// invite_kind: what an Invite says became of its address. Status Accepted is a member already (no
// email sent); EmailStatus Failed or NotSent means nobody was emailed, whatever the Status.
outcome_kind invite_kind(const chime::invite& i) {
  if (i.status == "Failed" || i.email_status == "Failed") return outcome_kind::failed;
  if (i.status == "Accepted") return outcome_kind::exists;
  if (i.email_status == "NotSent") return outcome_kind::not_sent;
  return outcome_kind::invited;
}

// set_invite_outcome: the outcome an Invite of the service's response gives `item` (every member
// assigned: `o` is reused).
void set_invite_outcome(address_outcome& o, const planned_address& item, const chime::invite& i,
                        unsigned attempts, std::string_view request_id) {
  o.email.assign(item.email);
  o.kind = invite_kind(i);
  o.id.assign(i.invite_id);
  o.status.assign(i.status);
  o.email_status.assign(i.email_status);
  o.request_id.assign(request_id);
  o.attempts = attempts;
  o.error_code.clear();
  o.message.clear();
  if (i.status == "Failed") {
    o.error_code.assign("InviteFailed");
    o.message.assign("the service reported Status Failed, EmailStatus ");
    o.message.append(i.email_status);
  } else if (o.kind == outcome_kind::failed) {
    o.error_code.assign("EmailFailed");
    o.message.assign("the service recorded the invitation (Status ");
    o.message.append(i.status);
    o.message.append(") but reported EmailStatus Failed: no email reached the user");
  } else if (o.kind == outcome_kind::not_sent) {
    o.message.assign(
        "the service reported Status Pending, EmailStatus NotSent: the user is "
        "pending but no email was sent");
  } else if (o.kind == outcome_kind::exists) {
    o.message.assign("already a member (Status Accepted): no email sent");
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

// is_member: ListUsers shows someone who has joined the account: the invitation accepted (as an
// InviteUsers answer's Status Accepted says), or registered without one.
bool is_member(const chime::user& u) {
  return u.invitation_status == "Accepted" || u.registration_status == "Registered";
}

// verified_outcome: an address ListUsers found after an in-doubt request, with what it said of
// the user (ListUsers knows the user, not the invite: an invite has no id to record). A member
// is `exists`, as the InviteUsers answer would have it: nobody was emailed for them.
address_outcome verified_outcome(const planned_address& item, const chime::user& u, operation op,
                                 unsigned attempts, std::string request_id,
                                 std::string_view by = "ListUsers") {
  address_outcome o;
  o.email = item.email;
  const bool member = is_member(u);
  o.kind = op == operation::invite && !member ? outcome_kind::invited : outcome_kind::exists;
  if (op == operation::create) o.id = u.user_id;
  o.status = u.invitation_status;
  o.message = member && op == operation::invite ? "already a member, " : "";
  o.message += "confirmed by " + std::string(by) + " after an in-doubt request; not sent again";
  if (!u.registration_status.empty())
    o.message += " (UserRegistrationStatus " + u.registration_status + ")";
  o.request_id = std::move(request_id);
  o.attempts = attempts;
  return o;
}

chime::user user_of(const chime::listed_user& u) {
  return {.user_id = u.user_id,
          .primary_email = u.primary_email,
          .invitation_status = u.invitation_status,
          .registration_status = u.registration_status};
}

engine::retry_config retry_config_of(const dispatch_config& c) {
  engine::retry_config r = c.retry;
  r.max_attempts_transient = static_cast<unsigned>(c.max_attempts);
  r.resend_in_doubt = c.in_doubt == in_doubt_policy::resend;
  return r;
}

std::string_view operation_name(operation op) {
  return op == operation::invite ? "InviteUsers" : "CreateUser";
}

// printable: at most `n` bytes of `s` for a one-line message: controls and non-ASCII bytes (which
// the cut could split) become spaces and '?'.
std::string printable(std::string_view s, std::size_t n) {
  std::string out;
  for (char ch : s.substr(0, n)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c == '\r' || c == '\n' || c == '\t' ? ' ' : c < 0x20 || c >= 0x7F ? '?' : ch;
  }
  if (s.size() > n) out += "...";
  return out;
}

// foreign_answer: what a person needs to recognise whoever answered instead of the service: the
// status, where a redirect points, and how the body begins.
std::string foreign_answer(const incoming_response& resp) {
  std::string s = "HTTP " + std::to_string(resp.status);
  if (resp.header("x-amzn-RequestId").empty()) s += " without x-amzn-RequestId";
  if (auto v = resp.header("Location"); !v.empty()) s += ", Location: " + printable(v, 200);
  if (auto v = resp.header("Content-Type"); !v.empty()) s += ", Content-Type: " + printable(v, 80);
  return s + ", beginning: '" + printable(resp.body, 120) + "'";
}

}  // namespace

std::string send_partition(operation op, std::string_view account) {
  return engine::limit_partition(operation_name(op), account);
}

std::string list_partition(std::string_view account) {
  return engine::limit_partition("ListUsers", account);
}

// classified: an exchange and what it means (decided once, by retry_policy's classification).
struct dispatcher::classified {
  exchange_result r;
  retry_class cls = retry_class::success;
  bool setup_refused = false;        // the certificate or the proxy refused: configuration, stop
  bool cancelled = false;            // a stop cancelled it: nothing more to do with this part
  bool expired_credentials = false;  // refused: the credentials it was signed with expired
  signing::credentials_ptr signed_with;
  std::string request_id;

  // describe: the failure in one line, for reports ("HTTP 503 ServiceUnavailableException: ...").
  std::string describe() const {
    if (r.failure) return r.failure->message;
    if (cls == retry_class::foreign) return foreign_answer(r.response);
    auto e = error();
    return "HTTP " + std::to_string(r.response.status) + " " + e.code + ": " + e.message;
  }
  // retry_reason: for --debug's request line, why an answer of a kind that is sent again is:
  // the class and the status with the service's code, or the transport's failure (never the
  // service's message, which may quote an address).
  std::string retry_reason() const {
    if (cls != retry_class::retry_throttled && cls != retry_class::retry_transient &&
        cls != retry_class::in_doubt)
      return {};
    std::string why(to_string(cls));
    if (r.failure) return why + " (" + r.failure->message + ")";
    return why + " (HTTP " + std::to_string(r.response.status) + " " + error().code + ")";
  }
  // error: the code and message an address fails with: the service's, or the transport's.
  chime::service_error error() const {
    if (r.failure) return {std::string(io::to_string(r.failure->kind)), r.failure->message};
    return chime::decode_error(r.response.status, r.response.header("x-amzn-ErrorType"),
                               r.response.body);
  }
};

// attempt_log: the attempts at one part of a batch, for the retry policy.
struct dispatcher::attempt_log {
  unsigned carried = 0;           // requests that carried this part's addresses before this log
  bool last_chance = false;       // a deferred part: judged after its next failure
  unsigned attempts = 0;          // requests for this part
  unsigned last_cost = 0;         // budget taken by the retry before the latest attempt
  unsigned service_failures = 0;  // answers that may have been applied (5xx, a cut after sending)
  bool reached_service = false;   // the latest failure was one of those
  bool retried_failed = false;    // --retry-failed has had its one more try
  time_point first_try = steady::now();

  // sent: the requests that carried this part's addresses, what an outcome reports.
  unsigned sent() const { return carried + attempts; }
};

// verification: what async_verify checks.
struct dispatcher::verification {
  bool only_earlier_in_doubt = false;  // only the addresses an earlier run left in doubt
  unsigned carried = 0;                // requests of this run that carried them
  time_point since = steady::now();    // the retry deadline counts from here
};

// lookup: what ListUsers said of one address.
struct dispatcher::lookup {
  enum class verdict { found, absent, unknown, stop };
  verdict what = verdict::unknown;
  chime::user user;  // found: the first user the query returned
  std::string request_id;
  std::string why;             // unknown: the last answer
  bool retries_spent = false;  // unknown after every attempt: ListUsers itself is failing
};

// doubt_round: a run's own in-doubt addresses, gathered from every sender for one listing of the
// account (async_own_round). `keys` (address_key) only grows until the listing starts, which is
// after every one of them went in doubt; `listed` opens once `listing` is final.
struct dispatcher::doubt_round {
  std::string account;
  std::unordered_set<std::string> keys;
  std::optional<in_doubt_listing> listing;  // none when the round did not list (not worth it)
  async_latch listed;

  const in_doubt_listing* result() const { return listing ? &*listing : nullptr; }
};

// work_list: the part of a batch being sent, then the halves a split set aside, one at a time.
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
  // carried / last_chance: the attempt_log the current part starts with.
  unsigned carried() const { return carried_; }
  bool last_chance() const { return last_chance_; }
  bool has_pending() const { return !pending_.empty(); }

  // split: the part's two halves go to the list; the first half is sent next. `sent`: the
  // requests that carried them so far.
  void split(unsigned sent) {
    const batch& b = *part_;
    auto mid = b.items.begin() + static_cast<std::ptrdiff_t>(b.items.size() / 2);
    pending_.push_back({batch{b.id, b.account_id, b.type, {mid, b.items.end()}}, sent, false});
    pending_.push_back({batch{b.id, b.account_id, b.type, {b.items.begin(), mid}}, sent, false});
  }
  // defer: the part goes after everything else, to be judged after one more attempt.
  void defer(unsigned sent) { pending_.insert(pending_.begin(), {*part_, sent, true}); }
  // next: moves on to the next pending part; false when none is left.
  bool next() {
    if (pending_.empty()) return false;
    pending_part p = std::move(pending_.back());
    pending_.pop_back();
    part_ = &own_.emplace(std::move(p.b));
    carried_ = p.carried;
    last_chance_ = p.last_chance;
    return true;
  }

  // note_failure / answered_since: whether the service has answered the operation since this
  // batch first failed (`answers` is dispatcher::answers_).
  void note_failure(std::uint64_t answers) {
    if (!failed_at_) failed_at_ = answers;
  }
  bool answered_since(std::uint64_t answers) const { return failed_at_ && answers > *failed_at_; }

 private:
  struct pending_part {
    batch b;
    unsigned carried = 0;
    bool last_chance = false;
  };
  batch& whole_;
  batch* part_;
  std::optional<batch> own_;
  std::vector<pending_part> pending_;
  unsigned carried_ = 0;
  bool last_chance_ = false;
  std::optional<std::uint64_t> failed_at_;
};

namespace {

// paced_wait: a token wait longer than this means the rate gate, not the network, sets the pace.
constexpr auto paced_wait = std::chrono::milliseconds(2);

// gather_doubt: how long the first sender of a round of own in-doubt addresses waits for others
// to join it before the listing starts. Requests are dropped together (a connection lost, a
// service hiccup): a tenth of a second gathers those, and costs less than one ListUsers query at
// 10/s. A round also gathers for as long as the listing before it runs.
constexpr auto gather_doubt = std::chrono::milliseconds(100);

// bisect_after: service failures of one part before it is halved. Two: one 500 is usually the
// service's passing trouble, the same part failing again more likely carries an address that
// makes it fail, which halving then finds in log2(n) steps.
constexpr unsigned bisect_after = 2;

// not_applied: the exchange certainly did not apply the request: it was never completely written
// (or cancelled before that), or the service refused it (429 and 503 mean "not applied"; a 4xx
// refuses the request as a whole).
bool not_applied(const exchange_result& r) {
  if (r.failure) return !r.failure->in_doubt();
  const unsigned st = r.response.status;
  return st == 429 || st == 503 || (st >= 400 && st < 500);
}

// is_service_answer: the service itself answered, with something other than a failure: evidence
// that it is up. A 2xx only counts once its body is read (settle_success).
bool is_service_answer(retry_class c) {
  switch (c) {
    case retry_class::retry_throttled:
    case retry_class::fatal_auth:
    case retry_class::fatal_not_found:
    case retry_class::bisect:
    case retry_class::conflict_exists:
    case retry_class::fatal_rejected: return true;
    default: return false;
  }
}

}  // namespace

dispatcher::dispatcher(dispatch_config cfg, const signing::signer& signer, engine::rate_gate& gate,
                       journal* jrnl, run_stats& stats, outcome_sink sink)
    : cfg_(std::move(cfg)), signer_(signer), gate_(gate), policy_(retry_config_of(cfg_)),
      journal_(jrnl), stats_(stats), sink_(std::move(sink)) {
  // The journal's header is the run's rule for "the same address" (it refuses a run with another).
  case_sensitive_local_ = journal_ && journal_->prior().header().case_sensitive_local;
  for (const auto& e : cfg_.in_doubt_addresses)
    in_doubt_keys_.insert(address_key(e, case_sensitive_local_));
  cfg_.in_doubt_addresses.clear();
}

std::optional<fatal_stop> dispatcher::fatal() const {
  std::lock_guard lk(fatal_mu_);
  const std::uint64_t left = load(stats_.left_in_doubt);
  std::string note;
  if (left > 0) {
    note = std::to_string(left) + (left == 1 ? " address" : " addresses") +
           " that may already have reached the service could not be checked with ListUsers "
           "(first: " +
           in_doubt_why_ +
           "); not sent again, they stay in doubt in the journal. Run the same command again "
           "to check them once ListUsers answers, or add --in-doubt resend to send them without "
           "checking (a person may then get a second invitation email)";
  }
  if (fatal_) {
    fatal_stop f = *fatal_;
    if (!note.empty()) f.message += ". Also: " + note;
    return f;
  }
  if (!note.empty()) return fatal_stop{fatal_kind::in_doubt, note};
  return std::nullopt;
}

void dispatcher::set_fatal(fatal_kind kind, std::string message, bool hard) {
  {
    std::lock_guard lk(fatal_mu_);
    if (!fatal_) fatal_ = fatal_stop{kind, std::move(message)};
  }
  // Bad credentials or an unknown account fail every request alike: stop everything now rather
  // than let the other connections spend more of the corpus on the same refusal.
  request_stop(hard);
}

void dispatcher::spawn_sender(net::any_io_executor ex, transport& t, async_queue<batch>& queue,
                              std::function<void(std::exception_ptr)> done) {
  queue_ = &queue;
  sender* s = nullptr;
  {
    // Senders may be added while the run goes on (the run's sizer), beside request_stop; the
    // coroutine starts outside the lock, as it may stop the run itself.
    std::lock_guard lk(senders_mu_);
    s = &senders_.emplace_back();
    s->ex = ex;
    s->t = &t;
    sender_count_.store(senders_.size());
  }
  net::co_spawn(ex, async_sender(*s, queue),
                net::bind_cancellation_slot(s->cancel.slot(), std::move(done)));
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
  if (spent_.size() < 2 * sender_count_.load() + 8) spent_.push_back(std::move(b));
}

void dispatcher::request_stop(bool hard) {
  stopping_.store(true);
  if (queue_) queue_->close(/*discard=*/true);
  std::lock_guard lk(senders_mu_);
  for (auto& s : senders_) {
    // The signal belongs to the sender's strand: emit it there, where `waiting` is also exact.
    net::post(s.ex, [&s, hard] {
      if (!s.finished && (hard || s.waiting)) s.cancel.emit(net::cancellation_type::terminal);
    });
  }
}

// async_pause: a backoff wait; nothing is in flight, so a stop may cut it short.
net::awaitable<void> dispatcher::async_pause(sender& s, engine::retry_duration d) {
  net::steady_timer t(s.ex, std::chrono::duration_cast<steady::duration>(d));
  s.waiting = true;
  co_await t.async_wait(net::use_awaitable);
  s.waiting = false;
}

net::awaitable<void> dispatcher::async_sender(sender& s, async_queue<batch>& queue) {
  // However the coroutine ends (an exception included), its signal is not emitted after that:
  // with Boost 1.81, co_spawn's handler in the slot does not outlive the coroutine.
  struct mark_finished {
    sender& s;
    ~mark_finished() { s.finished = true; }
  } on_exit{s};
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
      s.handed = s.current->items.size();
      s.accounted = 0;
      co_await async_process(s, *s.current);
      // A stop can end async_process before the batch is settled (its request refused with a 429
      // just as the stop came): keep it, so that release_unsent can withdraw an intent that no
      // request applied.
      if (stopping()) break;
      check_accounted(s);
      recycle(std::move(*s.current));
      s.current.reset();
    }
  } catch (const boost::system::system_error& e) {
    // Cancelled by request_stop: whatever this sender had not finished stays in the journal as an
    // intent without outcome, which the next run verifies, unless release_unsent can withdraw it.
    // An abort nobody asked for is a failure, not an end.
    if (e.code() != net::error::operation_aborted || !stopping()) throw;
  }
  release_unsent(s);
}

// check_accounted: every address of the batch just processed has an outcome or was left in doubt
// on purpose. Anything else is a bug; it must not pass for a clean end of the run.
void dispatcher::check_accounted(sender& s) {
  if (s.accounted >= s.handed) return;
  const std::size_t missing = s.handed - s.accounted;
  spdlog::error("batch {}: {} addresses ended without an outcome (a bug; please report it)",
                s.current->id, missing);
  bump(stats_.left_in_doubt, missing);
  std::lock_guard lk(fatal_mu_);
  if (in_doubt_why_.empty()) in_doubt_why_ = "batch ended without an outcome";
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
  if (!journal_ || s.ahead || s.paced || !in_doubt_keys_.empty()) return;
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
  if (cfg_.in_doubt != in_doubt_policy::resend && !in_doubt_keys_.empty()) {
    if (!co_await async_verify(s, b, {.only_earlier_in_doubt = true})) co_return;
  }
  // The whole batch, then each part a split set aside, until every address has its outcome.
  work_list work(b);
  do {
    attempt_log log{.carried = work.carried(), .last_chance = work.last_chance()};
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
  s.attempt = log.sent();

  // Sign and send (async_exchange takes the token and makes the intent durable first).
  const bool is_invite = cfg_.op == operation::invite;
  std::string body = is_invite
                         ? chime::invite_users_body(addresses_of(b), b.type)
                         : chime::create_user_body(b.items[0].email, b.items[0].username, b.type);
  classified c = co_await async_exchange(s, send_partition(cfg_.op, b.account_id), "POST",
                                         chime::users_target(b.account_id, cfg_.op),
                                         std::move(body), b.items.size(), /*carries_intent=*/true);
  if (c.cancelled) co_return next_step::stop;
  if (c.setup_refused) {
    const bool proxy = c.r.failure->kind == io::transport_error_kind::proxy_refused;
    set_fatal(proxy ? fatal_kind::proxy : fatal_kind::tls,
              c.r.failure->message +
                  (proxy ? ". Nothing was sent; no address is marked failed for this" : ""));
    co_return next_step::stop;
  }

  // Settle: a success, a refusal of the request itself, or something to retry.
  if (c.cls == retry_class::success) {
    if (auto next = settle_success(s, work, c, log)) co_return *next;
    // A 2xx we cannot read may still have been applied; so may addresses a 201 does not list.
    c.cls = retry_class::in_doubt;
  }
  if (auto next = settle_refusal(s, work, c, log)) co_return *next;
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
  // The body is kept for the one resend after a refusal of expired credentials.
  classified c =
      co_await async_exchange_once(s, partition, method, target, body, addresses, carries_intent);
  if (!c.expired_credentials || stopping()) co_return c;
  signing::credential_provider& source = signer_.credentials_source();
  spdlog::warn("the service refused credentials {} from {} as expired ({}); refreshing them",
               signing::key_id_hint(c.signed_with->access_key_id), c.signed_with->source,
               c.describe());
  // A blocking fetch on this sender's thread: rare, and the other senders go on meanwhile.
  if (!source.refresh_after_refusal(c.signed_with)) co_return c;
  co_return co_await async_exchange_once(s, partition, method, target, std::move(body), addresses,
                                         carries_intent);
}

net::awaitable<dispatcher::classified> dispatcher::async_exchange_once(
    sender& s, const std::string& partition, const std::string& method, const std::string& target,
    std::string body, std::size_t addresses, bool carries_intent) {
  // Take a token.
  s.waiting = true;
  const auto asked = steady::now();
  auto stamp = co_await gate_.async_acquire(partition);
  s.waiting = false;
  s.paced = steady::now() - asked > paced_wait;
  if (stopping()) {
    gate_.on_abandon(partition, stamp);
    classified c;
    c.cancelled = true;
    co_return c;
  }

  // Make the intent durable.
  const bool intent_pending =
      s.current_state == batch_state::unsent || s.current_state == batch_state::intent_ahead;
  if (carries_intent && journal_ && intent_pending) co_await async_make_intent_durable(s);

  // Sign and send. A refusal that our clock explains never reached the operation: the time is
  // corrected from the service's Date and the request signed again and sent once more.
  transport& t = *s.t;
  classified c;
  auto offset_used = signer_.clock_offset();
  auto sent_at = steady::now();
  c.r = co_await async_send_signed(t, method, target, body, &c.signed_with);
  // The mend the answer asks for, decided once per answer (it is read again below only when the
  // request was sent again, or another sender has corrected the clock since).
  std::optional<engine::signature_mend> mend;
  if (c.r.ok()) {
    mend = engine::signature_mend_for(c.r.response, signing::clock::now(), offset_used);
    if (auto fix = mend->clock_offset) {
      if (spdlog::should_log(spdlog::level::debug))
        log_request({method, target, c.r, steady::now() - sent_at, s.attempt,
                     "our clock is off: signed again with the service's time"});
      sent_at = steady::now();
      note_clock_offset(*fix, offset_used);
      mend.reset();
      c.r = co_await async_send_signed(t, method, target, std::move(body), &c.signed_with);
    }
  }

  // Classify, once, and tell the rate gate.
  const incoming_response& resp = c.r.response;
  int status = 0;
  if (c.r.ok()) {
    status = static_cast<int>(resp.status);
    c.request_id = std::string(resp.header("x-amzn-RequestId"));
    const engine::answer a{status, resp.header("x-amzn-ErrorType"), c.request_id, resp.body};
    c.cls = engine::classify_answer(a, {cfg_.op, addresses});
    // Whatever its status (STS says 400), an expired-credentials refusal is about the run's
    // credentials, never about the addresses: fatal to the run unless a refresh mends it.
    if (!mend || signer_.clock_offset() != offset_used)
      mend = engine::signature_mend_for(resp, signing::clock::now(), signer_.clock_offset());
    c.expired_credentials = mend->refresh_credentials;
    if (c.expired_credentials) c.cls = retry_class::fatal_auth;
  } else if (c.r.failure->certificate_refused() ||
             c.r.failure->kind == io::transport_error_kind::proxy_refused) {
    // Configuration, not the network: retrying cannot help, and no address is to blame.
    c.setup_refused = true;
    c.cls = retry_class::fatal_rejected;
  } else {
    // A cancel only ends the part when a stop asked for it. Any other (a connection torn down
    // under the sender, a socket that could not be opened) is a transport failure like any.
    c.cancelled = c.r.failure->kind == io::transport_error_kind::cancelled && stopping();
    c.cls = engine::classify_transport(*c.r.failure);
  }
  if (spdlog::should_log(spdlog::level::debug))
    log_request({method, target, c.r, steady::now() - sent_at, s.attempt, c.retry_reason()});
  if (carries_intent && !not_applied(c.r)) s.current_state = batch_state::maybe_applied;
  if (is_service_answer(c.cls)) note_answer(carries_intent);
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

// async_send_signed: one request, signed now (signed_request), counted while in flight.
net::awaitable<exchange_result> dispatcher::async_send_signed(transport& t,
                                                              const std::string& method,
                                                              const std::string& target,
                                                              std::string body,
                                                              signing::credentials_ptr* used) {
  outgoing_request req = signed_request(t, signer_, method, target, std::move(body), used);
  bump(stats_.requests);
  bump(stats_.in_flight);
  auto r = co_await t.async_exchange(std::move(req));
  stats_.in_flight.fetch_sub(1, std::memory_order_relaxed);
  co_return r;
}

// note_clock_offset: every sender signs with the service's time from now on. A clock off by more
// than a minute is worth fixing (NTP), so it is said once; a smaller one only at debug level.
void dispatcher::note_clock_offset(std::chrono::milliseconds offset,
                                   std::chrono::milliseconds was) {
  signer_.set_clock_offset(offset);
  if (auto w = engine::skew_warning(offset); !w.empty()) {
    if (!clock_warned_.exchange(true)) spdlog::warn("{}", w);
  } else {
    spdlog::debug("clock offset corrected from {} ms to {} ms (the service's Date header)",
                  was.count(), offset.count());
  }
}

// settle_success: the outcomes a 2xx gives the part. nullopt when the answer leaves (some of) the
// part in doubt: a body that cannot be read, or a 201 without an Invite for some addresses (the
// request was applied for the others, so it may have been for them: work.part() is then just
// those). send_again when --retry-failed gives some addresses their one more try.
std::optional<dispatcher::next_step> dispatcher::settle_success(sender& s, work_list& work,
                                                                const classified& c,
                                                                attempt_log& log) {
  const batch& b = work.part();
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
    o.attempts = log.sent();
  } else {
    std::string why;
    if (!chime::decode_invites(c.r.response.body, s.invites, why)) {
      spdlog::warn("batch {}: unreadable InviteUsers response ({}); treating as in doubt", b.id,
                   why);
      return std::nullopt;
    }
  }
  // Only an answer that says what happened is a success for the retry budget.
  policy_.on_success(log.last_cost);
  refusals_.on_success();
  note_answer(/*to_the_operation=*/true);
  if (cfg_.op != operation::invite) {
    finish(s, b, outs.view());
    return next_step::settled;
  }

  std::vector<planned_address> again, unlisted;
  invite_matcher match(s.invites);
  for (std::size_t k = 0; k < b.items.size(); ++k) {
    const planned_address& item = b.items[k];
    const chime::invite* found = match.find(k, item.email);
    if (!found) {
      unlisted.push_back(item);
    } else if (found->status == "Failed" && cfg_.retry_failed && !log.retried_failed) {
      again.push_back(item);
    } else {
      set_invite_outcome(outs.next(), item, *found, log.sent(), c.request_id);
    }
  }
  finish(s, b, outs.view());
  if (again.empty() && unlisted.empty()) return next_step::settled;
  log.retried_failed = log.retried_failed || !again.empty();
  if (unlisted.empty()) {
    work.writable().items = std::move(again);
    return next_step::send_again;
  }
  spdlog::warn("batch {}: the service's 201 lists no Invite for {} of its {} addresses; in doubt",
               b.id, unlisted.size(), b.items.size());
  // A Failed invite was not applied: ListUsers will not know it, so it is sent again with them.
  unlisted.insert(unlisted.end(), again.begin(), again.end());
  work.writable().items = std::move(unlisted);
  return std::nullopt;
}

// settle_refusal: an answer that refuses the request itself, whatever happens next: the users
// exist (409), a 400 to split, an address refused, the whole run refused (401/403, 404), or an
// answer from something that is not the service. nullopt for what the retry policy decides
// instead (throttling, 5xx, the network).
std::optional<dispatcher::next_step> dispatcher::settle_refusal(sender& s, work_list& work,
                                                                const classified& c,
                                                                const attempt_log& log) {
  const batch& b = work.part();
  retry_class cls = c.cls;
  // A 400 on a batch of one cannot be split further: that address is the one refused.
  if (cls == retry_class::bisect && b.items.size() == 1) cls = retry_class::fatal_rejected;
  if (cls == retry_class::bisect || cls == retry_class::fatal_rejected) {
    if (auto e = c.error(); refusals_.on_refusal(e.code, e.message)) {
      set_fatal(fatal_kind::systemic_refusal,
                "the service refused each of the run's first " +
                    std::to_string(engine::refusal_watch::systemic_after) +
                    " requests alike and accepted none (" + c.describe() +
                    "): the run is refused (the account's type or policy, a permission), not its "
                    "addresses. Nothing more will be sent, and no address is marked failed for "
                    "this answer");
      return next_step::stop;
    }
  }
  switch (cls) {
    case retry_class::conflict_exists: {
      auto e = c.error();
      std::vector<address_outcome> outs;
      for (const auto& item : b.items) {
        address_outcome o;
        o.email = item.email;
        o.kind = outcome_kind::exists;
        o.error_code = e.code;
        o.message = e.message;
        o.request_id = c.request_id;
        o.attempts = log.sent();
        outs.push_back(std::move(o));
      }
      finish(s, b, outs);
      return next_step::settled;
    }
    case retry_class::bisect:
      bump(stats_.bisections);
      work.split(log.sent());
      return next_step::settled;
    case retry_class::fatal_rejected: {
      auto e = c.error();
      fail_all(s, b, e.code, e.message, log.sent(), c.request_id);
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
    case retry_class::foreign:
      // Nothing it says is about the addresses: fail none, stop all. The request left, so the
      // batch stays in doubt and the next run checks it with ListUsers first.
      set_fatal(fatal_kind::not_the_service,
                "the answer to " + std::string(operation_name(cfg_.op)) +
                    " did not come from Amazon Chime (" + c.describe() +
                    "): a proxy, a captive portal or a wrong --endpoint-url is in the way. "
                    "Nothing more will be sent, and no address is marked failed for this answer");
      return next_step::stop;
    default: return std::nullopt;
  }
}

// async_back_off: throttled, transient or in doubt. An answer that may have been applied is
// settled first: failed under --in-doubt skip, or checked with ListUsers under verify (only what
// it does not know stays in the part). Then the policy decides (attempts, budget, deadline)
// whether to send the rest again after a pause, halve a part the service keeps failing, or end.
net::awaitable<dispatcher::next_step> dispatcher::async_back_off(sender& s, work_list& work,
                                                                 const classified& c,
                                                                 attempt_log& log) {
  retry_class cls = c.cls;
  work.note_failure(answers_.load());
  if (cls != retry_class::retry_throttled) note_failure();
  log.reached_service = cls == retry_class::in_doubt;
  if (cls == retry_class::in_doubt) {
    bump(stats_.in_doubt);
    ++log.service_failures;
    if (cfg_.in_doubt == in_doubt_policy::skip) {
      fail_all(s, work.part(), "InDoubt",
               "the request may have been applied (" + c.describe() +
                   "); not re-sent because of --in-doubt skip",
               log.sent(), c.request_id);
      co_return next_step::settled;
    }
    if (cfg_.in_doubt == in_doubt_policy::verify) {
      verification v{.carried = log.sent(), .since = log.first_try};
      const bool left = co_await async_verify(s, work.writable(), v);
      if (stopping()) co_return next_step::stop;
      if (!left) co_return next_step::settled;
      cls = retry_class::retry_transient;  // not applied, on ListUsers' word
    }
  }
  if (log.reached_service && log.service_failures >= bisect_after && work.part().items.size() > 1) {
    bump(stats_.bisections);
    work.split(log.sent());
    co_return next_step::settled;
  }
  auto d = policy_.decide(cls, log.attempts, steady::now() - log.first_try, answering());
  if (log.last_chance && cls != retry_class::retry_throttled) d.what = retry_action::give_up;
  if (outage_too_long()) d.what = retry_action::stop;
  switch (d.what) {
    case retry_action::give_up: co_return settle_exhausted(s, work, c, log);
    case retry_action::stop:
      set_fatal(fatal_kind::service_unavailable, unavailable_message(c, ""));
      co_return next_step::stop;
    case retry_action::park:
      // An empty retry budget delays the part. Throttling is the service pacing us, so that
      // wait is free; a network or 5xx failure still spends an attempt.
      if (cls == retry_class::retry_throttled) --log.attempts;
      [[fallthrough]];
    case retry_action::retry:
    case retry_action::reconcile:
    case retry_action::done:
      log.last_cost = d.cost;
      co_await async_pause(s, d.delay);
      co_return next_step::send_again;
  }
  co_return next_step::send_again;
}

// settle_exhausted: the part's attempts (or the deadline) are spent. A part the service kept
// failing while it answered other requests holds an address that makes it fail: halved until that
// address is alone, which then fails with the service's error. Without such answers the service
// is down, or unreachable (a failure before the request was out says nothing about the
// addresses): nothing is marked failed, the run stops, and the next run sends the rest.
dispatcher::next_step dispatcher::settle_exhausted(sender& s, work_list& work, const classified& c,
                                                   const attempt_log& log) {
  const batch& b = work.part();
  if (log.reached_service && b.items.size() > 1) {
    bump(stats_.bisections);
    work.split(log.sent());
    return next_step::settled;
  }
  // Only the operation answered for other addresses tells a failing address from a failing
  // operation (ListUsers may well answer while InviteUsers does not).
  if (log.reached_service && work.answered_since(answers_.load())) {
    auto e = c.error();
    fail_all(s, b, e.code, e.message, log.sent(), c.request_id);
    return next_step::settled;
  }
  if (log.reached_service && !log.last_chance && work.has_pending()) {
    // Nothing has been answered since this batch first failed, but the rest of it is still to be
    // sent: it tells a failing address from a failing service.
    work.defer(log.sent());
    return next_step::settled;
  }
  set_fatal(fatal_kind::service_unavailable,
            "the service did not accept batch " + std::to_string(b.id) + " after " +
                std::to_string(log.attempts) + " attempts (last: " + c.describe() +
                "); stopping so that nothing is marked failed for a passing outage");
  return next_step::stop;
}

// note_answer / note_failure: whether the service is up, judged by what it answered lately, to
// any request of any sender. Any answer that is not a failure resets the count of failures in a
// row and the outage clock (which starts at the first of them).
void dispatcher::note_answer(bool to_the_operation) {
  if (to_the_operation) answers_.fetch_add(1, std::memory_order_relaxed);
  failures_in_a_row_.store(0, std::memory_order_relaxed);
  failing_since_.store(0, std::memory_order_relaxed);
}

void dispatcher::note_failure() {
  failures_in_a_row_.fetch_add(1, std::memory_order_relaxed);
  std::int64_t none = 0;
  const std::int64_t now = steady::now().time_since_epoch().count();
  failing_since_.compare_exchange_strong(none, now == 0 ? 1 : now, std::memory_order_relaxed);
}

// answering: the service has answered one of the last requests. An empty retry budget is
// refilled only by answers; when ten requests in a row, from every connection, got none, parking
// to wait for a refill would wait for nothing (the policy stops instead). Counted in requests,
// not time: while batches are parked nothing is sent, and that silence says nothing.
bool dispatcher::answering() const {
  return failures_in_a_row_.load(std::memory_order_relaxed) < 10;
}

// outage_too_long: nothing but failures for retry.outage_limit, over a few requests at least. The
// retry budget ends a storm of fast failures; this ends one the rate gate paces (a 503 storm cuts
// the rate to one request in 5 s, at which the budget would last minutes).
bool dispatcher::outage_too_long() const {
  const std::int64_t since = failing_since_.load(std::memory_order_relaxed);
  if (since == 0 || failures_in_a_row_.load(std::memory_order_relaxed) < 3) return false;
  const steady::duration running(steady::now().time_since_epoch().count() - since);
  return running >= std::chrono::duration_cast<steady::duration>(cfg_.retry.outage_limit);
}

std::string dispatcher::unavailable_message(const classified& c, std::string_view to_what) {
  return "the service has answered nothing but failures (last, " + std::string(to_what) +
         c.describe() +
         ") through its retries; stopping so that nothing is marked failed for an outage";
}

bool dispatcher::earlier_in_doubt(std::string_view email) const {
  return in_doubt_keys_.count(address_key(email, case_sensitive_local_)) > 0;
}

// async_verify: asks ListUsers about the addresses of `b` that may already have been applied.
// Those it knows get their outcome; those it cannot tell about are left in doubt, never sent
// again; only those it does not know stay in `b`. Returns false when nothing is left to send.
// The addresses are looked up in a listing of the account first (an earlier run's in the one
// async_listing makes, this run's own in a round's, async_own_round); only what it cannot settle
// is asked about one by one.
net::awaitable<bool> dispatcher::async_verify(sender& s, batch& b, verification v) {
  std::vector<planned_address> keep, unknown;
  std::vector<address_outcome> settled;
  batch settled_items{b.id, b.account_id, b.type, {}};
  std::string why;
  bool ask = true;  // false once ListUsers has failed every attempt: the rest are not asked
  const in_doubt_listing* listing = nullptr;
  std::shared_ptr<const doubt_round> round;  // keeps `listing` of this run's own addresses alive
  bool listing_sought = false;
  std::size_t k = 0;
  for (; k < b.items.size(); ++k) {
    planned_address& item = b.items[k];
    if (v.only_earlier_in_doubt && !earlier_in_doubt(item.email)) {
      keep.push_back(std::move(item));
      continue;
    }
    if (cfg_.in_doubt == in_doubt_policy::skip) {
      // An earlier run sent this address without learning the outcome; --in-doubt skip says
      // never risk a second invitation.
      settled.push_back(failed_outcome(
          item, "InDoubt", "an earlier run may have sent this address; skipped (--in-doubt skip)",
          0, {}));
      settled_items.items.push_back(std::move(item));
      continue;
    }
    if (!listing_sought) {
      listing_sought = true;
      if (v.only_earlier_in_doubt) {
        listing = co_await async_listing(s, b.account_id);
      } else {
        round = co_await async_own_round(s, b);
        listing = round ? round->result() : nullptr;
      }
      if (listing && !listing->failing().empty()) {
        ask = false;  // ListUsers failed every attempt at the listing: leave the rest in doubt
        why = listing->failing();
      }
    }
    lookup l;
    if (listing) {
      const auto a = listing->verdict_of(item.email);
      if (a.what == in_doubt_listing::verdict::found) {
        bump(stats_.verified);
        settled.push_back(verified_outcome(item, user_of(*a.user), cfg_.op, v.carried,
                                           std::string(a.request_id),
                                           "listing the account's users"));
        settled_items.items.push_back(std::move(item));
        continue;
      }
      if (a.what == in_doubt_listing::verdict::absent) {
        keep.push_back(std::move(item));
        continue;
      }
    }
    if (ask) l = co_await async_look_up(s, b.account_id, item.email, v.since);
    if (l.what == lookup::verdict::stop) break;
    if (l.what == lookup::verdict::found) {
      bump(stats_.verified);
      settled.push_back(verified_outcome(item, l.user, cfg_.op, v.carried, l.request_id));
      settled_items.items.push_back(std::move(item));
    } else if (l.what == lookup::verdict::absent) {
      keep.push_back(std::move(item));
    } else {
      if (ask) why = l.why;
      ask = ask && !l.retries_spent;
      unknown.push_back(std::move(item));
    }
  }
  for (; k < b.items.size(); ++k) keep.push_back(std::move(b.items[k]));  // stopped: unasked
  finish(s, settled_items, settled);
  if (!unknown.empty()) leave_in_doubt(s, b, unknown, why);
  b.items = std::move(keep);
  co_return !stopping() && !b.items.empty();
}

// async_listing: the account's users listed once for the addresses an earlier run left in doubt,
// by the first sender that needs it while the others wait (senders run on several strands: the
// latch orders the listing before every read of it). Senders whose batches hold no such address
// go on sending meanwhile: what they add to the account can only add users to the pages, and a
// page that shows a user twice, or one more, proves nothing wrong; only removals could hide one,
// and an invite run removes nobody. nullptr when there is no listing for `account` (the
// dispatcher serves one account; another is asked about address by address).
net::awaitable<const in_doubt_listing*> dispatcher::async_listing(sender& s,
                                                                  const std::string& account) {
  if (co_await listing_latch_.async_arrive()) {
    struct open_at_end {
      async_latch& latch;
      ~open_at_end() { latch.open(); }
    } opens{listing_latch_};
    listing_account_ = account;
    listing_.emplace(in_doubt_keys_, case_sensitive_local_);
    co_await async_list_in_doubt(s, account, *listing_);
  }
  co_return listing_&& listing_account_ == account ? &*listing_ : nullptr;
}

// async_list_in_doubt: the listing for an earlier run's addresses (async_list_pages), and what
// it settled, said once.
net::awaitable<void> dispatcher::async_list_in_doubt(sender& s, const std::string& account,
                                                     in_doubt_listing& l) {
  co_await async_list_pages(s, account, l);
  const bool conclusive = l.conclusive();
  spdlog::info(
      "{} address(es) left in doubt by an earlier run: {} found by listing {} user(s) of account "
      "{} in {} ListUsers page(s); {}",
      in_doubt_keys_.size(), l.found(), l.users(), account, l.pages(),
      conclusive ? std::string("the others are not in the account")
                 : "the others are asked about one by one (" + l.why_not() + ")");
}

// async_own_round: the round of listing that settles this run's own in-doubt addresses of `b`
// (every one of its items), shared with the other senders' in-doubt addresses: the first to
// arrive gathers for gather_doubt, and for as long as the round before it lists, then lists
// for all (async_list_round); the others join it and wait. A listing shows every address that
// went in doubt before it started, so no address joins a round once it lists: it waits for the
// next. nullptr when `b` is another account's than the round gathering.
net::awaitable<std::shared_ptr<const dispatcher::doubt_round>> dispatcher::async_own_round(
    sender& s, const batch& b) {
  std::shared_ptr<doubt_round> r, before;
  bool lister = false;
  {
    std::lock_guard lk(rounds_mu_);
    if (!gathering_) {
      gathering_ = std::make_shared<doubt_round>();
      gathering_->account = b.account_id;
      lister = gathering_->listed.try_start();
      before = listing_round_;
    } else if (gathering_->account != b.account_id) {
      co_return nullptr;
    }
    r = gathering_;
    for (const auto& item : b.items) r->keys.insert(address_key(item.email, case_sensitive_local_));
  }
  if (!lister) {
    co_await r->listed.async_arrive();
    co_return r;
  }
  // However the lister ends (a hard stop cancels its waits), the round stops gathering and its
  // waiters resume: without a listing they ask one by one, which a stop ends at once.
  struct end_round {
    dispatcher& d;
    doubt_round& r;
    ~end_round() {
      {
        std::lock_guard lk(d.rounds_mu_);
        if (d.gathering_.get() == &r) d.gathering_.reset();
      }
      r.listed.open();
    }
  } ends{*this, *r};
  net::steady_timer gather(s.ex, gather_doubt);
  co_await gather.async_wait(net::use_awaitable);
  if (before) co_await before->listed.async_arrive();
  {
    std::lock_guard lk(rounds_mu_);
    gathering_.reset();
    listing_round_ = r;
  }
  if (!stopping()) co_await async_list_round(s, *r);
  co_return r;
}

// async_list_round: lists the account for round `r` unless what earlier listings showed of its
// size already says listing costs at least one query per address (pages_at_least_, which
// async_list_pages keeps: an invite run only adds users, so the account never shrinks back).
net::awaitable<void> dispatcher::async_list_round(sender& s, doubt_round& r) {
  {
    std::lock_guard lk(rounds_mu_);
    if (pages_at_least_ >= r.keys.size()) co_return;
  }
  in_doubt_listing& l = r.listing.emplace(r.keys, case_sensitive_local_);
  // One fault (a 5xx, the network) ends the round's listing: its senders, waiting for it, then
  // ask one by one, each with its own retries, which end a failing service as soon as before
  // (one lister retrying alone through its backoff took 16 s to give up where they take 5).
  co_await async_list_pages(s, r.account, l, /*retry_faults=*/false);
  spdlog::debug(
      "{} address(es) in doubt in this run: {} found by listing {} user(s) of account {} in {} "
      "ListUsers page(s); {}",
      r.keys.size(), l.found(), l.users(), r.account, l.pages(),
      l.conclusive() ? std::string("the others are not in the account")
                     : "the others are asked about one by one (" + l.why_not() + ")");
}

// async_list_pages: ListUsers pages (200 users each) for as long as `l` finds them worth it.
// A page that cannot be had ends the listing incomplete: the addresses it did not find are then
// asked about one by one, with that path's own handling of a failing ListUsers. The pages seen
// are what the run knows of the account's size (pages_at_least_). Without `retry_faults`, a
// page that fails (other than throttled) is not asked again: the listing ends there.
net::awaitable<void> dispatcher::async_list_pages(sender& s, const std::string& account,
                                                  in_doubt_listing& l, bool retry_faults) {
  std::string next;
  while (l.wants_page()) {
    chime::user_page page;
    lookup r = co_await async_read_list_users(
        s, account, chime::user_page_target(account, chime::user_page_max, next), steady::now(),
        [&page](std::string_view body) {
          auto p = chime::decode_user_page(body);
          if (!p) return p.error;
          page = std::move(*p.value);
          return std::string();
        },
        retry_faults);
    if (r.what != lookup::verdict::found) {
      l.abandon(r.retries_spent, r.why);
      break;
    }
    next = page.next_token;
    l.add(page, r.request_id);
  }
  std::lock_guard lk(rounds_mu_);
  // A listing stopped at its cost bound saw that many pages, and there is one more at least.
  const std::size_t seen = l.complete() ? l.pages() : l.abandoned() ? 0 : l.pages() + 1;
  pages_at_least_ = std::max(pages_at_least_, seen);
}

// async_look_up: ListUsers' answer for one address. The query filters by address, so any user
// it returns is this one, whatever the user shows (a pending invitee may show no PrimaryEmail).
net::awaitable<dispatcher::lookup> dispatcher::async_look_up(sender& s, const std::string& account,
                                                             const std::string& email,
                                                             time_point since) {
  std::optional<chime::user> user;
  lookup out = co_await async_read_list_users(s, account, chime::list_users_target(account, email),
                                              since, [&user](std::string_view body) {
                                                auto page = chime::decode_user_page(body);
                                                if (!page) return page.error;
                                                if (!page.value->users.empty())
                                                  user = user_of(page.value->users.front());
                                                return std::string();
                                              });
  if (out.what == lookup::verdict::found) {
    if (user)
      out.user = std::move(*user);
    else
      out.what = lookup::verdict::absent;
  }
  co_return out;
}

// async_read_list_users: one ListUsers GET until `read` accepts its answer (verdict found: read,
// whatever it holds). ListUsers is read-only, so a failure is retried as the policy allows; an
// answer `read` refuses (it says why) is the service's, unreadable: a fault to retry; a refusal
// of the question (400, 404) is asked once; an answer from something that is not the service,
// or a refusal of our credentials, stops the run. Without `retry_faults` only a throttled answer
// is asked again: the first other failure is the answer (unknown, retries not spent).
net::awaitable<dispatcher::lookup> dispatcher::async_read_list_users(
    sender& s, const std::string& account, const std::string& target, time_point since,
    const std::function<std::string(std::string_view body)>& read, bool retry_faults) {
  lookup out;
  unsigned last_cost = 0;
  for (unsigned attempt = 1;; ++attempt) {
    out.what = lookup::verdict::stop;
    if (stopping()) co_return out;
    s.attempt = attempt;
    classified c = co_await async_exchange(s, list_partition(account), "GET", target, {}, 1,
                                           /*carries_intent=*/false);
    if (c.cancelled) co_return out;
    out.why = c.describe();
    if (c.cls == retry_class::success) {
      std::string unreadable = read(c.r.response.body);
      if (unreadable.empty()) {
        policy_.on_success(last_cost);
        note_answer(/*to_the_operation=*/false);
        out.what = lookup::verdict::found;
        out.request_id = c.request_id;
        co_return out;
      }
      // The service's answer (it has a request id), but unreadable: a fault to retry.
      c.cls = retry_class::retry_transient;
      out.why = "unreadable ListUsers response (" + unreadable + ")";
    }
    if (c.cls == retry_class::fatal_auth) {
      set_fatal(fatal_kind::credentials,
                "ListUsers was refused (" + out.why +
                    "): these credentials cannot verify in-doubt requests; grant "
                    "chime:ListUsers, or use --in-doubt resend or skip");
      co_return out;
    }
    if (c.cls == retry_class::foreign) {
      set_fatal(fatal_kind::not_the_service,
                "the answer to ListUsers did not come from Amazon Chime (" + out.why +
                    "): a proxy, a captive portal or a wrong --endpoint-url is in the way. "
                    "Nothing more will be sent, and no address is marked failed for this answer");
      co_return out;
    }
    out.what = lookup::verdict::unknown;
    const bool retryable = c.cls == retry_class::retry_throttled ||
                           c.cls == retry_class::retry_transient || c.cls == retry_class::in_doubt;
    if (!retryable) co_return out;  // refused the question: 400, 404, ...
    if (c.cls != retry_class::retry_throttled) note_failure();
    if (!retry_faults && c.cls != retry_class::retry_throttled) co_return out;
    const retry_class cls = c.cls == retry_class::in_doubt ? retry_class::retry_transient : c.cls;
    auto d = policy_.decide(cls, attempt, steady::now() - since, answering());
    if (outage_too_long()) d.what = retry_action::stop;
    if (d.what == retry_action::give_up) {
      out.retries_spent = true;
      co_return out;
    }
    if (d.what == retry_action::stop) {
      set_fatal(fatal_kind::service_unavailable, unavailable_message(c, "to ListUsers, "));
      out.what = lookup::verdict::stop;
      co_return out;
    }
    if (d.what == retry_action::park && cls == retry_class::retry_throttled) --attempt;
    last_cost = d.cost;
    co_await async_pause(s, d.delay);
  }
}

void dispatcher::finish(sender& s, const batch& b, std::span<const address_outcome> outcomes) {
  if (outcomes.empty()) return;
  s.accounted += outcomes.size();
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
      case outcome_kind::not_sent: bump(stats_.not_sent); break;
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
  // --max-failures: the requests in flight are let finish (a soft stop); what they leave
  // unanswered stays in doubt for the resume, as after Ctrl-C.
  const std::uint64_t failed = load(stats_.failed), settled = load(stats_.done);
  if (cfg_.max_failures.reached(failed, settled)) {
    char limit[32];
    if (cfg_.max_failures.count)
      std::snprintf(limit, sizeof limit, "%llu",
                    static_cast<unsigned long long>(cfg_.max_failures.count));
    else
      std::snprintf(limit, sizeof limit, "%g%%", cfg_.max_failures.percent);
    set_fatal(fatal_kind::failure_limit,
              std::to_string(failed) + " of the " + std::to_string(settled) +
                  " addresses settled failed, reaching --max-failures " + limit +
                  "; nothing more will be sent. The report names the failed ones (a resume with "
                  "--retry-failed sends them again)",
              /*hard=*/false);
  }
}

void dispatcher::fail_all(sender& s, const batch& b, const std::string& code,
                          const std::string& message, unsigned attempts,
                          const std::string& request_id) {
  std::vector<address_outcome> outs;
  for (const auto& i : b.items)
    outs.push_back(failed_outcome(i, code, message, attempts, request_id));
  finish(s, b, outs);
}

// leave_in_doubt: addresses that may have been applied and that ListUsers could not check. No
// outcome is recorded: their intent keeps them in doubt for the next run, which checks them
// again; meanwhile fatal() says how many, so that the run cannot end as if it were done.
void dispatcher::leave_in_doubt(sender& s, const batch& b, std::span<const planned_address> items,
                                const std::string& why) {
  s.accounted += items.size();
  bump(stats_.left_in_doubt, items.size());
  spdlog::warn(
      "batch {}: {} address(es) could not be checked with ListUsers ({}); not sent again, left "
      "in doubt (first: {})",
      b.id, items.size(), why, log_email(items.front().email));
  std::lock_guard lk(fatal_mu_);
  if (in_doubt_why_.empty()) in_doubt_why_ = why;
}

}  // namespace onboard
