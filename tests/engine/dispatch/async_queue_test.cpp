// The hand-off from the ingest thread to the sender coroutines (onboard/dispatch/async_queue.hpp):
// order, closing, backpressure, and a blocked producer woken once per drain to half.
#include <onboard/dispatch/async_queue.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace onboard {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// pop_all: pops with a coroutine on `ioc` until the queue says it is closed and empty. A thread
// that pushes or closes posts to `ioc`, so `ioc` must outlive that thread's last call.
std::vector<int> pop_all(async_queue<int>& q, net::io_context& ioc) {
  std::vector<int> got;
  net::co_spawn(
      ioc,
      [&]() -> net::awaitable<void> {
        while (auto v = co_await q.async_pop()) got.push_back(*v);
      },
      net::detached);
  ioc.run();
  return got;
}

std::vector<int> pop_all(async_queue<int>& q) {
  net::io_context ioc;
  return pop_all(q, ioc);
}

// wait_for: polls `done` for up to two seconds.
template <class F>
bool wait_for(F done) {
  for (auto until = std::chrono::steady_clock::now() + 2s;
       std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return done();
}

TEST(async_queue, items_come_out_in_order_and_a_close_ends_the_consumer_after_the_last) {
  async_queue<int> q(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(i));
  q.close();
  EXPECT_EQ(pop_all(q), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(q.push(5)) << "a closed queue takes nothing";
}

TEST(async_queue, a_discarding_close_drops_what_is_queued) {
  async_queue<int> q(8);
  q.push(1);
  q.push(2);
  q.close(/*discard=*/true);
  EXPECT_TRUE(pop_all(q).empty());
}

TEST(async_queue, a_waiting_consumer_gets_an_item_pushed_from_another_thread) {
  async_queue<int> q(2);
  net::io_context ioc;  // outlives the producer, which posts to it until its close() returns
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) q.push(i);
    q.close();
  });
  auto got = pop_all(q, ioc);
  producer.join();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
}

TEST(async_queue, a_producer_blocked_on_a_full_queue_resumes_when_it_has_drained_to_half) {
  async_queue<int> q(8);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(q.push(i));
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 8; i < 12; ++i) {
      q.push(i);
      ++pushed;
    }
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pushed.load(), 0) << "the queue is full";
  // Down to 5: above half, so the producer stays asleep (it used to be woken by every pop).
  for (int i = 0; i < 3; ++i) ASSERT_EQ(q.try_pop(), i);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pushed.load(), 0) << "woken before the queue drained to half";
  EXPECT_EQ(q.size(), 5u);
  // Down to 4 (half): it wakes and fills the queue again.
  ASSERT_EQ(q.try_pop(), 3);
  EXPECT_TRUE(wait_for([&] { return pushed.load() == 4; })) << pushed.load();
  producer.join();
  EXPECT_EQ(q.size(), 8u);
  q.close();
  EXPECT_EQ(pop_all(q), (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11}));
}

TEST(async_queue, a_close_releases_a_blocked_producer) {
  async_queue<int> q(1);
  q.push(0);
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.push(1) ? 1 : 0; });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(result.load(), -1);
  q.close(/*discard=*/true);
  producer.join();
  EXPECT_EQ(result.load(), 0) << "the item offered after the close is refused";
}

}  // namespace
}  // namespace onboard
