// onboard/testkit/scripted_transport.hpp: a transport that plays a script instead of opening a
// socket, so that the dispatcher's tests are deterministic: every answer (a response, or how the
// exchange failed) is chosen by the test, and every request is recorded for it to inspect.
//
//   scripted_transport t;
//   t.then(error(503, "ServiceUnavailableException"))             // a fixed step first,
//    .respond_with([](const recorded_request& r) {                // then answers by content
//      return r.mentions("bad@example.com") ? error(400, "BadRequestException", "bad address")
//                                           : invites_201(r.invite_emails);
//    });
//   ... run the dispatcher ...
//   EXPECT_EQ(t.requests().size(), 2u);
//
// A step may carry a delay, spent on a steady_timer of the exchange's executor, so that a test
// can hold a request in flight while others proceed. Header-only: only the dispatch suite uses it
// (it needs onboard_dispatch and, through it, Asio, Boost.JSON and OpenSSL). One io thread.
#pragma once

#include <onboard/dispatch/transport.hpp>
#include <onboard/io/transport_error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard::testkit {

using header_list = std::vector<std::pair<std::string, std::string>>;

// recorded_request: one request as the transport received it, with what the dispatcher's tests
// usually ask about it already decoded.
struct recorded_request {
  std::size_t index = 0;  // 0, 1, 2... on this transport
  std::chrono::steady_clock::time_point at;
  std::string method;
  std::string target;
  header_list headers;
  std::string body;
  // invite_emails: the UserEmailList of an InviteUsers body, in order (empty for other requests).
  std::vector<std::string> invite_emails;
  // create_email: the Email of a CreateUser body.
  std::string create_email;
  // list_users_email: the decoded `user-email` query of a ListUsers GET.
  std::optional<std::string> list_users_email;
  // page_token: the decoded `next-token` of a ListUsers GET that lists the account page by page
  // (empty for its first page).
  std::string page_token;

  bool is_invite() const { return method == "POST" && target.ends_with("?operation=add"); }
  bool is_create() const { return method == "POST" && target.ends_with("?operation=create"); }
  bool is_list_users() const { return method == "GET" && list_users_email.has_value(); }
  // is_user_page: ListUsers of every user, one page (`max-results`, no `user-email`).
  bool is_user_page() const {
    return method == "GET" && !list_users_email &&
           target.find("/users?max-results=") != std::string::npos;
  }

  // header: the first value of `name` (ASCII case-insensitive), empty when absent.
  std::string_view header(std::string_view name) const {
    auto same = [](std::string_view a, std::string_view b) {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
        if (lower(a[i]) != lower(b[i])) return false;
      }
      return true;
    };
    for (const auto& [k, v] : headers)
      if (same(k, name)) return v;
    return {};
  }

  // mentions: the request carries `email` (in its invite list, CreateUser body or ListUsers query).
  bool mentions(std::string_view email) const {
    for (const auto& e : invite_emails)
      if (e == email) return true;
    return create_email == email || (list_users_email && *list_users_email == email);
  }
};

// step: one answer of the script: a response, or a failure that produced none.
struct step {
  std::optional<incoming_response> response;
  std::optional<io::transport_error> failure;
  std::chrono::milliseconds delay{0};

  // after: the same answer, given `d` after the request arrived.
  step after(std::chrono::milliseconds d) const {
    step s = *this;
    s.delay = d;
    return s;
  }
  // with_header: the same response with one more header.
  step with_header(std::string name, std::string value) const {
    step s = *this;
    if (s.response) s.response->headers.emplace_back(std::move(name), std::move(value));
    return s;
  }
};

namespace detail {

// next_request_id: distinct x-amzn-RequestId values, so that a test can tell which response
// decided an outcome.
inline std::string next_request_id() {
  static std::atomic<unsigned> n{0};
  return "req-" + std::to_string(++n);
}

inline std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// query_value: the decoded value of `key` in the target's query, nullopt when absent.
inline std::optional<std::string> query_value(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                         : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// decode: fills the convenience members from the wire form. A body that is not the JSON the
// engine writes leaves them empty: the test then sees that, rather than a throw from here.
inline void decode(recorded_request& r) {
  namespace json = boost::json;
  if (r.method == "GET") {
    r.list_users_email = query_value(r.target, "user-email");
    r.page_token = query_value(r.target, "next-token").value_or("");
    return;
  }
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.get_object();
  if (auto it = o.find("UserEmailList"); it != o.end() && it->value().is_array())
    for (const auto& e : it->value().get_array())
      if (e.is_string()) r.invite_emails.emplace_back(e.get_string());
  if (auto it = o.find("Email"); it != o.end() && it->value().is_string())
    r.create_email = std::string(it->value().get_string());
}

inline step json_response(unsigned status, const boost::json::value& body, header_list extra) {
  step s;
  s.response.emplace();
  s.response->status = status;
  s.response->headers = {{"Content-Type", "application/json"},
                         {"x-amzn-RequestId", next_request_id()}};
  for (auto& h : extra) s.response->headers.push_back(std::move(h));
  s.response->body = boost::json::serialize(body);
  return s;
}

}  // namespace detail

// invite_spec: one Invite of an InviteUsers answer.
struct invite_spec {
  std::string email;
  std::string status = "Pending";     // Pending | Accepted | Failed
  std::string email_status = "Sent";  // NotSent | Sent | Failed
};

// invites_201_with: an InviteUsers 201 with these invites, in this order, as the service shapes it.
inline step invites_201_with(const std::vector<invite_spec>& invites) {
  boost::json::array list;
  for (const auto& i : invites) {
    list.push_back(boost::json::object{{"InviteId", "invite-" + i.email},
                                       {"Status", i.status},
                                       {"EmailAddress", i.email},
                                       {"EmailStatus", i.email_status}});
  }
  return detail::json_response(201, boost::json::object{{"Invites", std::move(list)}}, {});
}

// invites_201: every address invited (Status Pending, EmailStatus Sent), in request order.
inline step invites_201(const std::vector<std::string>& addresses) {
  std::vector<invite_spec> specs;
  for (const auto& a : addresses) specs.push_back({a});
  return invites_201_with(specs);
}

// created_201: a CreateUser 201 for `email`.
inline step created_201(const std::string& email, const std::string& user_id) {
  return detail::json_response(
      201,
      boost::json::object{
          {"User", boost::json::object{{"UserId", user_id},
                                       {"PrimaryEmail", email},
                                       {"UserInvitationStatus", "Pending"},
                                       {"UserRegistrationStatus", "Unregistered"}}}},
      {});
}

// users_200: a ListUsers 200 that knows these addresses (none: the address is unknown).
inline step users_200(const std::vector<std::string>& emails) {
  boost::json::array users;
  for (const auto& e : emails)
    users.push_back(boost::json::object{{"UserId", "user-" + e}, {"PrimaryEmail", e}});
  return detail::json_response(200, boost::json::object{{"Users", std::move(users)}}, {});
}

// user_page_200: one page of ListUsers without a filter: these User objects, and NextToken
// when more pages follow.
inline step user_page_200(boost::json::array users, const std::string& next_token = {}) {
  boost::json::object o{{"Users", std::move(users)}};
  if (!next_token.empty()) o["NextToken"] = next_token;
  return detail::json_response(200, o, {});
}

// error: a service error as Chime sends it: the code in x-amzn-ErrorType (what the decoders read
// first) and in the body, with a request id and any extra headers (e.g. Retry-After).
inline step error(unsigned status, const std::string& code, const std::string& message = {},
                  header_list extra = {}) {
  extra.emplace_back("x-amzn-ErrorType", code);
  return detail::json_response(status, boost::json::object{{"Code", code}, {"Message", message}},
                               std::move(extra));
}

// raw: any status, headers and body, e.g. a 2xx whose body is not what the decoder accepts.
inline step raw(unsigned status, std::string body, header_list headers = {}) {
  step s;
  s.response.emplace();
  s.response->status = status;
  s.response->headers = std::move(headers);
  s.response->headers.emplace_back("x-amzn-RequestId", detail::next_request_id());
  s.response->body = std::move(body);
  return s;
}

// failure: no response; `written` says whether every byte of the request had been sent (which,
// for a cancellation, decides whether it is in doubt).
inline step failure(io::transport_error_kind kind, bool written,
                    boost::system::error_code code = {}) {
  step s;
  io::transport_error e;
  e.kind = kind;
  e.code = code;
  e.request_written = written;
  e.message = "scripted " + std::string(io::to_string(kind)) +
              (written ? " after the request was written" : " before the request was written");
  s.failure = std::move(e);
  return s;
}

// certificate_refused: the TLS handshake failed because the server's certificate did not verify,
// with the error code OpenSSL gives then (what transport_error::certificate_refused looks for).
inline step certificate_refused() {
  boost::system::error_code code(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
      boost::asio::error::get_ssl_category());
  step s = failure(io::transport_error_kind::tls_failed, false, code);
  s.failure->message = "TLS handshake with chime.test:443 failed: certificate verify failed";
  return s;
}

// scripted_transport: answers each request with the next queued step, or, once none is queued,
// with the responder's answer. With neither, the test fails and the request is refused with a
// 403, which stops the dispatcher at once instead of letting it retry against an empty script.
class scripted_transport final : public transport {
 public:
  using responder = std::function<step(const recorded_request&)>;

  explicit scripted_transport(std::string host = "chime.us-east-1.amazonaws.com")
      : host_(std::move(host)) {}

  // then: queues a step, played before the responder is asked.
  scripted_transport& then(step s) {
    script_.push_back(std::move(s));
    return *this;
  }
  scripted_transport& respond_with(responder r) {
    responder_ = std::move(r);
    return *this;
  }

  const std::vector<recorded_request>& requests() const { return requests_; }
  std::size_t steps_left() const { return script_.size(); }

  boost::asio::awaitable<exchange_result> async_exchange(outgoing_request req) override {
    namespace net = boost::asio;
    auto ex = co_await net::this_coro::executor;
    // A real exchange suspends before its first byte is out: the same point at which a stop
    // posted meanwhile runs, and a cancelled coroutine throws instead of sending.
    co_await net::post(ex, net::use_awaitable);

    recorded_request rec;
    rec.index = requests_.size();
    rec.at = std::chrono::steady_clock::now();
    rec.method = std::move(req.method);
    rec.target = std::move(req.target);
    rec.headers = std::move(req.headers);
    rec.body = std::move(req.body);
    detail::decode(rec);
    requests_.push_back(rec);

    step s;
    if (!script_.empty()) {
      s = std::move(script_.front());
      script_.pop_front();
    } else if (responder_) {
      s = responder_(rec);
    } else {
      ADD_FAILURE() << "scripted_transport: no step left for request " << rec.index << " ("
                    << rec.method << " " << rec.target << ")";
      s = error(403, "ScriptExhaustedException", "the test's script has no answer left");
    }

    if (s.delay.count() > 0) {
      net::steady_timer timer(ex, s.delay);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec) {
        // As the real connection reports a cancelled read: the request is out, so in doubt.
        exchange_result cancelled;
        io::transport_error e;
        e.kind = io::transport_error_kind::cancelled;
        e.code = ec;
        e.request_written = true;
        e.message = "cancelled while reading the scripted response";
        cancelled.failure = std::move(e);
        co_return cancelled;
      }
    }
    exchange_result out;
    if (s.failure) {
      out.failure = std::move(s.failure);
    } else if (s.response) {
      out.response = std::move(*s.response);
    } else {
      ADD_FAILURE() << "scripted_transport: a step with neither a response nor a failure";
      out.response.status = 500;
    }
    co_return out;
  }

  const std::string& host_header() const override { return host_; }

 private:
  std::string host_;
  std::deque<step> script_;
  responder responder_;
  std::vector<recorded_request> requests_;
};

}  // namespace onboard::testkit
