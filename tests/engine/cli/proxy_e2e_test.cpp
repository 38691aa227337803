// End to end through an HTTP CONNECT proxy: a small proxy on 127.0.0.1 in this test (threads and
// blocking sockets, counting its tunnels) between the real engine and the real emulator. TLS runs
// inside the tunnel with the emulator's certificate checked as ever; keep-alive holds, so the proxy
// sees one tunnel per connection (plus reconnects). A proxy that refuses stops the run naming it,
// with no address marked failed; NO_PROXY bypasses it.
#include "cli_env.hpp"

#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// connect_proxy: accepts CONNECT host:port, checks Proxy-Authorization when told to, and pumps
// bytes both ways until either side closes. Only tunnels to 127.0.0.1 are opened.
class connect_proxy {
 public:
  struct options {
    std::string authorization;  // the Proxy-Authorization value to require (empty: none)
    int refuse_with = 0;        // answer every CONNECT with this status
  };

  explicit connect_proxy(options o) : opts_(std::move(o)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("connect_proxy: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~connect_proxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lk(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    ::close(listen_fd_);
  }

  std::string url(const std::string& userinfo = "") const {
    return "http://" + (userinfo.empty() ? "" : userinfo + "@") +
           "127.0.0.1:" + std::to_string(port_);
  }
  int connects_asked() const { return asked_; }
  int tunnels() const { return tunnels_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lk(mu_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  static bool send_all(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void serve(int client) {
    std::string head;
    char buf[16384];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
      ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return;
      head.append(buf, static_cast<std::size_t>(n));
    }
    ++asked_;
    const auto end = head.find("\r\n\r\n");
    // Anything after the header would be the client talking before the tunnel is up.
    if (end == std::string::npos || end + 4 != head.size()) return;
    std::string line = head.substr(0, head.find("\r\n"));
    std::string auth;
    if (auto at = head.find("\r\nProxy-Authorization: "); at != std::string::npos) {
      at += 23;
      auth = head.substr(at, head.find("\r\n", at) - at);
    }
    if (opts_.refuse_with != 0) {
      send_all(client, "HTTP/1.1 " + std::to_string(opts_.refuse_with) +
                           " Refused\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (!opts_.authorization.empty() && auth != opts_.authorization) {
      send_all(client,
               "HTTP/1.1 407 Proxy Authentication Required\r\n"
               "Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    // "CONNECT 127.0.0.1:PORT HTTP/1.1"
    const auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    const std::string authority = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto colon = authority.rfind(':');
    if (line.rfind("CONNECT ", 0) != 0 || authority.substr(0, colon) != "127.0.0.1") {
      send_all(client, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1))));
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(upstream);
      send_all(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    {
      std::lock_guard lk(mu_);
      open_fds_.push_back(upstream);
    }
    ++tunnels_;
    if (send_all(client, "HTTP/1.1 200 Connection established\r\n\r\n")) pump(client, upstream);
  }

  static void pump(int a, int b) {
    char buf[16384];
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    for (;;) {
      if (::poll(p, 2, -1) < 0) return;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0 || !send_all(p[1 - i].fd, std::string_view(buf, static_cast<std::size_t>(n)))) {
          ::shutdown(a, SHUT_RDWR);
          ::shutdown(b, SHUT_RDWR);
          return;
        }
      }
    }
  }

  options opts_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> asked_{0}, tunnels_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> open_fds_;  // closed by the destructor's shutdowns (and never reused: closed
                               // only once every worker is joined)
  std::vector<std::thread> workers_;
};

TEST(proxy_e2e, a_run_through_a_connect_proxy_uses_one_tunnel_per_connection) {
  // base64("jane:p@ss w"): the URL's user and password, percent-decoded.
  connect_proxy proxy({.authorization = "Basic amFuZTpwQHNzIHc="});
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(3'000));
  auto env = client_env(dir.path());
  env.env_set["HTTPS_PROXY"] = proxy.url("jane:p%40ss%20w");
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "4"}), env, 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  auto j = parse_json_object(r.out);
  ASSERT_TRUE(j) << r.out << r.err;
  EXPECT_EQ(u64(*j, "invited"), 3'000u);
  // Every connection the emulator saw came through the proxy (but the one this stats request
  // opens itself), and each carried many requests.
  const auto opened = emu.stat("connections_opened");
  EXPECT_EQ(static_cast<std::uint64_t>(proxy.tunnels()) + 1, opened);
  EXPECT_GE(proxy.tunnels(), 1);
  // One tunnel per connection: the pre-flight's own, then at most the run's 4 and its reconnects.
  EXPECT_LE(static_cast<std::uint64_t>(proxy.tunnels()), 1u + 4u + u64(*j, "reconnects"));
  EXPECT_TRUE(contains(r.err, "through the proxy http://127.0.0.1:")) << r.err;
  EXPECT_FALSE(contains(r.err, "p@ss")) << "the password is never printed:\n" << r.err;
  ASSERT_EQ(emu.stop(), 0);
  auto counts = ledger_counts(emu.ledger_path());
  EXPECT_EQ(counts.size(), 3'000u);
  for (const auto& [address, times] : counts) ASSERT_EQ(times, 1) << address;
}

TEST(proxy_e2e, no_proxy_reaches_the_service_directly) {
  connect_proxy proxy({});
  emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
  temp_dir dir;
  write_file(dir / "users.txt", numbered_addresses(200));
  auto env = client_env(dir.path());
  env.env_set["https_proxy"] = proxy.url();
  env.env_set["NO_PROXY"] = "localhost,127.0.0.1";
  auto r = run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "2"}), env, 1min);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(proxy.connects_asked(), 0);
  ASSERT_EQ(emu.stop(), 0);
  EXPECT_EQ(ledger_counts(emu.ledger_path()).size(), 200u);
}

TEST(proxy_e2e, a_refusing_proxy_stops_the_run_naming_it_and_fails_no_address) {
  for (int status : {407, 403, 502}) {
    connect_proxy proxy(status == 407
                            ? connect_proxy::options{.authorization = "Basic x", .refuse_with = 0}
                            : connect_proxy::options{.authorization = "", .refuse_with = status});
    emulator_process emu({"--accounts", "acct-1"}, emulator_process::with_ledger());
    temp_dir dir;
    write_file(dir / "users.txt", numbered_addresses(120));
    auto env = client_env(dir.path());
    env.env_set["HTTPS_PROXY"] = proxy.url();
    auto start = std::chrono::steady_clock::now();
    auto r =
        run(invite_argv(emu, dir / "users.txt", dir.path(), {"--connections", "2"}), env, 1min);
    EXPECT_EQ(r.status, 6) << status << ": " << r.err;
    EXPECT_TRUE(contains(r.err, "the proxy " + proxy.url() + " refused a tunnel to 127.0.0.1:"))
        << r.err;
    EXPECT_TRUE(contains(r.err, std::to_string(status))) << r.err;
    if (status == 407) {
      EXPECT_TRUE(contains(r.err, "http://user:password@host:port")) << r.err;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "not retried: " << status;
    // The pre-flight meets the refusal: the run stops before anything is written, so no
    // address can be marked failed.
    EXPECT_TRUE(contains(r.err, "nothing was written or sent")) << r.err;
    EXPECT_FALSE(fs::exists(dir / "run.journal")) << status;
    EXPECT_FALSE(fs::exists(dir / "report.csv")) << status;
    EXPECT_EQ(proxy.tunnels(), 0);
    EXPECT_EQ(emu.stat("requests"), 0u);
    ASSERT_EQ(emu.stop(), 0);
    EXPECT_TRUE(ledger_counts(emu.ledger_path()).empty());
  }
}

}  // namespace
