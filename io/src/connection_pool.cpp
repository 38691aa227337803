#include "onboard/io/connection_pool.hpp"

// GCC 12 reports a false -Wmismatched-new-delete on Asio's awaitable frames (its operator
// new/delete pair is matched; GCC bug 109224). Silenced here rather than in the build for everyone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace onboard::io {

connection_pool::connection_pool(net::any_io_executor ex, const endpoint& ep, ssl::context& ctx,
                                 std::size_t size, connection_options opts) {
  connections_.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    // A strand each: with several threads on the io_context, a connection's handlers never overlap.
    connections_.push_back(std::make_unique<https_connection>(net::make_strand(ex), ep, ctx, opts));
  }
}

connection_stats connection_pool::stats() const {
  connection_stats total;
  for (const auto& c : connections_) total += c->stats();
  return total;
}

net::awaitable<void> connection_pool::async_shutdown() {
  using op_type = decltype(net::co_spawn(std::declval<net::any_io_executor>(),
                                         std::declval<net::awaitable<boost::system::error_code>>(),
                                         net::deferred));
  std::vector<op_type> ops;
  ops.reserve(connections_.size());
  for (auto& c : connections_) {
    ops.push_back(net::co_spawn(c->get_executor(), c->async_shutdown(), net::deferred));
  }
  if (ops.empty()) co_return;
  // Results are for logging only; a connection that did not close cleanly is closed anyway.
  co_await net::experimental::make_parallel_group(std::move(ops))
      .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
}

}  // namespace onboard::io
