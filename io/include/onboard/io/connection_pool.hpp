// onboard/io/connection_pool.hpp: N persistent HTTPS connections to one endpoint, each on its own
// strand, plus aggregated counters. The engine runs one sender coroutine per connection, so the
// pool hands out connections by index instead of lending them: there is no checkout, no lock.
// Reconnect backoff after connect failures lives in each connection (see reconnect_backoff).
//
//   #include <boost/asio/co_spawn.hpp>
//   #include <boost/asio/detached.hpp>
//   // given: net::io_context& ioc, const endpoint& ep, ssl::context& tls_ctx
//   // given: net::awaitable<void> async_sender(https_connection&), void log(std::uint64_t)
//   onboard::io::connection_pool pool(ioc.get_executor(), ep, tls_ctx, 8);
//   for (std::size_t i = 0; i < pool.size(); ++i)
//     net::co_spawn(pool[i].get_executor(), async_sender(pool[i]), net::detached);
//   ...
//   co_await pool.async_shutdown();
//   log(pool.stats().reconnects);
#pragma once

#include "onboard/io/https_connection.hpp"

#include <cstddef>
#include <memory>
#include <vector>

namespace onboard::io {

// connection_pool: see the file comment. `ctx` must outlive the pool.
class connection_pool {
 public:
  connection_pool(net::any_io_executor ex, const endpoint& ep, ssl::context& ctx, std::size_t size,
                  connection_options opts = {});

  std::size_t size() const { return connections_.size(); }
  https_connection& operator[](std::size_t i) { return *connections_[i]; }
  const https_connection& operator[](std::size_t i) const { return *connections_[i]; }

  // stats: the sum over all connections (any thread).
  connection_stats stats() const;

  // async_shutdown: shuts every connection down concurrently, each on its own strand, and waits
  // for all (each bounded by its shutdown_timeout). Call when no sender is using the connections.
  net::awaitable<void> async_shutdown();

 private:
  std::vector<std::unique_ptr<https_connection>> connections_;
};

}  // namespace onboard::io
