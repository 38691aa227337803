// onboard/dispatch/https_transport.hpp: the dispatcher's transport over one pooled TLS connection
// (io::https_connection); its failures pass through as they are.
#pragma once

#include <onboard/dispatch/transport.hpp>
#include <onboard/io/https_connection.hpp>

namespace onboard {

class https_transport final : public transport {
 public:
  https_transport(io::https_connection::executor_type ex, const io::endpoint& ep,
                  io::ssl::context& ctx, io::connection_options opts);

  boost::asio::awaitable<exchange_result> async_exchange(outgoing_request req) override;
  const std::string& host_header() const override { return conn_.remote().host_header; }
  std::string target(std::string_view path) const override { return conn_.remote().target(path); }

  io::https_connection& connection() { return conn_; }

 private:
  io::https_connection conn_;
};

}  // namespace onboard
