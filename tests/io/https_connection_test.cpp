// Tests of https_connection and connection_pool against the in-process TLS server: happy paths
// (verification, keep-alive, reconnect, resumption) and hostile peers, each of which must end in
// a classified error quickly. Every client run is bounded by run_bounded's deadlock guard.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored \
    "-Wmismatched-new-delete"  // GCC 12 false positive on awaitable frames
#endif

#include "onboard/io/connection_pool.hpp"
#include "onboard/io/https_connection.hpp"

#include "https_test_server.hpp"

#include <onboard/testkit/run_bounded.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <boost/asio/strand.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace onboard::io {
namespace {

using namespace std::chrono_literals;
using test::reply;
using test::server_request;
using test::test_https_server;
using testkit::run_bounded;
using kind = transport_error_kind;

const test::test_identity& both_names() {
  static const auto id = test::make_test_identity({"localhost"}, {"127.0.0.1"});
  return id;
}

// Fixture: a CA bundle file holding `id`'s certificate, and a client io_context.
class Https : public ::testing::Test {
 protected:
  ssl::context trusting(const test::test_identity& id) {
    const auto path = dir_ / ("ca-" + std::to_string(bundles_++) + ".pem");
    testkit::write_file(path, id.cert_pem);
    return make_client_tls_context({.ca_bundle = path.string()});
  }
  static endpoint at(const std::string& host, std::uint16_t port) {
    return parse_endpoint("https://" + host + ":" + std::to_string(port));
  }
  static http_request get(const endpoint& ep, std::string path = "/ping") {
    return {http::verb::get, ep.target(path), {{"Host", ep.host_header}}, {}};
  }
  request_result send(https_connection& c, http_request req) {
    auto r = run_bounded(ioc_, c.async_request(std::move(req)));
    if (!r) throw std::runtime_error("deadlock guard");
    return std::move(*r);
  }
  // short: deadlines small enough that hostile-peer tests finish in well under a second each.
  static connection_options short_deadlines() {
    connection_options o;
    o.connect_timeout = 2s;
    o.handshake_timeout = 500ms;
    o.write_timeout = 500ms;
    o.read_timeout = 400ms;
    o.shutdown_timeout = 500ms;
    o.backoff = {5ms, 20ms};
    return o;
  }

  testkit::temp_dir dir_;
  int bundles_ = 0;
  net::io_context ioc_;
};

std::string describe(const request_result& r) {
  if (r.ok()) return "HTTP " + std::to_string(r.response().status);
  return std::string(to_string(r.error().kind)) + ": " + r.error().message;
}

TEST(ConnectionExecutor, StrandOnlyWhenSeveralThreadsRunTheContext) {
  net::io_context ioc;
  using strand = net::strand<net::io_context::executor_type>;
  EXPECT_EQ(connection_executor(ioc, 1).target<strand>(), nullptr);
  EXPECT_NE(connection_executor(ioc, 1).target<net::io_context::executor_type>(), nullptr);
  EXPECT_NE(connection_executor(ioc, 2).target<strand>(), nullptr);
  // Two connections on several threads do not share a strand.
  EXPECT_NE(*connection_executor(ioc, 2).target<strand>(),
            *connection_executor(ioc, 2).target<strand>());
}

TEST_F(Https, RoundTripWithVerificationAndHostHeader) {
  test_https_server server(both_names(), [](const server_request& r) {
    return reply::ok(r.method + " " + r.target + " host=" + r.host + " body=" + r.body);
  });
  auto ctx = trusting(both_names());
  const auto ep = parse_endpoint("https://127.0.0.1:" + std::to_string(server.port()) + "/base");
  https_connection conn(ioc_.get_executor(), ep, ctx);
  auto r = send(conn, {http::verb::post,
                       ep.target("/accounts/1/users"),
                       {{"Host", ep.host_header}, {"X-Amz-Date", "20240101T000000Z"}},
                       "{\"a\":1}"});
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.response().status, 200u);
  EXPECT_EQ(r.response().body, "POST /base/accounts/1/users host=127.0.0.1:" +
                                   std::to_string(server.port()) + " body={\"a\":1}");
  EXPECT_EQ(r.response().header("content-TYPE"), "application/json");
  EXPECT_FALSE(r.response().header("x-missing").has_value());
  EXPECT_GT(r.response().bytes, r.response().body.size());
  EXPECT_EQ(conn.stats().connects, 1u);

  auto code = run_bounded(ioc_, conn.async_shutdown());
  ASSERT_TRUE(code.has_value());
  EXPECT_FALSE(*code) << code->message();
  EXPECT_FALSE(conn.is_open());
}

TEST_F(Https, DnsNameIsVerified) {
  test_https_server server(both_names(), [](const server_request&) { return reply::ok("hi"); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("localhost", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_TRUE(r.ok()) << describe(r);
}

TEST_F(Https, KeepAliveServesHundredRequestsOnOneConnection) {
  test_https_server server(
      both_names(), [](const server_request& r) { return reply::ok(std::to_string(r.index)); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  for (int i = 0; i < 100; ++i) {
    auto r = send(conn, get(conn.remote()));
    ASSERT_TRUE(r.ok()) << i << ": " << describe(r);
    ASSERT_EQ(r.response().body, std::to_string(i));
  }
  EXPECT_EQ(server.accepts(), 1u);
  EXPECT_EQ(conn.stats().connects, 1u);
  EXPECT_EQ(conn.stats().reconnects, 0u);
  EXPECT_EQ(conn.stats().responses, 100u);
}

TEST_F(Https, ReconnectsAfterConnectionCloseAndResumesTheSession) {
  test_https_server server(both_names(),
                           [](const server_request&) { return reply::closing("bye"); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  for (int i = 0; i < 3; ++i) {
    auto r = send(conn, get(conn.remote()));
    ASSERT_TRUE(r.ok()) << i << ": " << describe(r);
    EXPECT_FALSE(conn.is_open());
  }
  EXPECT_EQ(server.accepts(), 3u);
  const auto s = conn.stats();
  EXPECT_EQ(s.connects, 3u);
  EXPECT_EQ(s.reconnects, 2u);
  EXPECT_GE(s.handshakes_resumed, 1u);
  EXPECT_GE(server.resumed(), 1u);
}

TEST_F(Https, IdleConnectionClosedByServerIsReplacedBeforeSending) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::of(reply::action::respond_then_drop);
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  ASSERT_TRUE(send(conn, get(conn.remote())).ok());
  ASSERT_TRUE(server.wait_closed(1));
  auto r = send(conn, get(conn.remote()));
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(conn.stats().stale_closed, 1u);
  EXPECT_EQ(server.accepts(), 2u);
}

TEST_F(Https, KeepAliveRaceIsInDoubtButMarkedStale) {
  // The server reads the second request and drops the connection without a byte of answer.
  test_https_server server(both_names(), [](const server_request& r) {
    return r.index == 0 ? reply::ok("first") : reply::of(reply::action::drop);
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  ASSERT_TRUE(send(conn, get(conn.remote())).ok());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::reset_after_send) << describe(r);
  EXPECT_TRUE(r.error().in_doubt());
  EXPECT_TRUE(r.error().request_written);
  EXPECT_TRUE(r.error().connection_reused);
  EXPECT_TRUE(r.error().stale_keepalive());

  // On a fresh connection the same drop is plainly in doubt, not stale.
  auto fresh = send(conn, get(conn.remote()));
  ASSERT_TRUE(fresh.ok()) << describe(fresh);  // new connection: index 0 answers
}

TEST_F(Https, DropOnFreshConnectionIsNotStale) {
  test_https_server server(both_names(),
                           [](const server_request&) { return reply::of(reply::action::drop); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::reset_after_send) << describe(r);
  EXPECT_FALSE(r.error().connection_reused);
  EXPECT_FALSE(r.error().stale_keepalive());
}

TEST_F(Https, UntrustedCertificateIsTlsFailedWithReason) {
  test_https_server server(both_names(), [](const server_request&) { return reply::ok("x"); });
  auto ctx = make_client_tls_context({});  // system CAs: our self-signed cert is not among them
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::tls_failed) << describe(r);
  EXPECT_FALSE(r.error().in_doubt());
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(server.port())),
            std::string::npos);
  EXPECT_NE(r.error().message.find("certificate verify failed: self-signed certificate"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(server.requests(), 0u);
}

TEST_F(Https, CertificateForLocalhostRefusedAtIp) {
  const auto id = test::make_test_identity({"localhost"}, {});
  test_https_server server(id, [](const server_request&) { return reply::ok("x"); });
  auto ctx = trusting(id);
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::tls_failed);
  EXPECT_NE(r.error().message.find("IP address mismatch"), std::string::npos) << r.error().message;
}

TEST_F(Https, CertificateForIpRefusedAtLocalhost) {
  const auto id = test::make_test_identity({}, {"127.0.0.1"});
  test_https_server server(id, [](const server_request&) { return reply::ok("x"); });
  auto ctx = trusting(id);
  https_connection conn(ioc_.get_executor(), at("localhost", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::tls_failed);
  EXPECT_NE(r.error().message.find("hostname mismatch"), std::string::npos) << r.error().message;
}

TEST_F(Https, NoVerifyAcceptsMismatchAndUntrusted) {
  const auto id = test::make_test_identity({"elsewhere.example"}, {});
  test_https_server server(id, [](const server_request&) { return reply::ok("x"); });
  auto ctx = make_client_tls_context({.ca_bundle = {}, .verify = false});
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx);
  auto r = send(conn, get(conn.remote()));
  ASSERT_TRUE(r.ok()) << describe(r);
}

TEST_F(Https, ServerThatNeverAnswersTimesOutAfterSend) {
  test_https_server server(both_names(),
                           [](const server_request&) { return reply::of(reply::action::stall); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  const auto start = std::chrono::steady_clock::now();
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::timeout_after_send) << describe(r);
  EXPECT_TRUE(r.error().in_doubt());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_FALSE(conn.is_open());
}

TEST_F(Https, StallMidResponseTimesOut) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_stall("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::timeout_after_send) << describe(r);
  EXPECT_GT(r.error().response_bytes, 0u);
}

TEST_F(Https, HugeBodyHitsTheLimit) {
  test_https_server server(
      both_names(), [](const server_request&) { return reply::ok(std::string(3u << 20, 'x')); });
  auto ctx = trusting(both_names());
  auto opts = short_deadlines();
  opts.body_limit = 1u << 20;
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx, opts);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::bad_response) << describe(r);
  EXPECT_NE(r.error().message.find("body limit"), std::string::npos) << r.error().message;
}

TEST_F(Https, HugeHeaderHitsTheLimit) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_stall("HTTP/1.1 200 OK\r\nX-Big: " + std::string(100'000, 'h') + "\r\n\r\n");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::bad_response) << describe(r);
}

TEST_F(Https, MalformedStatusLineIsBadResponse) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_stall("HTTP/1.1 OK maybe\r\n\r\n");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::bad_response) << describe(r);
  EXPECT_TRUE(r.error().in_doubt());
}

TEST_F(Https, ContentLengthLongerThanBodyThenCloseIsInDoubt) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_drop("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::reset_after_send) << describe(r);
  EXPECT_TRUE(r.error().in_doubt());
  EXPECT_FALSE(r.error().stale_keepalive());
}

TEST_F(Https, ContentLengthShorterThanBodyIsBadResponse) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_stall("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nmuch longer body");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::bad_response) << describe(r);
}

TEST_F(Https, CloseMidHeaderIsInDoubt) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::raw_drop("HTTP/1.1 200 OK\r\nContent-Le");
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::reset_after_send) << describe(r);
  EXPECT_GT(r.error().response_bytes, 0u);
}

TEST_F(Https, GarbageInsteadOfTlsIsTlsFailed) {
  test_https_server server(
      both_names(), [](const server_request&) { return reply::ok("x"); },
      /*plain_garbage=*/true);
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::tls_failed) << describe(r);
  EXPECT_FALSE(r.error().in_doubt());
}

TEST_F(Https, PeerThatNeverHandshakesTimesOutBeforeSend) {
  // Listening but never accepting: the kernel completes TCP, nobody speaks TLS.
  net::ip::tcp::acceptor silent(ioc_, {net::ip::make_address("127.0.0.1"), 0});
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", silent.local_endpoint().port()), ctx,
                        short_deadlines());
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::timeout_before_send) << describe(r);
  EXPECT_FALSE(r.error().in_doubt());
  EXPECT_NE(r.error().message.find("handshake"), std::string::npos) << r.error().message;
}

TEST_F(Https, RefusedConnectIsConnectFailedAndBacksOff) {
  std::uint16_t port = 0;
  {
    // A port that was just free: bind, note it, close.
    net::ip::tcp::acceptor a(ioc_, {net::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  auto ctx = trusting(both_names());
  auto opts = short_deadlines();
  opts.backoff = {50ms, 100ms};
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", port), ctx, opts);
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::connect_failed) << describe(r);
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  auto again = send(conn, get(conn.remote()));
  ASSERT_FALSE(again.ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            25ms);  // equal jitter: at least half of 50 ms
  EXPECT_EQ(conn.stats().connect_failures, 2u);
}

// Out of file descriptors (a low `ulimit -n`, or every connection of a large pool open): the
// socket cannot even be created. That is a failure to connect, retried with backoff, and it says
// why; it is not a cancel, which would read as if someone had asked the run to stop.
TEST_F(Https, NoDescriptorLeftIsConnectFailedNamingTheCause) {
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", 9), ctx, short_deadlines());
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) taken.push_back(fd);
  auto r = send(conn, get(conn.remote()));
  for (int fd : taken) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::connect_failed) << describe(r);
  EXPECT_NE(r.error().message.find("open files"), std::string::npos) << describe(r);
}

TEST_F(Https, CancelEndsAStalledRequest) {
  test_https_server server(both_names(),
                           [](const server_request&) { return reply::of(reply::action::stall); });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()),
                        ctx);  // 60 s read deadline
  net::steady_timer t(ioc_, 200ms);
  t.async_wait([&](boost::system::error_code) { conn.cancel(); });
  auto r = send(conn, get(conn.remote()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, kind::cancelled) << describe(r);
  EXPECT_TRUE(r.error().in_doubt());  // the request had been written
}

TEST_F(Https, ShutdownOfPeerThatDropsIsNotAnError) {
  test_https_server server(both_names(), [](const server_request&) {
    return reply::of(reply::action::respond_then_drop);
  });
  auto ctx = trusting(both_names());
  https_connection conn(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx,
                        short_deadlines());
  ASSERT_TRUE(send(conn, get(conn.remote())).ok());
  ASSERT_TRUE(server.wait_closed(1));
  auto code = run_bounded(ioc_, conn.async_shutdown());
  ASSERT_TRUE(code.has_value());
  EXPECT_FALSE(*code) << code->message();
}

TEST_F(Https, PoolAggregatesCounters) {
  test_https_server server(both_names(), [](const server_request&) { return reply::ok("ok"); });
  auto ctx = trusting(both_names());
  connection_pool pool(ioc_.get_executor(), at("127.0.0.1", server.port()), ctx, 3,
                       short_deadlines());
  ASSERT_EQ(pool.size(), 3u);
  // One sender per connection, concurrently, each on its connection's strand.
  auto senders = [&]() -> net::awaitable<int> {
    int ok = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
      for (int k = 0; k < 5; ++k) {
        auto r = co_await net::co_spawn(pool[i].get_executor(),
                                        pool[i].async_request(get(pool[i].remote())),
                                        net::use_awaitable);
        ok += r.ok() ? 1 : 0;
      }
    }
    co_return ok;
  };
  auto ok = run_bounded(ioc_, senders());
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 15);
  const auto s = pool.stats();
  EXPECT_EQ(s.connects, 3u);
  EXPECT_EQ(s.responses, 15u);
  EXPECT_EQ(server.accepts(), 3u);
  EXPECT_GT(s.bytes_sent, 0u);
  EXPECT_GT(s.bytes_received, 0u);
  auto done = run_bounded(ioc_, [&]() -> net::awaitable<bool> {
    co_await pool.async_shutdown();
    co_return true;
  }());
  ASSERT_TRUE(done.has_value());
  for (std::size_t i = 0; i < pool.size(); ++i) EXPECT_FALSE(pool[i].is_open());
}

TEST(HttpsConnection, RefusesPlainHttpEndpoint) {
  net::io_context ioc;
  auto ctx = make_client_tls_context({.ca_bundle = {}, .verify = false});
  const auto ep = parse_endpoint("http://localhost:8080", {.allow_http = true});
  EXPECT_THROW(https_connection(ioc.get_executor(), ep, ctx), std::invalid_argument);
}

TEST(ReconnectBackoff, DoublesWithJitterUpToTheMaximum) {
  reconnect_backoff b({100ms, 400ms});
  const auto d1 = b.next_delay();
  EXPECT_GE(d1, 50ms);
  EXPECT_LE(d1, 100ms);
  const auto d2 = b.next_delay();
  EXPECT_GE(d2, 100ms);
  EXPECT_LE(d2, 200ms);
  for (int i = 0; i < 5; ++i) {
    const auto d = b.next_delay();
    EXPECT_GE(d, 200ms);
    EXPECT_LE(d, 400ms);
  }
  b.reset();
  EXPECT_LE(b.next_delay(), 100ms);
}

}  // namespace
}  // namespace onboard::io
