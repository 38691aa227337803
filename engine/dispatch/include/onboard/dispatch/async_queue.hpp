// onboard/dispatch/async_queue.hpp: a bounded hand-off from one ordinary thread (the ingest reader)
// to many coroutines (the senders).
//
// The producer blocks while the queue is full: that is the backpressure that keeps reading from
// running far ahead of sending. A blocked producer is woken when the queue has drained to half,
// not on every pop: reading is much faster than sending, so waking it per item would cost two
// context switches for every item it pushes. Consumers never block a thread: `async_pop` suspends
// the coroutine until an item or the close arrives.
//
//   #include <onboard/core/batch.hpp>
//   #include <thread>
//   // given: std::optional<batch> next_batch(), boost::asio::awaitable<void> send(const batch&)
//   async_queue<batch> q{64};
//   std::jthread reader{[&] {
//     while (auto b = next_batch()) q.push(std::move(*b));
//     q.close();
//   }};
//   while (auto b = co_await q.async_pop()) co_await send(*b);
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace onboard {

template <class T>
class async_queue {
 public:
  explicit async_queue(std::size_t capacity)
      : capacity_(capacity ? capacity : 1), resume_at_(capacity_ / 2) {}

  // push: hands `v` to a waiting consumer or queues it. When the queue is full, blocks until it
  // has drained to half its capacity. Returns false (dropping `v`) once the queue is closed.
  bool push(T v) {
    std::unique_lock lk(mu_);
    if (!closed_ && items_.size() >= capacity_ && waiters_.empty()) {
      ++producers_waiting_;
      not_full_.wait(lk,
                     [&] { return closed_ || items_.size() <= resume_at_ || !waiters_.empty(); });
      --producers_waiting_;
    }
    if (closed_) return false;
    if (!waiters_.empty()) {
      auto w = std::move(waiters_.front());
      waiters_.pop_front();
      lk.unlock();
      w(std::optional<T>(std::move(v)));
      return true;
    }
    items_.push_back(std::move(v));
    return true;
  }

  // close: no more items; waiting consumers get nullopt once the queue is drained. With
  // `discard`, queued items are dropped too (a stopping run leaves them for the next one).
  void close(bool discard = false) {
    std::deque<waiter> waiters;
    {
      std::lock_guard lk(mu_);
      closed_ = true;
      if (discard) items_.clear();
      waiters.swap(waiters_);
    }
    not_full_.notify_all();
    for (auto& w : waiters) w(std::nullopt);
  }

  // async_pop: the next item, or nullopt when the queue is closed and empty.
  boost::asio::awaitable<std::optional<T>> async_pop() {
    {
      std::lock_guard lk(mu_);
      if (!items_.empty()) {
        std::optional<T> v(std::move(items_.front()));
        items_.pop_front();
        wake_producer_locked();
        co_return v;
      }
      if (closed_) co_return std::nullopt;
    }
    co_return co_await boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                                   void(std::optional<T>)>(
        [this](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          auto complete = [h](std::optional<T> v) {
            auto ex = boost::asio::get_associated_executor(*h);
            boost::asio::post(ex, [h, v = std::move(v)]() mutable { (*h)(std::move(v)); });
          };
          std::unique_lock lk(mu_);
          if (!items_.empty() || closed_) {
            // Raced with a push or close between the first check and here.
            std::optional<T> v;
            if (!items_.empty()) {
              v.emplace(std::move(items_.front()));
              items_.pop_front();
              wake_producer_locked();
            }
            lk.unlock();
            complete(std::move(v));
            return;
          }
          waiters_.push_back(std::move(complete));
          // A producer blocked on a full queue may now hand its item straight to us.
          if (producers_waiting_) not_full_.notify_all();
          lk.unlock();
        },
        boost::asio::use_awaitable);
  }

  // try_pop: the next item if one is queued now (never waits).
  std::optional<T> try_pop() {
    std::unique_lock lk(mu_);
    if (items_.empty()) return std::nullopt;
    std::optional<T> v(std::move(items_.front()));
    items_.pop_front();
    wake_producer_locked();
    return v;
  }

  std::size_t size() const {
    std::lock_guard lk(mu_);
    return items_.size();
  }

 private:
  using waiter = std::function<void(std::optional<T>)>;

  // wake_producer_locked: after a pop (mu_ held), wakes a blocked producer once the queue is
  // down to resume_at_. Exactly at that size, so each drain wakes it once.
  void wake_producer_locked() {
    if (producers_waiting_ && items_.size() == resume_at_) not_full_.notify_all();
  }

  const std::size_t capacity_;
  const std::size_t resume_at_;  // a blocked producer resumes at this size
  std::size_t producers_waiting_ = 0;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  std::deque<waiter> waiters_;
  bool closed_ = false;
};

}  // namespace onboard
