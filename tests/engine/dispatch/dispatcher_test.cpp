// dispatcher on scripted transports (no sockets), one io thread: bisection, in-doubt verification,
// --retry-failed, stops and their journal, fatal answers, throttling, CreateUser. Everything else
// is real: the SigV4 signer, the adaptive rate gate as run.cpp configures it, the journal (replayed
// afterwards), the queue. Each test runs in milliseconds to about a second (the Retry-After one
// in about two): the adaptive gate starts at 2 requests/s and paces the longer scripts; nothing
// in a test sleeps.

#include <onboard/dispatch/async_queue.hpp>
#include <onboard/dispatch/dispatcher.hpp>
#include <onboard/dispatch/rate_gate.hpp>
#include <onboard/journal/journal.hpp>
#include <onboard/signing/sigv4.hpp>
#include <onboard/testkit/run_bounded.hpp>
#include <onboard/testkit/scripted_transport.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace onboard {
namespace {

namespace net = boost::asio;
namespace tk = onboard::testkit;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;
using kind = io::transport_error_kind;
using tk::recorded_request;
using tk::scripted_transport;
using tk::step;

const std::string account = "acct-1";

signing::credentials example_credentials() {
  signing::credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = signing::secret_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  return c;
}

// run_cpp_limiter: the gate's configuration as run.cpp builds it without --rate, --burst or
// --fixed-rate: adaptive, no ceiling, automatic burst.
engine::rate_limiter_config run_cpp_limiter() {
  engine::rate_limiter_config c;
  c.adaptive = true;
  c.rate = 0;
  c.burst = 0;
  return c;
}

std::vector<std::string> addresses(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i) + "@example.com");
  return v;
}

batch make_batch(std::uint64_t id, const std::vector<std::string>& emails) {
  batch b;
  b.id = id;
  b.account_id = account;
  for (std::size_t i = 0; i < emails.size(); ++i)
    b.items.push_back(planned_address{emails[i], 0, id * 100 + i, {}});
  return b;
}

// users_200_of: a ListUsers 200 with these User objects as the service shapes them.
step users_200_of(boost::json::array users) {
  return tk::detail::json_response(200, boost::json::object{{"Users", std::move(users)}}, {});
}

// list_users_knows: answers ListUsers knowing only `known`, and accepts every InviteUsers. A
// listing of the account shows one user without PrimaryEmail, which proves nobody absent: the
// addresses are asked about one by one.
tk::scripted_transport::responder list_users_knows(std::set<std::string> known) {
  return [known = std::move(known)](const recorded_request& r) {
    if (r.is_list_users()) {
      return known.count(*r.list_users_email) ? tk::users_200({*r.list_users_email})
                                              : tk::users_200({});
    }
    if (r.is_user_page())
      return tk::user_page_200(
          {boost::json::object{{"UserId", "u-hidden"}, {"UserInvitationStatus", "Pending"}}});
    return tk::invites_201(r.invite_emails);
  };
}

// account_user: a user of a scripted account: its address, and the User object ListUsers shows
// (which may leave PrimaryEmail out).
struct account_user {
  std::string email;
  boost::json::object shown;
};

account_user pending_user(const std::string& email, bool shows_email = true) {
  boost::json::object u{{"UserId", "u-" + email},
                        {"UserInvitationStatus", "Pending"},
                        {"UserRegistrationStatus", "Unregistered"}};
  if (shows_email) u["PrimaryEmail"] = email;
  return {email, std::move(u)};
}

account_user member_user(const std::string& email) {
  return {email, boost::json::object{{"UserId", "u-" + email},
                                     {"PrimaryEmail", email},
                                     {"UserInvitationStatus", "Accepted"},
                                     {"UserRegistrationStatus", "Registered"}}};
}

// scripted_account: a responder for an account holding `users`: ListUsers lists them 200 a page
// (NextToken "p<offset>"), finds one by its address with the user-email filter (whatever it
// shows), and every InviteUsers is accepted.
tk::scripted_transport::responder scripted_account(std::vector<account_user> users) {
  return [users = std::move(users)](const recorded_request& r) {
    if (r.is_user_page()) {
      const std::size_t from = r.page_token.empty() ? 0 : std::stoul(r.page_token.substr(1));
      const std::size_t to = std::min(users.size(), from + 200);
      boost::json::array page;
      for (std::size_t i = from; i < to; ++i) page.push_back(users[i].shown);
      return tk::user_page_200(std::move(page), to < users.size() ? "p" + std::to_string(to) : "");
    }
    if (r.is_list_users()) {
      boost::json::array found;
      for (const auto& u : users)
        if (u.email == *r.list_users_email) found.push_back(u.shown);
      return users_200_of(std::move(found));
    }
    return tk::invites_201(r.invite_emails);
  };
}

std::size_t user_pages(const std::vector<scripted_transport*>& ts) {
  std::size_t n = 0;
  for (const auto* t : ts)
    for (const auto& r : t->requests()) n += r.is_user_page();
  return n;
}

std::vector<std::vector<std::string>> invite_lists(const scripted_transport& t) {
  std::vector<std::vector<std::string>> v;
  for (const auto& r : t.requests())
    if (r.is_invite()) v.push_back(r.invite_emails);
  return v;
}

std::vector<std::string> list_users_queries(const scripted_transport& t) {
  std::vector<std::string> v;
  for (const auto& r : t.requests())
    if (r.is_list_users()) v.push_back(*r.list_users_email);
  return v;
}

// carried: how many InviteUsers requests carried `email`.
int carried(const scripted_transport& t, const std::string& email) {
  int n = 0;
  for (const auto& r : t.requests())
    if (r.is_invite()) n += r.mentions(email);
  return n;
}

// proxy_answer: what a proxy or captive portal answers in the service's place: HTML, no
// x-amzn-RequestId, and a Location when it redirects.
step proxy_answer(unsigned status, std::string body, std::string location = {}) {
  step s;
  s.response.emplace();
  s.response->status = status;
  s.response->headers = {{"Content-Type", "text/html"}};
  if (!location.empty()) s.response->headers.emplace_back("Location", location);
  s.response->body = std::move(body);
  return s;
}

class dispatcher_test : public ::testing::Test {
 protected:
  // config: the defaults, with backoffs shortened (how long a retry waits is retry_policy's
  // concern, tested there) and a fixed jitter seed.
  static dispatch_config config(operation op = operation::invite) {
    dispatch_config c;
    c.op = op;
    c.retry.transient_base = engine::retry_duration(0.005);
    c.retry.throttled_base = engine::retry_duration(0.005);
    c.retry.seed = 7;
    return c;
  }

  std::filesystem::path journal_path() const { return dir_ / "run.journal"; }

  void open_journal(operation op) {
    journal_header h;
    h.op = op;
    h.account_id = account;
    jrnl_ = journal::open(journal_path(), h);
  }

  // run: as run.cpp does: the batches go through a bounded queue, closed once filled, to one
  // sender per transport; the io_context runs (on this thread) until the last sender has ended.
  void run(dispatch_config cfg, std::vector<batch> batches,
           std::vector<scripted_transport*> transports) {
    if (!jrnl_) open_journal(cfg.op);
    disp_.emplace(std::move(cfg), signer_, gate_, jrnl_.get(), stats_,
                  [this](const planned_address& item, const address_outcome& o) {
                    EXPECT_EQ(item.email, o.email);
                    outcomes_.push_back(o);
                  });
    queue_.emplace(batches.size() + 1);
    for (auto& b : batches) {
      bump(stats_.total, b.items.size());
      ASSERT_TRUE(queue_->push(std::move(b)));
    }
    queue_->close();

    senders_left_ = transports.size();
    net::steady_timer all_ended(ioc_, clk::time_point::max());
    started_ = clk::now();
    for (auto* t : transports) {
      disp_->spawn_sender(ioc_.get_executor(), *t, *queue_,
                          [this, &all_ended](std::exception_ptr e) {
                            if (e) {
                              try {
                                std::rethrow_exception(e);
                              } catch (const std::exception& ex) {
                                ADD_FAILURE() << "a sender ended with an exception: " << ex.what();
                              }
                            }
                            if (--senders_left_ == 0) all_ended.cancel();
                          });
    }
    auto ended = tk::run_bounded(ioc_, async_until_ended(all_ended, senders_left_), 10s);
    elapsed_ = clk::now() - started_;
    ASSERT_TRUE(ended.has_value());
    // The sink is called once per address: an address with two outcomes is a bug whatever they say.
    std::set<std::string> seen;
    for (const auto& o : outcomes_) EXPECT_TRUE(seen.insert(o.email).second) << o.email << " twice";
  }

  static net::awaitable<bool> async_until_ended(net::steady_timer& t, const std::size_t& left) {
    while (left > 0) co_await t.async_wait(net::as_tuple(net::use_awaitable));
    co_return true;
  }

  // replay: what the journal says now (its outcomes are group-committed: commit them first).
  replay_state replay() {
    jrnl_->commit();
    return replay_journal(journal_path());
  }

  const address_outcome* outcome_of(const std::string& email) const {
    for (const auto& o : outcomes_)
      if (o.email == email) return &o;
    return nullptr;
  }
  // outcome: the same, throwing (a test failure, not a crash of the whole suite) when none.
  const address_outcome& outcome(const std::string& email) const {
    if (const address_outcome* o = outcome_of(email)) return *o;
    throw std::runtime_error("no outcome for " + email);
  }
  std::size_t count(outcome_kind k) const {
    std::size_t n = 0;
    for (const auto& o : outcomes_) n += o.kind == k;
    return n;
  }
  // request_stop: for responders, which exist before the dispatcher.
  void request_stop(bool hard = false) { disp_->request_stop(hard); }
  std::optional<fatal_stop> fatal() const { return disp_->fatal(); }
  double seconds() const { return std::chrono::duration<double>(elapsed_).count(); }

  tk::temp_dir dir_;
  engine::rate_gate gate_{run_cpp_limiter()};
  signing::signer signer_{example_credentials(), "us-east-1", "chime"};
  run_stats stats_;
  // Declared after the gate (a coroutine frame destroyed with it may give a ticket back) and
  // before the journal (whose flusher may post completions to it until it is closed).
  net::io_context ioc_;
  std::unique_ptr<journal> jrnl_;
  std::optional<async_queue<batch>> queue_;
  std::optional<dispatcher> disp_;
  std::vector<address_outcome> outcomes_;
  std::size_t senders_left_ = 0;
  clk::time_point started_;
  clk::duration elapsed_{};
};

// ---- InviteUsers: answers that settle addresses

TEST_F(dispatcher_test, a_refused_address_is_isolated_by_bisection_and_the_other_49_are_invited) {
  const auto emails = addresses("user", 50);
  const std::string bad = emails[37];
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    return r.mentions(bad) ? tk::error(400, "BadRequestException", "Invalid email " + bad)
                           : tk::invites_201(r.invite_emails);
  });
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(count(outcome_kind::invited), 49u);
  const address_outcome* o = outcome_of(bad);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->kind, outcome_kind::failed);
  EXPECT_EQ(o->error_code, "BadRequestException");
  EXPECT_EQ(o->message, "Invalid email " + bad);
  EXPECT_FALSE(o->request_id.empty());

  // The whole batch, then both halves of each refused part: 1 + 2 per halving (6 for 50).
  const auto& reqs = t.requests();
  ASSERT_FALSE(reqs.empty());
  EXPECT_EQ(reqs[0].invite_emails, emails);
  EXPECT_LE(reqs.size(), 2u * 6u + 1u);
  EXPECT_GE(reqs.size(), 6u);  // at least one refusal per halving: the search really narrowed
  EXPECT_EQ(load(stats_.bisections), 5u);
  // No address was carried by two accepted requests (no duplicate invitation).
  std::map<std::string, int> accepted;
  for (const auto& r : reqs)
    if (!r.mentions(bad))
      for (const auto& e : r.invite_emails) ++accepted[e];
  EXPECT_EQ(accepted.size(), 49u);
  for (const auto& [e, n] : accepted) EXPECT_EQ(n, 1) << e;

  auto j = replay();
  EXPECT_EQ(j.counts().invited, 49u);
  EXPECT_EQ(j.counts().failed, 1u);
  EXPECT_TRUE(j.in_doubt().empty());
}

TEST_F(dispatcher_test, a_reset_after_the_request_was_written_resends_only_what_list_users_lacks) {
  const auto emails = addresses("r", 4);
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with(list_users_knows({emails[0], emails[2]}));
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  // The dropped request, a listing of the account (which proves nothing here: a user without
  // PrimaryEmail), one ListUsers per address in batch order, then the two it did not know.
  const auto& reqs = t.requests();
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_EQ(reqs[0].invite_emails, emails);
  EXPECT_TRUE(reqs[1].is_user_page());
  EXPECT_EQ(list_users_queries(t), emails);
  for (std::size_t i = 2; i <= 5; ++i) {
    EXPECT_TRUE(reqs[i].is_list_users()) << i;
    EXPECT_TRUE(reqs[i].body.empty()) << i;
  }
  EXPECT_EQ(reqs[2].target, "/accounts/acct-1/users?user-email=r0%40example.com");
  EXPECT_EQ(reqs[6].invite_emails, (std::vector<std::string>{emails[1], emails[3]}));

  ASSERT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_EQ(outcome(emails[0]).message,
            "confirmed by ListUsers after an in-doubt request; not sent again");
  EXPECT_EQ(outcome(emails[2]).id, "");  // ListUsers knows the user, not the invite
  EXPECT_EQ(outcome(emails[1]).id, "invite-" + emails[1]);
  EXPECT_EQ(outcome(emails[3]).id, "invite-" + emails[3]);
  EXPECT_EQ(load(stats_.verified), 2u);
  EXPECT_EQ(load(stats_.in_doubt), 1u);

  auto j = replay();
  EXPECT_EQ(j.counts().invited, 4u);
  EXPECT_TRUE(j.in_doubt().empty());
}

TEST_F(dispatcher_test, an_unreadable_2xx_body_is_in_doubt_and_verified_before_resending) {
  const auto emails = addresses("u", 2);
  scripted_transport t;
  t.then(tk::raw(201, "<html>proxy error</html>")).respond_with(list_users_knows({emails[0]}));
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  ASSERT_EQ(t.requests().size(), 5u);  // with a listing that proves nothing
  EXPECT_EQ(list_users_queries(t), emails);
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails, {emails[1]}}));
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  EXPECT_EQ(count(outcome_kind::failed), 0u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, retry_failed_gives_a_failed_invite_one_more_try_and_no_second) {
  const auto emails = addresses("f", 3);
  auto cfg = config();
  cfg.retry_failed = true;
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    std::vector<tk::invite_spec> specs;
    for (const auto& e : r.invite_emails)
      specs.push_back(e == emails[1] ? tk::invite_spec{e, "Failed", "Failed"} : tk::invite_spec{e});
    return tk::invites_201_with(specs);
  });
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails, {emails[1]}}));
  const address_outcome* o = outcome_of(emails[1]);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->kind, outcome_kind::failed);
  EXPECT_EQ(o->error_code, "InviteFailed");
  EXPECT_EQ(o->status, "Failed");
  EXPECT_EQ(o->email_status, "Failed");
  EXPECT_EQ(o->attempts, 2u);
  EXPECT_EQ(outcome(emails[0]).attempts, 1u);
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  auto j = replay();
  EXPECT_EQ(j.counts().failed, 1u);
  EXPECT_EQ(j.counts().invited, 2u);
}

TEST_F(dispatcher_test, retry_failed_records_the_invite_of_the_second_try_when_it_succeeds) {
  const auto emails = addresses("g", 2);
  auto cfg = config();
  cfg.retry_failed = true;
  scripted_transport t;
  t.then(tk::invites_201_with({{emails[0]}, {emails[1], "Failed", "Failed"}}))
      .then(tk::invites_201({emails[1]}));
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(t.requests().size(), 2u);
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  EXPECT_EQ(outcome(emails[1]).status, "Pending");
  EXPECT_EQ(replay().counts().failed, 0u);
}

TEST_F(dispatcher_test, a_201_missing_addresses_leaves_them_in_doubt_for_list_users_to_settle) {
  // The request was applied for the others, so it may have been for these too: failing them
  // would let --retry-failed invite them a second time. ListUsers knows m1 (applied, not listed)
  // but not m2, which alone is sent again.
  const auto emails = addresses("m", 4);
  scripted_transport t;
  t.then(tk::invites_201({emails[0], emails[3]})).respond_with(list_users_knows({emails[1]}));
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>{emails[1], emails[2]}));
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails, {emails[2]}}));
  EXPECT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_EQ(count(outcome_kind::failed), 0u);
  EXPECT_EQ(outcome(emails[1]).message,
            "confirmed by ListUsers after an in-doubt request; not sent again");
  EXPECT_EQ(outcome(emails[2]).attempts, 2u);
  auto j = replay();
  EXPECT_EQ(j.counts().failed, 0u);
  EXPECT_EQ(j.counts().invited, 4u);
  EXPECT_TRUE(j.in_doubt().empty());
}

// ---- in-doubt policies

TEST_F(dispatcher_test, in_doubt_skip_fails_the_addresses_as_in_doubt_without_list_users) {
  const auto emails = addresses("s", 2);
  auto cfg = config();
  cfg.in_doubt = in_doubt_policy::skip;
  scripted_transport t;
  t.then(tk::failure(kind::timeout_after_send, /*written=*/true));
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  ASSERT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(list_users_queries(t).empty());
  ASSERT_EQ(count(outcome_kind::failed), 2u);
  for (const auto& e : emails) EXPECT_EQ(outcome(e).error_code, "InDoubt") << e;
  auto j = replay();
  EXPECT_EQ(j.counts().failed, 2u);
  EXPECT_TRUE(j.in_doubt().empty());
}

TEST_F(dispatcher_test, addresses_an_earlier_run_left_in_doubt_are_verified_before_sending) {
  const auto emails = addresses("e", 4);
  auto cfg = config();
  cfg.in_doubt_addresses = {emails[1], emails[2]};
  scripted_transport t;
  t.respond_with(list_users_knows({emails[1]}));
  run(cfg, {make_batch(1, emails)}, {&t});

  // Only the earlier run's addresses are asked about, before anything is sent (the listing of
  // the account proves nothing here); the one found is not sent again.
  const auto& reqs = t.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_TRUE(reqs[0].is_user_page());
  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>{emails[1], emails[2]}));
  EXPECT_TRUE(reqs[1].is_list_users());
  EXPECT_TRUE(reqs[2].is_list_users());
  EXPECT_EQ(reqs[3].invite_emails, (std::vector<std::string>{emails[0], emails[2], emails[3]}));
  EXPECT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_EQ(outcome(emails[1]).message,
            "confirmed by ListUsers after an in-doubt request; not sent again");
  auto j = replay();
  EXPECT_EQ(j.counts().invited, 4u);
  EXPECT_TRUE(j.in_doubt().empty());
}

TEST_F(dispatcher_test, an_earlier_runs_addresses_are_settled_by_one_listing_of_the_account) {
  // 150 addresses in doubt over three batches; the account holds 80 of them (10 members) among
  // 480 users. Before: 150 ListUsers queries, one an address. Now the three senders share one
  // listing of three pages, which settles all 150: the 80 found are not sent again, the 70 it
  // proves absent are sent with the new batch's addresses.
  const auto doubt = addresses("d", 150), fresh = addresses("n", 50);
  std::vector<account_user> users;
  for (const auto& e : addresses("old", 400)) users.push_back(pending_user(e));
  for (int i = 0; i < 80; ++i)
    users.push_back(i < 10 ? member_user(doubt[i]) : pending_user(doubt[i]));
  auto cfg = config();
  cfg.in_doubt_addresses = {doubt.begin(), doubt.end()};
  scripted_transport t1, t2, t3;
  for (auto* t : {&t1, &t2, &t3}) t->respond_with(scripted_account(users));
  const auto part = [&](int from) {
    return std::vector<std::string>(doubt.begin() + from, doubt.begin() + from + 50);
  };
  run(cfg,
      {make_batch(1, part(0)), make_batch(2, part(50)), make_batch(3, part(100)),
       make_batch(4, fresh)},
      {&t1, &t2, &t3});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(user_pages({&t1, &t2, &t3}), 3u);
  for (auto* t : {&t1, &t2, &t3}) EXPECT_TRUE(list_users_queries(*t).empty());
  for (int i = 0; i < 150; ++i) {
    const int sent = carried(t1, doubt[i]) + carried(t2, doubt[i]) + carried(t3, doubt[i]);
    EXPECT_EQ(sent, i < 80 ? 0 : 1) << doubt[i];
  }
  for (const auto& e : fresh) EXPECT_EQ(carried(t1, e) + carried(t2, e) + carried(t3, e), 1) << e;
  // A member is `exists`, as InviteUsers' Status Accepted would have it; a pending one invited.
  EXPECT_EQ(outcome(doubt[0]).kind, outcome_kind::exists);
  EXPECT_EQ(outcome(doubt[0]).status, "Accepted");
  EXPECT_EQ(outcome(doubt[10]).kind, outcome_kind::invited);
  EXPECT_NE(outcome(doubt[10]).message.find("listing the account's users"), std::string::npos);
  EXPECT_EQ(count(outcome_kind::exists), 10u);
  EXPECT_EQ(count(outcome_kind::invited), 190u);
  EXPECT_EQ(load(stats_.verified), 80u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, a_listed_user_without_primary_email_leaves_the_unfound_to_one_query_each) {
  // Five of the addresses in doubt are pending invitees that ListUsers shows without
  // PrimaryEmail: the listing cannot prove any unfound address absent, so each is asked about,
  // and the hidden five are found that way and never sent again.
  const auto doubt = addresses("d", 10);
  std::vector<account_user> users;
  for (int i = 0; i < 5; ++i) users.push_back(pending_user(doubt[i], /*shows_email=*/false));
  users.push_back(member_user(doubt[5]));
  for (const auto& e : addresses("old", 3)) users.push_back(pending_user(e));
  auto cfg = config();
  cfg.in_doubt_addresses = {doubt.begin(), doubt.end()};
  scripted_transport t;
  t.respond_with(scripted_account(users));
  run(cfg, {make_batch(1, doubt)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(user_pages({&t}), 1u);
  std::vector<std::string> asked(doubt.begin(), doubt.begin() + 5);
  asked.insert(asked.end(), doubt.begin() + 6, doubt.end());
  EXPECT_EQ(list_users_queries(t), asked);
  EXPECT_EQ(invite_lists(t),
            (std::vector<std::vector<std::string>>{{doubt[6], doubt[7], doubt[8], doubt[9]}}));
  EXPECT_EQ(outcome(doubt[5]).kind, outcome_kind::exists);
  EXPECT_EQ(count(outcome_kind::invited), 9u);
}

TEST_F(dispatcher_test, in_a_large_account_the_listing_stops_at_its_cost_bound) {
  // Two addresses in doubt in an account of 1,000 users, none of them: the listing stops after
  // two pages (as many as the queries it could save) and the two are asked about: four
  // requests, where listing everything would take five and asking two.
  const auto doubt = addresses("d", 2), fresh = addresses("n", 1);
  std::vector<account_user> users;
  for (const auto& e : addresses("old", 1000)) users.push_back(pending_user(e));
  auto cfg = config();
  cfg.in_doubt_addresses = {doubt.begin(), doubt.end()};
  scripted_transport t;
  t.respond_with(scripted_account(users));
  run(cfg, {make_batch(1, {doubt[0], fresh[0], doubt[1]})}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(user_pages({&t}), 2u);
  EXPECT_EQ(list_users_queries(t), doubt);
  EXPECT_EQ(invite_lists(t),
            (std::vector<std::vector<std::string>>{{doubt[0], fresh[0], doubt[1]}}));
}

TEST_F(dispatcher_test, a_listing_list_users_keeps_failing_leaves_the_earlier_runs_addresses) {
  // Every ListUsers fails: the listing spends its attempts and the addresses it was for stay in
  // doubt, without one more round of failing queries each; the others are sent.
  const auto emails = addresses("e", 3);
  auto cfg = config();
  cfg.max_attempts = 3;
  cfg.in_doubt_addresses = {emails[0], emails[2]};
  scripted_transport t;
  t.respond_with([](const recorded_request& r) {
    if (r.method == "GET") return tk::error(500, "ServiceFailureException", "ListUsers down");
    return tk::invites_201(r.invite_emails);
  });
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(user_pages({&t}), 3u);
  EXPECT_TRUE(list_users_queries(t).empty());
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{{emails[1]}}));
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_NE(f->message.find("2 addresses"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("ServiceFailureException"), std::string::npos) << f->message;
  EXPECT_FALSE(outcome_of(emails[0]));
  EXPECT_FALSE(outcome_of(emails[2]));
}

TEST_F(dispatcher_test, a_runs_own_dropped_batches_are_settled_by_listings_not_one_query_each) {
  // Four senders; each one's first batch is dropped after the request was written, two of them
  // after the service applied it. The account holds 300 other users. One query per address took
  // 100 ListUsers requests; gathered into listings of the account's two pages, a few. Those the
  // listing found are not sent again, the others once more, and the journal ends with nothing in
  // doubt.
  const int senders = 4, per_batch = 25;
  std::vector<account_user> users;
  for (const auto& e : addresses("old", 300)) users.push_back(pending_user(e));
  std::vector<std::vector<std::string>> firsts;
  std::vector<batch> batches;
  for (int i = 0; i < 2 * senders; ++i) {
    const auto emails = addresses("b" + std::to_string(i) + "-", per_batch);
    if (i < senders) firsts.push_back(emails);
    batches.push_back(make_batch(static_cast<std::uint64_t>(i + 1), emails));
  }
  std::set<std::string> dropped;  // by first address: each first batch is dropped once
  auto respond = [&](const recorded_request& r) {
    if (r.is_invite()) {
      for (int i = 0; i < senders; ++i) {
        if (r.invite_emails.front() != firsts[i].front() || !dropped.insert(firsts[i][0]).second)
          continue;
        if (i % 2 == 0)
          for (const auto& e : r.invite_emails) users.push_back(pending_user(e));
        return tk::failure(kind::reset_after_send, /*written=*/true);
      }
    }
    return scripted_account(users)(r);
  };
  std::vector<scripted_transport> ts(senders);
  std::vector<scripted_transport*> tp;
  for (auto& t : ts) {
    t.respond_with(respond);
    tp.push_back(&t);
  }
  run(config(), std::move(batches), tp);

  EXPECT_FALSE(fatal());
  std::size_t queries = 0;
  for (const auto& t : ts) queries += list_users_queries(t).size();
  const std::size_t pages = user_pages(tp);
  EXPECT_EQ(queries, 0u);
  EXPECT_GE(pages, 2u);
  EXPECT_LE(pages, 2u * senders) << "at most one listing of two pages per dropped batch";
  for (int i = 0; i < senders; ++i) {
    for (const auto& e : firsts[i]) {
      int n = 0;
      for (const auto& t : ts) n += carried(t, e);
      EXPECT_EQ(n, i % 2 == 0 ? 1 : 2) << e;
    }
  }
  EXPECT_EQ(count(outcome_kind::invited), std::size_t(2 * senders * per_batch));
  EXPECT_EQ(load(stats_.verified), std::size_t(senders / 2 * per_batch));
  EXPECT_NE(outcome(firsts[0][0]).message.find("listing the account's users"), std::string::npos);
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, once_a_listing_shows_the_account_too_large_later_rounds_ask_instead) {
  // 1,000 users (five pages) and two dropped batches of two addresses, one after the other. The
  // first round lists two pages, its cost bound, and asks about its two; the second knows the
  // account has more pages than it has addresses and asks at once: 2 pages, not 4.
  std::vector<account_user> users;
  for (const auto& e : addresses("old", 1000)) users.push_back(pending_user(e));
  const auto first = addresses("a", 2), second = addresses("b", 2);
  std::set<std::string> dropped;
  scripted_transport t;
  t.respond_with([&, account = scripted_account(users)](const recorded_request& r) {
    if (r.is_invite() && dropped.insert(r.invite_emails.front()).second)
      return tk::failure(kind::reset_after_send, /*written=*/true);
    return account(r);
  });
  run(config(), {make_batch(1, first), make_batch(2, second)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(user_pages({&t}), 2u);
  EXPECT_EQ(list_users_queries(t),
            (std::vector<std::string>{first[0], first[1], second[0], second[1]}));
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{first, first, second, second}));
  EXPECT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

// ---- stops and what they leave in the journal

TEST_F(dispatcher_test,
       a_stop_keeps_a_maybe_applied_batch_in_doubt_and_withdraws_the_one_taken_ahead) {
  const auto sent = addresses("a", 2), cut = addresses("b", 2), ahead = addresses("c", 2),
             queued = addresses("d", 2);
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    if (r.mentions(cut[0])) {
      request_stop();
      return tk::failure(kind::reset_after_send, /*written=*/true);
    }
    return tk::invites_201(r.invite_emails);
  });
  run(config(),
      {make_batch(1, sent), make_batch(2, cut), make_batch(3, ahead), make_batch(4, queued)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{sent, cut}));
  EXPECT_EQ(outcomes_.size(), 2u);  // only the first batch's
  auto j = replay();
  ASSERT_EQ(j.in_doubt().size(), 1u);
  EXPECT_EQ(j.in_doubt()[0].batch_id, 2u);
  EXPECT_EQ(j.in_doubt()[0].emails, cut);
  for (const auto& e : sent) EXPECT_EQ(j.find(e).value().kind, outcome_kind::invited) << e;
  // The batch taken ahead had its intent appended; withdrawn, it is neither done nor in doubt.
  for (const auto& e : ahead) {
    auto a = j.find(e);
    ASSERT_TRUE(a) << e;
    EXPECT_FALSE(a->in_doubt) << e;
    EXPECT_FALSE(a->kind) << e;
  }
  EXPECT_EQ(j.counts().release_records, 1u);
  for (const auto& e : queued) EXPECT_FALSE(j.find(e)) << e;  // never reached the journal
}

TEST_F(dispatcher_test, a_stop_withdraws_a_batch_that_was_only_refused_and_the_one_taken_ahead) {
  const auto refused = addresses("a", 2), ahead = addresses("b", 2);
  scripted_transport t;
  t.respond_with([&](const recorded_request&) {
    request_stop();
    return tk::error(429, "ThrottledClientException", "Rate exceeded");
  });
  run(config(), {make_batch(1, refused), make_batch(2, ahead)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(t.requests().size(), 1u);  // the 429 is not retried once stopping
  EXPECT_TRUE(outcomes_.empty());
  auto j = replay();
  EXPECT_TRUE(j.in_doubt().empty());
  EXPECT_EQ(j.counts().release_records, 2u);
  for (const auto& e : refused) {
    auto a = j.find(e);
    ASSERT_TRUE(a) << e;  // its intent was durable before the request
    EXPECT_FALSE(a->in_doubt) << e;
    EXPECT_FALSE(a->kind) << e;
  }
  for (const auto& e : ahead) EXPECT_FALSE(j.find(e).value().in_doubt) << e;
}

TEST_F(dispatcher_test, a_hard_stop_cancels_the_request_in_flight_and_leaves_its_batch_in_doubt) {
  // Sender A's request is answered only after 5 s; sender B's, sent half a second later (the
  // gate), stops the run the hard way while A's is still in flight.
  const auto slow = addresses("a", 2), slow_ahead = addresses("b", 2), fast = addresses("c", 2),
             fast_ahead = addresses("d", 2);
  scripted_transport a, b;
  a.then(tk::invites_201(slow).after(5s));
  b.respond_with([&](const recorded_request& r) {
    request_stop(/*hard=*/true);
    return tk::invites_201(r.invite_emails);
  });
  run(config(),
      {make_batch(1, slow), make_batch(2, slow_ahead), make_batch(3, fast),
       make_batch(4, fast_ahead)},
      {&a, &b});

  EXPECT_FALSE(fatal());
  EXPECT_LT(seconds(), 2.0);  // A did not wait for its answer
  EXPECT_EQ(invite_lists(a), (std::vector<std::vector<std::string>>{slow}));
  EXPECT_EQ(invite_lists(b), (std::vector<std::vector<std::string>>{fast}));
  EXPECT_EQ(outcomes_.size(), 2u);
  for (const auto& e : fast) EXPECT_EQ(outcome(e).kind, outcome_kind::invited) << e;
  auto j = replay();
  ASSERT_EQ(j.in_doubt().size(), 1u);  // the cancelled request was written: it may have applied
  EXPECT_EQ(j.in_doubt()[0].batch_id, 1u);
  EXPECT_EQ(j.in_doubt()[0].emails, slow);
  for (const auto& e : slow_ahead) EXPECT_FALSE(j.find(e).value().in_doubt) << e;
  for (const auto& e : fast_ahead) EXPECT_FALSE(j.find(e).value().in_doubt) << e;
}

// ---- answers that stop the run

TEST_F(dispatcher_test, a_401_stops_every_sender_at_once_with_nothing_more_sent) {
  scripted_transport a, b;
  auto refuse = [](const recorded_request&) {
    return tk::error(401, "UnauthorizedClientException", "The security token is invalid");
  };
  a.respond_with(refuse);
  b.respond_with(refuse);
  std::vector<batch> batches;
  for (std::uint64_t i = 1; i <= 6; ++i)
    batches.push_back(make_batch(i, addresses("b" + std::to_string(i) + "-", 2)));
  run(config(), std::move(batches), {&a, &b});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::credentials);
  EXPECT_NE(f->message.find("UnauthorizedClientException"), std::string::npos) << f->message;
  EXPECT_EQ(a.requests().size() + b.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  // The other sender was waiting for its token (the gate starts at 2/s): cancelled, not served.
  EXPECT_LT(seconds(), 0.4);
  auto j = replay();
  EXPECT_TRUE(j.in_doubt().empty());  // a 401 applied nothing
  EXPECT_EQ(j.counts().invited + j.counts().failed, 0u);
}

TEST_F(dispatcher_test, a_404_stops_the_run_as_account_not_found) {
  scripted_transport t;
  t.respond_with([](const recorded_request&) {
    return tk::error(404, "NotFoundException", "The requested resource was not found");
  });
  run(config(), {make_batch(1, addresses("n", 2)), make_batch(2, addresses("o", 2))}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::account_not_found);
  EXPECT_NE(f->message.find(account), std::string::npos) << f->message;
  EXPECT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, a_refused_server_certificate_stops_the_run_as_tls_without_retrying) {
  scripted_transport t;
  t.then(tk::certificate_refused());
  run(config(), {make_batch(1, addresses("t", 2))}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::tls);
  EXPECT_NE(f->message.find("certificate verify failed"), std::string::npos) << f->message;
  EXPECT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_TRUE(replay().in_doubt().empty());  // a failed handshake sent nothing
}

TEST_F(dispatcher_test, persistent_503s_stop_the_run_as_unavailable_and_fail_no_address) {
  const auto emails = addresses("p", 3);
  auto cfg = config();
  cfg.max_attempts = 3;
  scripted_transport t;
  t.respond_with([](const recorded_request&) {
    return tk::error(503, "ServiceUnavailableException", "Service unavailable");
  });
  run(cfg, {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::service_unavailable);
  EXPECT_EQ(t.requests().size(), 3u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(load(stats_.failed), 0u);
  auto j = replay();
  EXPECT_EQ(j.counts().failed, 0u);
  EXPECT_TRUE(j.in_doubt().empty());  // a 503 applied nothing: the next run sends them unverified
  for (const auto& e : emails) EXPECT_FALSE(j.find(e).value().kind) << e;
}

TEST_F(dispatcher_test, a_503_counts_against_max_attempts) {
  // A 503 is the service failing, not pacing: a dead service must end the run within the
  // attempts, not at the 30-minute deadline. The rate gate still slows down on it.
  const auto emails = addresses("q", 2);
  auto cfg = config();
  cfg.max_attempts = 1;
  scripted_transport t;
  t.then(tk::error(503, "ServiceUnavailableException")).then(tk::invites_201(emails));
  run(cfg, {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::service_unavailable);
  EXPECT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  auto j = replay();
  EXPECT_TRUE(j.in_doubt().empty());  // a 503 applied nothing
  for (const auto& e : emails) EXPECT_FALSE(j.find(e).value().kind) << e;
}

// ---- throttling

TEST_F(dispatcher_test, a_429_with_retry_after_pauses_every_sender_of_the_account_and_is_retried) {
  // Ten one-address batches first: a cut sets the gate's rate from the goodput it has seen, so a
  // 429 on the first requests of a run would leave the retries at ~1 request/s after the pause.
  // Three batches follow the refused one, so that both senders have work while it lasts.
  std::vector<batch> batches;
  for (std::uint64_t i = 1; i <= 10; ++i)
    batches.push_back(make_batch(i, addresses("w" + std::to_string(i) + "-", 1)));
  const auto refused = addresses("c", 2);
  batches.push_back(make_batch(11, refused));
  for (std::uint64_t i = 12; i <= 14; ++i)
    batches.push_back(make_batch(i, addresses("z" + std::to_string(i) + "-", 2)));
  std::optional<clk::time_point> refused_at;
  auto respond = [&](const recorded_request& r) {
    if (r.mentions(refused[0]) && !refused_at) {
      refused_at = clk::now();
      return tk::error(429, "ThrottledClientException", "Rate exceeded", {{"Retry-After", "1"}});
    }
    return tk::invites_201(r.invite_emails);
  };
  scripted_transport a, b;
  a.respond_with(respond);
  b.respond_with(respond);
  run(config(), std::move(batches), {&a, &b});

  ASSERT_TRUE(refused_at);
  EXPECT_FALSE(fatal());
  EXPECT_EQ(count(outcome_kind::invited), 18u);
  EXPECT_EQ(count(outcome_kind::failed), 0u);
  EXPECT_EQ(load(stats_.throttled), 1u);
  // Nothing went out on either connection until the Retry-After had passed (the gate's pause is
  // that long at least, counted from after this instant), and both had work waiting for it.
  std::size_t carried_refused = 0;
  for (const auto* t : {&a, &b}) {
    std::size_t after = 0;
    for (const auto& r : t->requests()) {
      carried_refused += r.mentions(refused[0]);
      if (r.at <= *refused_at) continue;
      ++after;
      EXPECT_GE(r.at - *refused_at, 1s) << r.body;
    }
    EXPECT_GE(after, 1u) << (t == &a ? "sender A" : "sender B") << " had nothing left to pause";
  }
  EXPECT_EQ(carried_refused, 2u);
  EXPECT_EQ(outcome(refused[0]).attempts, 2u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

// ---- the happy path

TEST_F(dispatcher_test, one_connection_carries_many_batches_in_order) {
  std::vector<batch> batches;
  std::vector<std::vector<std::string>> lists;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    lists.push_back(addresses("k" + std::to_string(i) + "-", 5));
    batches.push_back(make_batch(i, lists.back()));
  }
  scripted_transport t;
  t.respond_with([](const recorded_request& r) { return tk::invites_201(r.invite_emails); });
  run(config(), std::move(batches), {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(invite_lists(t), lists);
  EXPECT_EQ(count(outcome_kind::invited), 50u);
  EXPECT_EQ(load(stats_.requests), 10u);
  EXPECT_EQ(load(stats_.done), 50u);
  auto j = replay();
  EXPECT_EQ(j.counts().invited, 50u);
  EXPECT_EQ(j.counts().intent_records, 10u);
  EXPECT_EQ(j.counts().outcome_records, 10u);
  EXPECT_TRUE(j.in_doubt().empty());
}

TEST_F(dispatcher_test, each_intent_is_durable_before_its_request_and_outcomes_follow) {
  std::vector<std::vector<std::string>> lists{addresses("x", 3), addresses("y", 3),
                                              addresses("z", 3)};
  std::vector<bool> intent_first;
  std::map<std::string, std::string> request_id_of;
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    // At request time the journal file already says: these addresses are in flight, no outcome.
    auto state = replay_journal(journal_path());
    bool ok = true;
    for (const auto& e : r.invite_emails) {
      auto a = state.find(e);
      ok = ok && a && a->in_doubt && !a->kind;
    }
    intent_first.push_back(ok);
    step s = tk::invites_201(r.invite_emails);
    for (const auto& e : r.invite_emails)
      request_id_of[e] = std::string(s.response->header("x-amzn-RequestId"));
    return s;
  });
  run(config(), {make_batch(1, lists[0]), make_batch(2, lists[1]), make_batch(3, lists[2])}, {&t});

  EXPECT_EQ(intent_first, (std::vector<bool>{true, true, true}));
  auto j = replay();
  EXPECT_TRUE(j.in_doubt().empty());
  EXPECT_EQ(j.counts().intent_records, 3u);
  EXPECT_EQ(j.counts().outcome_records, 3u);
  for (const auto& list : lists) {
    for (const auto& e : list) {
      auto o = j.outcome_of(e);
      ASSERT_TRUE(o) << e;
      EXPECT_EQ(o->kind, outcome_kind::invited);
      EXPECT_EQ(o->id, "invite-" + e);
      EXPECT_EQ(o->status, "Pending");
      EXPECT_EQ(o->email_status, "Sent");
      EXPECT_EQ(o->request_id, request_id_of[e]);
      EXPECT_EQ(o->attempts, 1u);
    }
  }
  // Every request is signed for chime in us-east-1 with the example key, as the service checks.
  signing::verifier v({example_credentials()}, "us-east-1", "chime");
  for (const auto& r : t.requests()) {
    std::vector<signing::header_view> hs;
    for (const auto& [k, val] : r.headers) hs.push_back({k, val});
    auto verdict = v.verify({r.method, r.target, hs, r.body}, signing::clock::now());
    EXPECT_TRUE(verdict) << verdict.message;
    EXPECT_EQ(r.header("Host"), t.host_header());
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.target, "/accounts/acct-1/users?operation=add");
  }
}

// ---- CreateUser

TEST_F(dispatcher_test, create_user_201_records_the_user_as_created_with_its_id) {
  const auto emails = addresses("cu", 2);
  scripted_transport t;
  t.respond_with([](const recorded_request& r) {
    return tk::created_201(r.create_email, "user-id-" + r.create_email);
  });
  run(config(operation::create), {make_batch(1, {emails[0]}), make_batch(2, {emails[1]})}, {&t});

  ASSERT_EQ(t.requests().size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(t.requests()[i].is_create());
    EXPECT_EQ(t.requests()[i].create_email, emails[i]);
    const address_outcome* o = outcome_of(emails[i]);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->kind, outcome_kind::created);
    EXPECT_EQ(o->id, "user-id-" + emails[i]);
    EXPECT_EQ(o->status, "Pending");
  }
  EXPECT_EQ(replay().counts().created, 2u);
}

TEST_F(dispatcher_test, create_user_409_records_the_user_as_existing) {
  const auto emails = addresses("ex", 1);
  scripted_transport t;
  t.then(tk::error(409, "ConflictException", "User already exists"));
  run(config(operation::create), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(t.requests().size(), 1u);
  const address_outcome* o = outcome_of(emails[0]);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->kind, outcome_kind::exists);
  EXPECT_EQ(o->error_code, "ConflictException");
  EXPECT_EQ(o->message, "User already exists");
  EXPECT_EQ(replay().counts().exists, 1u);
}

// ---- issue 21: nobody lost, nobody invited twice, on every path

TEST_F(dispatcher_test, an_address_list_users_cannot_check_is_never_sent_again) {
  // ListUsers fails every attempt: the dropped batch's addresses stay in doubt (intent, no
  // outcome), the next batch is still sent, and the run ends saying what is left and how to end.
  const auto dropped = addresses("d", 3), next = addresses("n", 2);
  auto cfg = config();
  cfg.max_attempts = 3;
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with([](const recorded_request& r) {
        if (r.is_list_users()) return tk::error(500, "ServiceFailureException", "ListUsers down");
        return tk::invites_201(r.invite_emails);
      });
  run(cfg, {make_batch(1, dropped), make_batch(2, next)}, {&t});

  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{dropped, next}));
  // Its attempts for the first address, then the others are not asked: ListUsers is failing.
  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>(3, dropped[0])));
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_NE(f->message.find("3 addresses"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("--in-doubt resend"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("ServiceFailureException"), std::string::npos) << f->message;
  EXPECT_EQ(load(stats_.left_in_doubt), 3u);
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  for (const auto& e : dropped) EXPECT_FALSE(outcome_of(e)) << e;
  auto j = replay();
  ASSERT_EQ(j.in_doubt().size(), 1u);
  EXPECT_EQ(j.in_doubt()[0].emails, dropped);
}

// list_users_refuses: drops the invite, then answers every ListUsers with `status`.
tk::scripted_transport::responder list_users_refuses(unsigned status) {
  return [status](const recorded_request& r) {
    if (r.is_list_users()) return tk::error(status, "RefusedException", "not this question");
    return tk::invites_201(r.invite_emails);
  };
}

TEST_F(dispatcher_test, a_list_users_400_leaves_each_address_in_doubt_after_one_question) {
  // A refusal of the question says nothing about the address: one question each, none re-sent.
  const auto emails = addresses("r", 2);
  scripted_transport t;
  t.then(tk::failure(kind::timeout_after_send, /*written=*/true))
      .respond_with(list_users_refuses(400));
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails}));
  EXPECT_EQ(list_users_queries(t), emails);
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(replay().in_doubt().size(), 1u);
}

TEST_F(dispatcher_test, a_list_users_404_leaves_each_address_in_doubt_after_one_question) {
  const auto emails = addresses("r", 2);
  scripted_transport t;
  t.then(tk::failure(kind::timeout_after_send, /*written=*/true))
      .respond_with(list_users_refuses(404));
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails}));
  EXPECT_EQ(list_users_queries(t), emails);
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(replay().in_doubt().size(), 1u);
}

TEST_F(dispatcher_test, an_earlier_runs_address_list_users_cannot_check_is_not_sent) {
  const auto emails = addresses("e", 3);
  auto cfg = config();
  cfg.in_doubt_addresses = {emails[1]};
  scripted_transport t;
  t.respond_with([](const recorded_request& r) {
    if (r.method == "GET") return tk::error(404, "NotFoundException", "no such thing");
    return tk::invites_201(r.invite_emails);
  });
  run(cfg, {make_batch(1, emails)}, {&t});

  // The listing refused, the address is asked about once, refused too: left in doubt.
  EXPECT_EQ(user_pages({&t}), 1u);
  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>{emails[1]}));
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{{emails[0], emails[2]}}));
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_NE(f->message.find("1 address "), std::string::npos) << f->message;
  EXPECT_FALSE(outcome_of(emails[1]));
  // Not in this run's intent: the earlier run's intent keeps it in doubt (that journal is not
  // this test's, so here it is simply never mentioned).
  EXPECT_FALSE(replay().find(emails[1]));
}

TEST_F(dispatcher_test, a_list_users_403_stops_the_run_naming_the_missing_permission) {
  const auto emails = addresses("p", 2);
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .then(tk::error(403, "ForbiddenException", "not allowed"));
  run(config(), {make_batch(1, emails), make_batch(2, addresses("q", 2))}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::credentials);
  EXPECT_NE(f->message.find("chime:ListUsers"), std::string::npos) << f->message;
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails}));
  EXPECT_EQ(replay().in_doubt().size(), 1u);
}

TEST_F(dispatcher_test, an_address_left_in_doubt_is_checked_whatever_the_case_of_its_local_part) {
  // The earlier run's journal says `ann@`; the corpus was re-exported with `Ann@`. Ingest and the
  // journal call them the same address: so must the in-doubt check.
  auto cfg = config();
  cfg.in_doubt_addresses = {"ann@example.com"};
  const std::vector<std::string> emails{"Ann@example.com", "bob@example.com"};
  scripted_transport t;
  t.respond_with(list_users_knows({"Ann@example.com"}));
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>{"Ann@example.com"}));
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{{"bob@example.com"}}));
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  EXPECT_FALSE(fatal());
}

TEST_F(dispatcher_test, with_case_sensitive_local_parts_only_the_domain_is_folded) {
  // The journal of the earlier run was written with --case-sensitive-local: `Ann@Example.COM` is
  // the address it left in doubt, `ann@example.com` is another person.
  journal_header h;
  h.account_id = account;
  h.case_sensitive_local = true;
  {
    auto earlier = journal::open(journal_path(), h);
    earlier->wait_durable(earlier->record_intent(7, std::vector<std::string>{"Ann@example.com"}));
    earlier->close();
  }
  jrnl_ = journal::open(journal_path(), h);
  auto cfg = config();
  for (std::size_t i = 0; i < jrnl_->prior().size(); ++i)
    if (auto st = jrnl_->prior().at(i); st.in_doubt) cfg.in_doubt_addresses.emplace(st.email);
  ASSERT_EQ(cfg.in_doubt_addresses.size(), 1u);
  const std::vector<std::string> emails{"Ann@Example.COM", "ann@example.com"};
  scripted_transport t;
  t.respond_with(list_users_knows({"Ann@Example.COM"}));
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>{"Ann@Example.COM"}));
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{{"ann@example.com"}}));
}

TEST_F(dispatcher_test, any_user_list_users_returns_for_the_address_counts_and_its_status_is_kept) {
  // A pending invitee's details, PrimaryEmail included, may not show until they accept: the
  // user-email filter found them, which is the answer. What ListUsers said is recorded.
  const auto emails = addresses("v", 2);
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with([&](const recorded_request& r) {
        if (!r.is_list_users()) return tk::invites_201(r.invite_emails);
        if (*r.list_users_email == emails[0])
          return users_200_of({boost::json::object{{"UserId", "u-0"},
                                                   {"UserInvitationStatus", "Pending"},
                                                   {"UserRegistrationStatus", "Unregistered"}}});
        return users_200_of({boost::json::object{{"UserId", "u-1"},
                                                 {"PrimaryEmail", "V1@EXAMPLE.COM"},
                                                 {"UserInvitationStatus", "Accepted"},
                                                 {"UserRegistrationStatus", "Registered"}}});
      });
  run(config(), {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{emails}));
  // A member (Accepted) is `exists`, as InviteUsers' own answer would classify it.
  EXPECT_EQ(outcome(emails[0]).kind, outcome_kind::invited);
  EXPECT_EQ(outcome(emails[1]).kind, outcome_kind::exists);
  EXPECT_NE(outcome(emails[1]).message.find("already a member"), std::string::npos);
  EXPECT_EQ(outcome(emails[0]).status, "Pending");
  EXPECT_NE(outcome(emails[0]).message.find("Unregistered"), std::string::npos);
  EXPECT_EQ(outcome(emails[1]).status, "Accepted");
  EXPECT_NE(outcome(emails[1]).message.find("Registered"), std::string::npos);
  EXPECT_EQ(outcome(emails[1]).attempts, 1u);
  EXPECT_EQ(load(stats_.verified), 2u);
}

TEST_F(dispatcher_test, a_persistent_500_is_bisected_to_the_address_that_triggers_it) {
  // One address makes every request that carries it fail with a 500 while the service answers
  // the rest: halving isolates it, the others are invited once each, and it fails with the
  // service's error after its attempts.
  const auto emails = addresses("b", 6);
  const std::string bad = emails[4];
  auto cfg = config();
  cfg.max_attempts = 3;
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    if (r.is_list_users()) return tk::users_200({});
    if (r.mentions(bad)) return tk::error(500, "ServiceFailureException", "internal failure");
    return tk::invites_201(r.invite_emails);
  });
  run(cfg, {make_batch(1, emails), make_batch(2, addresses("c", 3))}, {&t});

  EXPECT_FALSE(fatal());
  const address_outcome* o = outcome_of(bad);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->kind, outcome_kind::failed);
  EXPECT_EQ(o->error_code, "ServiceFailureException");
  EXPECT_EQ(o->message, "internal failure");
  EXPECT_EQ(o->attempts, static_cast<unsigned>(carried(t, bad)));
  EXPECT_EQ(count(outcome_kind::invited), 8u);
  EXPECT_GE(load(stats_.bisections), 2u);
  // No address is carried by two accepted requests; the bad one by a bounded number.
  for (const auto& e : emails) {
    if (e != bad) {
      EXPECT_EQ(outcome(e).attempts, static_cast<unsigned>(carried(t, e))) << e;
    }
  }
  EXPECT_LE(carried(t, bad), 2 * 3 + 3);
  auto j = replay();
  EXPECT_TRUE(j.in_doubt().empty());
  EXPECT_EQ(j.counts().failed, 1u);
}

TEST_F(dispatcher_test, a_service_that_fails_everything_stops_the_run_within_the_retry_budget) {
  // InviteUsers and ListUsers both answer 500: the retry budget (here 10 retries) is spent with
  // nothing answered, and the run stops with nobody failed and what was sent in doubt.
  auto cfg = config();
  cfg.retry.budget_capacity = 140;
  std::vector<batch> batches;
  for (std::uint64_t i = 1; i <= 20; ++i)
    batches.push_back(make_batch(i, addresses("x" + std::to_string(i) + "-", 3)));
  scripted_transport t;
  t.respond_with([](const recorded_request&) {
    return tk::error(500, "ServiceFailureException", "everything is broken");
  });
  run(cfg, std::move(batches), {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::service_unavailable);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(load(stats_.failed), 0u);
  // 10 retries fit in the budget; each batch's first request and first questions (its round's
  // listing page, which fails once and ends, then the first address) are free.
  const auto sent = invite_lists(t).size();
  EXPECT_LE(sent, 3u);
  EXPECT_LE(t.requests().size(), 11u + 3 * sent);
  EXPECT_EQ(replay().in_doubt().size(), sent);  // a 500 may have applied: checked next run
}

TEST_F(dispatcher_test, an_empty_retry_budget_waits_for_refills_until_ten_requests_in_a_row_fail) {
  // An empty budget alone is no outage: other requests may be what keeps failing, or the part
  // may be about to get through. Only failures in a row with no answer at all mean "down".
  const auto emails = addresses("f", 2);
  auto cfg = config();
  cfg.max_attempts = 6;
  cfg.retry.budget_capacity = 14;  // one retry
  cfg.retry.park_min = engine::retry_duration(0.01);
  cfg.retry.park_max = engine::retry_duration(0.02);
  scripted_transport t;
  for (int i = 0; i < 4; ++i) t.then(tk::failure(kind::connect_failed, /*written=*/false));
  t.then(tk::invites_201(emails));
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(t.requests().size(), 5u);
  EXPECT_EQ(count(outcome_kind::invited), 2u);
  EXPECT_EQ(outcome(emails[0]).attempts, 5u);
}

TEST_F(dispatcher_test, a_service_failing_slowly_stops_the_run_at_the_outage_limit) {
  // A 503 storm makes the rate gate send one request in 5 s: neither the attempts nor the budget
  // would end it in less than minutes. The outage clock does: nothing but failures for this long.
  auto cfg = config();
  cfg.max_attempts = 1000;
  cfg.retry.outage_limit = engine::retry_duration(0.5);
  scripted_transport t;
  t.respond_with([](const recorded_request&) {
    return tk::error(503, "ServiceUnavailableException", "unavailable").after(100ms);
  });
  run(cfg, {make_batch(1, addresses("o", 2))}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::service_unavailable);
  EXPECT_NE(f->message.find("ServiceUnavailableException"), std::string::npos) << f->message;
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_LT(seconds(), 3.0);
  EXPECT_TRUE(replay().in_doubt().empty());  // a 503 applied nothing
}

TEST_F(dispatcher_test, a_list_users_200_that_cannot_be_read_is_retried_with_backoff_and_bounded) {
  const auto emails = addresses("j", 2);
  auto cfg = config();
  cfg.max_attempts = 3;
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with([](const recorded_request& r) {
        if (r.is_list_users()) return tk::raw(200, "{\"Users\": [oops");
        return tk::invites_201(r.invite_emails);
      });
  run(cfg, {make_batch(1, emails)}, {&t});

  EXPECT_EQ(list_users_queries(t), (std::vector<std::string>(3, emails[0])));
  EXPECT_EQ(invite_lists(t).size(), 1u);
  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
}

// The limiter once held its rate at the 0.2/s floor after a 429 that came before any 2xx (the
// goodput clamp of a limiter that had measured nothing), and ListUsers shared it: 5 s between
// every request of the check that followed a reset (over 20 s here). Now: the 429 halves the
// start rate (2/s), so each of the two sends that follow waits ~1.1 s for its token (2.4 s).
TEST_F(dispatcher_test, a_429_then_a_reset_after_writing_is_settled_without_a_stall) {
  const auto emails = addresses("t", 4);
  scripted_transport t;
  t.then(tk::error(429, "ThrottledClientException", "Rate exceeded"))
      .then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with(list_users_knows({emails[0]}));
  run(config(), {make_batch(1, emails)}, {&t});
  EXPECT_FALSE(fatal());
  EXPECT_LT(seconds(), 4.0);
  EXPECT_EQ(invite_lists(t), (std::vector<std::vector<std::string>>{
                                 emails, emails, {emails[1], emails[2], emails[3]}}));
  EXPECT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, checking_an_address_stops_at_the_deadline) {
  // ListUsers throttled without end: throttles are not counted, the deadline ends it.
  const auto emails = addresses("t", 1);
  auto cfg = config();
  cfg.retry.deadline = engine::retry_duration(0.3);
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with([](const recorded_request& r) {
        if (r.is_list_users()) return tk::error(429, "ThrottledClientException", "slow down");
        return tk::invites_201(r.invite_emails);
      });
  run(cfg, {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::in_doubt);
  EXPECT_EQ(invite_lists(t).size(), 1u);
  EXPECT_LT(seconds(), 5.0);
}

TEST_F(dispatcher_test, a_redirect_from_a_proxy_stops_the_run_and_fails_nobody) {
  const auto emails = addresses("h", 3);
  scripted_transport t;
  t.then(proxy_answer(302, "<html><body>Found</body></html>",
                      "https://portal.proxy.invalid/login?continue=chime"));
  run(config(), {make_batch(1, emails), make_batch(2, addresses("i", 2))}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::not_the_service);
  EXPECT_NE(f->message.find("302"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("https://portal.proxy.invalid/login"), std::string::npos) << f->message;
  EXPECT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(load(stats_.failed), 0u);
  EXPECT_EQ(replay().counts().failed, 0u);
}

TEST_F(dispatcher_test, a_captive_portal_page_in_place_of_a_201_stops_the_run_and_invites_nobody) {
  const auto emails = addresses("g", 2);
  scripted_transport t;
  t.then(proxy_answer(200, "<!DOCTYPE html>\n<html><title>Network login</title></html>"))
      .respond_with(list_users_knows({}));
  run(config(), {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::not_the_service);
  EXPECT_NE(f->message.find("200"), std::string::npos) << f->message;
  EXPECT_NE(f->message.find("<!DOCTYPE html>"), std::string::npos) << f->message;
  EXPECT_EQ(t.requests().size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  // Whatever answered, the request left: the next run checks these addresses first.
  EXPECT_EQ(replay().in_doubt().size(), 1u);
}

TEST_F(dispatcher_test, a_list_users_answered_by_a_proxy_stops_the_run_and_sends_nothing_again) {
  const auto emails = addresses("k", 2);
  scripted_transport t;
  t.then(tk::failure(kind::reset_after_send, /*written=*/true))
      .respond_with([](const recorded_request& r) {
        if (r.is_list_users())
          return proxy_answer(302, "<html>moved</html>", "https://portal.proxy.invalid/");
        return tk::invites_201(r.invite_emails);
      });
  run(config(), {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::not_the_service);
  EXPECT_EQ(invite_lists(t).size(), 1u);
  EXPECT_EQ(list_users_queries(t).size(), 1u);
  EXPECT_TRUE(outcomes_.empty());
  EXPECT_EQ(replay().in_doubt().size(), 1u);
}

TEST_F(dispatcher_test, a_cancel_no_stop_asked_for_is_a_transport_failure_and_retried) {
  // E.g. a connection torn down under the sender (a socket that could not be opened reads as
  // cancelled): retried like any transport failure, never a silent end of the batch.
  const auto before = addresses("y", 2), after = addresses("z", 2);
  scripted_transport t;
  t.then(tk::failure(kind::cancelled, /*written=*/false))
      .then(tk::invites_201(before))
      .then(tk::failure(kind::cancelled, /*written=*/true))
      .respond_with(list_users_knows({after[0]}));
  run(config(), {make_batch(1, before), make_batch(2, after)}, {&t});

  EXPECT_FALSE(fatal());
  EXPECT_EQ(invite_lists(t),
            (std::vector<std::vector<std::string>>{before, before, after, {after[1]}}));
  EXPECT_EQ(count(outcome_kind::invited), 4u);
  EXPECT_EQ(outcome(before[0]).attempts, 2u);
  EXPECT_TRUE(replay().in_doubt().empty());
}

TEST_F(dispatcher_test, an_outcome_counts_every_request_that_carried_its_address) {
  // A 400 splits the batch; the halves' addresses were carried by the whole batch's request too.
  const auto emails = addresses("a", 8);
  const std::string bad = emails[6];
  scripted_transport t;
  t.respond_with([&](const recorded_request& r) {
    return r.mentions(bad) ? tk::error(400, "BadRequestException", "Invalid email " + bad)
                           : tk::invites_201(r.invite_emails);
  });
  run(config(), {make_batch(1, emails)}, {&t});

  for (const auto& e : emails)
    EXPECT_EQ(outcome(e).attempts, static_cast<unsigned>(carried(t, e))) << e;
  EXPECT_EQ(outcome(emails[0]).attempts, 2u);
  EXPECT_EQ(outcome(bad).attempts, 4u);
}

TEST_F(dispatcher_test, unreadable_2xx_answers_refund_nothing_so_the_budget_still_runs_out) {
  // A service answering every InviteUsers with a 2xx nobody can read is not a healthy one: were
  // such answers refunded as successes, the budget would never empty and the run never stop.
  // (--in-doubt resend: no ListUsers, whose answers would show the service up.)
  const auto emails = addresses("w", 2);
  auto cfg = config();
  cfg.in_doubt = in_doubt_policy::resend;
  cfg.max_attempts = 1000;
  cfg.retry.budget_capacity = 70;
  cfg.retry.park_min = engine::retry_duration(0.01);
  cfg.retry.park_max = engine::retry_duration(0.02);
  scripted_transport t;
  t.respond_with([](const recorded_request&) { return tk::raw(201, "{\"Invites\": 7}"); });
  run(cfg, {make_batch(1, emails)}, {&t});

  auto f = fatal();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, fatal_kind::service_unavailable);
  EXPECT_LE(invite_lists(t).size(), 20u);
  EXPECT_TRUE(outcomes_.empty());
}

}  // namespace
}  // namespace onboard
