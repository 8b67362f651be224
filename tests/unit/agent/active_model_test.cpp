// The active-model holder: readers keep their snapshot across a switch.
#include "agent/active_model.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent_unit_fixture.h"

namespace canopy::agent {
namespace {

TEST_F(AgentUnitTest, ReadersKeepTheirSnapshotAcrossASwitch) {
  ActiveModel active;
  EXPECT_FALSE(active.get());
  auto first = std::make_shared<LoadedModel>();
  first->ref = PackageRef{{"crop-detector", 1}, ""};
  active.set(first);
  std::shared_ptr<const LoadedModel> held = active.get();
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto model = active.get();
      ASSERT_TRUE(model);
      ASSERT_GE(model->ref.model.version, 1);
      ++reads;
    }
  });
  while (reads.load() == 0) std::this_thread::yield();
  for (int version = 2; version <= 200; ++version) {
    auto next = std::make_shared<LoadedModel>();
    next->ref = PackageRef{{"crop-detector", version}, ""};
    active.set(next);
  }
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(held->ref.model.version, 1);
  EXPECT_EQ(active.get()->ref.model.version, 200);
}

}  // namespace
}  // namespace canopy::agent
