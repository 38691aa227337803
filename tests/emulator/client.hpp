// client.hpp: a small blocking HTTPS client for the emulator tests: signs with the project's
// SigV4 signer, can also send raw bytes (abuse tests) and report how the connection ended.
//
//   test_client c(srv.port(), srv.ca_pem());
//   auto r = c.call("POST", "/accounts/a/users?operation=add", R"({"UserEmailList":["x@y.z"]})");
//   EXPECT_EQ(r.status, 201);
#pragma once

#include <onboard/emulator/server.hpp>
#include <onboard/signing/sigv4.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace onboard::emulator::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;

inline constexpr const char* default_access_key = "AKIDEXAMPLE";
inline constexpr const char* default_secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct http_reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
  }
  json::value json() const { return json::parse(body); }
  // error_type: the shape, as botocore reads x-amzn-ErrorType (the text before the first ':').
  std::string error_type() const {
    auto h = header("x-amzn-errortype");
    return h.substr(0, h.find(':'));
  }
  std::string message() const { return std::string(json().at("Message").as_string()); }
};

struct sign_options {
  bool sign = true;
  std::string access_key = default_access_key;
  std::string secret_key = default_secret_key;
  std::string session_token;
  std::string region = "us-east-1";
  std::string service = "chime";
  std::optional<signing::clock::time_point> at;
  std::string host;  // override the Host header after signing (tampering)
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// with: a sign_options changed by `f` (designated initializers trip -Wmissing-field-initializers).
template <class F>
sign_options with(F f) {
  sign_options o;
  f(o);
  return o;
}

class test_client {
 public:
  test_client(std::uint16_t port, const std::string& ca_pem, bool handshake = true)
      : ctx_(ssl::context::tls_client), port_(port) {
    ctx_.add_certificate_authority(net::buffer(ca_pem));
    ctx_.set_verify_mode(ssl::verify_peer);
    stream_.emplace(ioc_, ctx_);
    auto& sock = beast::get_lowest_layer(*stream_);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    // Blocking reads must not hang a test forever if the server misbehaves.
    timeval tv{30, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL_set_tlsext_host_name(stream_->native_handle(), "localhost");
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    if (handshake) stream_->handshake(ssl::stream_base::client);
  }

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  // call: one signed request; throws on transport failure (use try_call to observe drops).
  http_reply call(const std::string& method, const std::string& target,
                  const std::string& body = "", const sign_options& so = {}) {
    auto r = try_call(method, target, body, so);
    if (!r) throw std::runtime_error("no response: " + last_error.message());
    return *r;
  }

  std::optional<http_reply> try_call(const std::string& method, const std::string& target,
                                     const std::string& body = "", const sign_options& so = {}) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host());
    if (method == "POST") req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : so.extra_headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    if (so.sign) {
      signing::credentials creds;
      creds.access_key_id = so.access_key;
      creds.secret_access_key = signing::secret_string(so.secret_key);
      if (!so.session_token.empty()) creds.session_token = signing::secret_string(so.session_token);
      signing::signer s(creds, so.region, so.service);
      std::vector<signing::header_view> hv;
      for (const auto& f : req) hv.push_back({f.name_string(), f.value()});
      signing::request_view view{method, target, hv, body};
      for (const auto& h : s.sign(view, so.at.value_or(signing::clock::now())))
        req.set(h.name, h.value);
    }
    if (!so.host.empty()) req.set(http::field::host, so.host);
    http::write(*stream_, req, last_error);
    if (last_error) return std::nullopt;
    return read_reply();
  }

  void write_raw(std::string_view bytes) { net::write(*stream_, net::buffer(bytes), last_error); }

  std::optional<http_reply> read_reply() {
    http::response_parser<http::string_body> p;
    p.body_limit(64 * 1024 * 1024);
    http::read(*stream_, buf_, p, last_error);
    if (last_error) return std::nullopt;
    http_reply r;
    r.status = p.get().result_int();
    for (const auto& f : p.get()) {
      std::string n(f.name_string());
      for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[n] = std::string(f.value());
    }
    r.body = p.get().body();
    return r;
  }

  // closed_by_peer: true once a read sees the connection end (EOF, truncation, reset).
  bool closed_by_peer() {
    char c;
    stream_->read_some(net::buffer(&c, 1), last_error);
    return bool(last_error);
  }

  ssl::stream<tcp::socket>& stream() { return *stream_; }
  beast::error_code last_error;

 private:
  net::io_context ioc_;
  ssl::context ctx_;
  std::optional<ssl::stream<tcp::socket>> stream_;
  beast::flat_buffer buf_;
  std::uint16_t port_;
};

// invite_body: {"UserEmailList":[...], "UserType": t}.
inline std::string invite_body(const std::vector<std::string>& emails,
                               const std::string& type = "") {
  json::object o;
  json::array a;
  for (const auto& e : emails) a.emplace_back(e);
  o["UserEmailList"] = std::move(a);
  if (!type.empty()) o["UserType"] = type;
  return json::serialize(o);
}

inline std::vector<std::string> numbered_emails(int n, const std::string& prefix = "user") {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i) + "@example.com");
  return v;
}

// ledger_lines: the ledger file's lines.
inline std::vector<std::string> ledger_lines(const testkit::fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(testkit::read_file(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// server_fixture: a started server on an ephemeral port with a ledger in a temporary folder.
struct server_fixture {
  explicit server_fixture(server_options o) {
    o.listen_port = 0;
    o.ledger_file = (dir / "ledger.tsv").string();
    srv = std::make_unique<server>(std::move(o));
    srv->start();
  }
  test_client client() { return test_client(srv->port(), srv->ca_pem()); }
  // stopped_ledger: stops the server (flushing the ledger) and reads it.
  std::vector<std::string> stopped_ledger() {
    srv->stop();
    return ledger_lines(dir / "ledger.tsv");
  }
  testkit::temp_dir dir;
  std::unique_ptr<server> srv;
};

}  // namespace onboard::emulator::test
