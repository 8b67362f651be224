// The server's pool: connections beyond the workers wait, and past the
// bound on waiting ones a connection is handled at once on the listener's
// thread (where the connection loop closes it unread).
#include "server/http/paced_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>

namespace canopy::server {
namespace {

TEST(PacedTaskQueueTest, PastTheWaitingBoundAConnectionIsHandledAtOnceOnTheListenersThread) {
  std::unique_ptr<httplib::TaskQueue> queue(new_paced_task_queue(WorkerLimits{1, 2}, system_clock()));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  queue->enqueue([&started, released] {
    started.set_value();
    released.wait();
  });
  started.get_future().wait();  // the one worker is busy, so nothing waits yet

  std::atomic<int> served{0};
  queue->enqueue([&served] { ++served; });
  queue->enqueue([&served] { ++served; });
  EXPECT_EQ(served.load(), 0) << "two wait for the worker";

  std::thread::id ran_on;
  queue->enqueue([&ran_on] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id()) << "the third is not queued";

  release.set_value();
  queue->shutdown();
  EXPECT_EQ(served.load(), 2);
}

}  // namespace
}  // namespace canopy::server
