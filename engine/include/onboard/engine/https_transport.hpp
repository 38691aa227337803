// onboard/engine/https_transport.hpp: the engine's transport over one pooled TLS connection
// (io::https_connection), translating its failure kinds into what they mean for retry safety.
#pragma once

#include <onboard/engine/transport.hpp>
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

// classify_transport_error: not_sent / in_doubt / tls_rejected / cancelled for an io failure.
transport_error classify_transport_error(const io::transport_error& e);

}  // namespace onboard
