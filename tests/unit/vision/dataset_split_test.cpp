// Hash-stable dataset splits: an image keeps its split when images are added.
#include "vision/dataset_split.h"

#include <gtest/gtest.h>

#include "test_support.h"
#include "vision/dataset_formats.h"
#include "vision/field_renderer.h"

namespace canopy::vision {
namespace {

using testing::TempDir;

TEST(Split, FollowsTheHashAndStaysPutWhenImagesAreAdded) {
  EXPECT_EQ(split_for_hash("00000000ffff", 0.1), "val");
  EXPECT_EQ(split_for_hash("19999999", 0.1), "val");
  EXPECT_EQ(split_for_hash("1a000000", 0.1), "train");
  EXPECT_EQ(split_for_hash("1a000000", 0.1, 0.1), "test");
  EXPECT_EQ(split_for_hash("ffffffff", 0.1, 0.1), "train");

  TempDir dir;
  ASSERT_TRUE(generate_field_dataset({.out = dir / "small", .images = 20, .seed = 4}).ok());
  ASSERT_TRUE(generate_field_dataset({.out = dir / "large", .images = 40, .seed = 4})
                  .ok());  // the same 20 first images, and 20 more
  auto small = read_dataset(dir / "small", DatasetFormat::kYolo);
  auto large = read_dataset(dir / "large", DatasetFormat::kYolo);
  ASSERT_TRUE(small.ok() && large.ok());
  auto a = split_dataset(small->dataset, 0.3);
  auto b = split_dataset(large->dataset, 0.3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->train.samples.size() + a->val.samples.size(), 20u);
  for (const Sample& sample : a->val.samples) {
    bool still_val = false;
    for (const Sample& other : b->val.samples) still_val |= other.image == sample.image;
    EXPECT_TRUE(still_val) << sample.image << " moved out of validation";
  }
}

}  // namespace
}  // namespace canopy::vision
