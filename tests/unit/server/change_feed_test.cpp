// The change feed behind the dashboard's live updates (change_feed.h): topics
// from paths, the ring, resuming after an id, gaps, closing, the stream cap.
#include "server/http/change_feed.h"

#include <gtest/gtest.h>

#include <thread>

namespace canopy::server {
namespace {

using std::chrono::milliseconds;

TEST(ChangeTopicTest, EachPathNamesItsArea) {
  EXPECT_EQ(change_topic("/api/v1/deployments/4/pause"), "deployments");
  EXPECT_EQ(change_topic("/api/v1/deployments"), "deployments");
  EXPECT_EQ(change_topic("/api/v1/device/status"), "device/status");
  EXPECT_EQ(change_topic("/api/v1/device/records"), "device/records");
  EXPECT_EQ(change_topic("/api/v1/devices/abc/approve"), "devices");
  EXPECT_EQ(change_topic("/api/v1/enroll"), "devices");
  EXPECT_EQ(change_topic("/api/v1/enrollment-tokens"), "devices");
  EXPECT_EQ(change_topic("/api/v1/keys/k1"), "access");
  EXPECT_EQ(change_topic("/api/v1/users/ann"), "access");
  EXPECT_EQ(change_topic("/api/v1/models/crop/aliases/production"), "models");
  EXPECT_EQ(change_topic("/repository/crop-1.zip"), "models");
  EXPECT_EQ(change_topic("/api/v1/labeling/tasks/d/c/1/submit"), "labeling");
  EXPECT_EQ(change_topic("/api/v1/session"), std::nullopt) << "signing in changes nothing anyone watches";
}

TEST(ChangeFeedTest, AReaderGetsWhatCameAfterItsId) {
  ChangeFeed feed;
  feed.publish("models", "PUT", "/a");
  feed.publish("devices", "POST", "/b");
  feed.publish("deployments", "POST", "/c");
  ChangeFeed::Batch batch = feed.wait_after(1, milliseconds(0));
  ASSERT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[0].id, 2);
  EXPECT_EQ(batch.events[0].topic, "devices");
  EXPECT_EQ(batch.events[1].path, "/c");
  EXPECT_FALSE(batch.gap);
  EXPECT_TRUE(feed.wait_after(3, milliseconds(0)).events.empty()) << "nothing new: an empty batch";
  EXPECT_EQ(feed.last_id(), 3);
}

TEST(ChangeFeedTest, AnIdTheRingNoLongerHoldsOrNeverIssuedIsAGap) {
  ChangeFeed feed(3);
  for (int i = 0; i < 5; ++i) feed.publish("models", "PUT", std::to_string(i));
  EXPECT_FALSE(feed.wait_after(2, milliseconds(0)).gap) << "3, 4 and 5 are all still held";
  EXPECT_EQ(feed.wait_after(2, milliseconds(0)).events.size(), 3u);
  EXPECT_TRUE(feed.wait_after(1, milliseconds(0)).gap) << "2 has left the ring";
  EXPECT_TRUE(feed.wait_after(9, milliseconds(0)).gap) << "an id from before a restart";
  ChangeFeed empty;
  EXPECT_FALSE(empty.wait_after(0, milliseconds(0)).gap);
  EXPECT_TRUE(empty.wait_after(7, milliseconds(0)).gap);
}

TEST(ChangeFeedTest, AWaitEndsAtTheNextEventOrAtClose) {
  ChangeFeed feed;
  std::thread publisher([&feed] { feed.publish("devices", "POST", "/x"); });
  ChangeFeed::Batch batch = feed.wait_after(0, std::chrono::minutes(5));
  publisher.join();
  ASSERT_EQ(batch.events.size(), 1u);

  std::thread closer([&feed] { feed.close(); });
  EXPECT_TRUE(feed.wait_after(1, std::chrono::minutes(5)).closed) << "a stopping server ends every wait";
  closer.join();
  EXPECT_TRUE(feed.wait_after(1, std::chrono::minutes(5)).closed) << "and every later one at once";
}

TEST(ChangeFeedTest, StreamsAreCapped) {
  ChangeFeed feed;
  EXPECT_TRUE(feed.try_open_stream(2));
  EXPECT_TRUE(feed.try_open_stream(2));
  EXPECT_FALSE(feed.try_open_stream(2));
  feed.close_stream();
  EXPECT_EQ(feed.open_streams(), 1);
  EXPECT_TRUE(feed.try_open_stream(2));
}

}  // namespace
}  // namespace canopy::server
