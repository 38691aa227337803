// onboard/testkit/run_bounded.hpp: runs a coroutine on an io_context to completion, with a
// deadlock guard, for tests that drive asynchronous code on the test's own thread.
//
//   boost::asio::io_context ioc;
//   auto r = onboard::testkit::run_bounded(ioc, conn.async_request(std::move(req)));
//   if (!r) return;  // the guard fired: the test has already failed
//
// Header-only: only suites that link Boost.Asio include it (the testkit library does not).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace onboard::testkit {

// run_bounded: runs `a` on `ioc` until it completes; fails the test (and returns nullopt) if it has
// not completed within `guard`: a hang is a bug, never a wait.
template <class T>
std::optional<T> run_bounded(boost::asio::io_context& ioc, boost::asio::awaitable<T> a,
                             std::chrono::milliseconds guard = std::chrono::seconds(20)) {
  // Shared, so a coroutine abandoned by the guard cannot write into a dead stack frame later.
  struct state {
    std::optional<T> result;
    std::exception_ptr error;
    bool done = false;
  };
  auto st = std::make_shared<state>();
  boost::asio::co_spawn(ioc, std::move(a), [st](std::exception_ptr e, T value) {
    st->done = true;
    st->error = e;
    if (!e) st->result.emplace(std::move(value));
  });
  const bool& done = st->done;
  ioc.restart();
  const auto deadline = std::chrono::steady_clock::now() + guard;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(deadline - std::chrono::steady_clock::now());
  }
  if (!done) {
    ADD_FAILURE() << "deadlock guard: the operation did not complete within " << guard.count()
                  << " ms";
    return std::nullopt;
  }
  if (st->error) std::rethrow_exception(st->error);
  return std::move(st->result);
}

}  // namespace onboard::testkit
