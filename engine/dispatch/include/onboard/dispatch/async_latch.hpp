// onboard/dispatch/async_latch.hpp: a one-shot gate for coroutines on several strands: the first
// to arrive is told to do the work, the others wait until it says done, each resumed on its own
// executor. What the work wrote before open() is visible to every waiter after (the mutex orders
// it), so they read it without a lock.
//
//   async_latch latch;
//   if (co_await latch.async_arrive()) {   // true for the first only
//     do_the_work();
//     latch.open();                        // also when the work failed: waiters read its state
//   }
//   use_the_result();
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace onboard {

class async_latch {
 public:
  // async_arrive: true for the first caller, who must call open() (however its work ends);
  // false for the others once it has, at once when it already has.
  boost::asio::awaitable<bool> async_arrive() {
    {
      std::lock_guard lk(mu_);
      if (!started_) {
        started_ = true;
        co_return true;
      }
      if (open_) co_return false;
    }
    co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void()>(
        [this](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [h] {
            auto ex = boost::asio::get_associated_executor(*h);
            boost::asio::post(ex, [h]() mutable { (*h)(); });
          };
          std::unique_lock lk(mu_);
          if (open_) {
            lk.unlock();
            resume();
            return;
          }
          waiters_.push_back(std::move(resume));
        },
        boost::asio::use_awaitable);
    co_return false;
  }

  // try_start: arrives first without suspending, for a caller that must claim the work while it
  // holds its own lock: true when nobody had arrived (the caller then calls open()).
  bool try_start() {
    std::lock_guard lk(mu_);
    return !std::exchange(started_, true);
  }

  // open: the work is over; every waiter resumes. Once.
  void open() {
    std::vector<std::function<void()>> waiters;
    {
      std::lock_guard lk(mu_);
      open_ = true;
      waiters.swap(waiters_);
    }
    for (auto& w : waiters) w();
  }

  // is_open: open() has been called.
  bool is_open() const {
    std::lock_guard lk(mu_);
    return open_;
  }

 private:
  mutable std::mutex mu_;
  bool started_ = false;
  bool open_ = false;
  std::vector<std::function<void()>> waiters_;
};

}  // namespace onboard
