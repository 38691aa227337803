// credential_responder.hpp: a plain-HTTP server on 127.0.0.1 for the credential endpoints: the
// container agent and the instance metadata service, and STS and the SSO portal, whose
// endpoints the AWS tools let a variable point at an http:// URL (aws_responders.hpp). Each
// route answers with what the test's handler returns, and every request is recorded (method,
// target, headers, body), so that a test can assert on what the client sent as well as on what
// it did with the answer. Runs on its own thread; one request per connection is enough for the
// clients under test, but keep-alive requests on one connection are answered in turn too.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace onboard::testkit {

class credential_responder {
 public:
  struct request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
  };
  struct answer {
    unsigned status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
  };
  using handler = std::function<answer(const request&)>;

  explicit credential_responder(handler h)
      : handler_(std::move(h)), acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~credential_responder() {
    boost::system::error_code ec;
    stopping_ = true;
    // Wake the blocking accept with a connection of our own.
    boost::asio::ip::tcp::socket s(ioc_);
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  credential_responder(const credential_responder&) = delete;
  credential_responder& operator=(const credential_responder&) = delete;

  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<request> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void serve() {
    namespace http = boost::beast::http;
    while (!stopping_) {
      boost::asio::ip::tcp::socket sock(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopping_) return;
      boost::beast::flat_buffer buf;
      for (;;) {
        http::request<http::string_body> req;
        http::read(sock, buf, req, ec);
        if (ec) break;
        request r{std::string(req.method_string()), std::string(req.target()), {}, req.body()};
        for (const auto& f : req) {
          std::string name(f.name_string());
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          r.headers[name] = std::string(f.value());
        }
        {
          std::lock_guard lk(mu_);
          requests_.push_back(r);
        }
        answer a = handler_(r);
        http::response<http::string_body> resp{static_cast<http::status>(a.status), 11};
        resp.set(http::field::content_type, "application/json");
        for (const auto& [k, v] : a.headers) resp.set(k, v);
        resp.body() = a.body;
        resp.keep_alive(req.keep_alive());
        resp.prepare_payload();
        http::write(sock, resp, ec);
        if (ec || !req.keep_alive()) break;
      }
    }
  }

  handler handler_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<request> requests_;
  std::thread thread_;
};

}  // namespace onboard::testkit
