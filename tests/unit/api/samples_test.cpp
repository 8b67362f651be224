#include "api/samples.h"

#include <gtest/gtest.h>

#include "api/device_data.h"

namespace canopy::api {
namespace {

Sample a_sample() {
  Sample s;
  s.id = sample_id("dev-1", "row-1", 1'750'000'000'000);
  s.field = "home";
  s.camera = "row-1";
  s.zone = "north";
  s.captured_ms = 1'750'000'000'000;
  s.model = "detector:3";
  s.predictions = {{"diseased", 0.31, 0.1, 0.2, 0.3, 0.4}};
  s.shadow_predictions = std::vector<SampleBox>{};
  s.shadow_model = "detector:2";
  s.sensors = {{"soil-north", 0.21}};
  s.reasons = {{"uncertainty", 0.8, "band 80%"}};
  s.phash = "00ff00ff00ff00ff";
  s.width = 320;
  s.height = 240;
  s.jpeg_base64 = "/9j/";
  return s;
}

TEST(SampleTest, ReadsWhatItWritesAndRidesTheSamplesStream) {
  const Sample s = a_sample();
  auto read = Sample::from_json(s.to_json());
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->id, "dev-1/row-1/1750000000000");
  EXPECT_EQ(read->predictions.at(0).label, "diseased");
  ASSERT_TRUE(read->shadow_predictions);
  EXPECT_EQ(read->shadow_model, "detector:2");
  EXPECT_EQ(read->sensors.at("soil-north"), 0.21);
  EXPECT_EQ(read->jpeg_base64, "/9j/");
  DeviceRecord record{Stream::kSamples, 1, s.captured_ms, s.to_json()};
  auto parsed = DeviceRecord::from_json(record.to_json());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->stream, Stream::kSamples);
  EXPECT_EQ(api::parse_stream("samples"), Stream::kSamples);
}

TEST(SampleTest, EveryBadFieldIsNamed) {
  auto error_of = [](auto change) {
    Json json = a_sample().to_json();
    change(json);
    auto parsed = Sample::from_json(json);
    return parsed.ok() ? std::string("accepted") : parsed.error().message;
  };
  EXPECT_NE(error_of([](Json& j) { j["reasons"] = Json::array(); }).find("reasons"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["predictions"][0]["score"] = 1.5; }).find("predictions[0]"),
            std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["predictions"][0]["x2"] = 0.0; }).find("x2"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["camera"] = "a/b"; }).find("camera"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["camera"] = "row 1?"; }).find("camera"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["width"] = 0; }).find("width"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j["sensors"] = {{"soil", "wet"}}; }).find("sensors"), std::string::npos);
  EXPECT_NE(error_of([](Json& j) { j.erase("random"); }).find("random"), std::string::npos);
  Json many = Json::array();
  for (std::size_t i = 0; i <= kMaxSampleBoxes; ++i) many.push_back(a_sample().predictions[0].to_json());
  EXPECT_NE(error_of([&](Json& j) { j["predictions"] = many; }).find("more than"), std::string::npos);
}

TEST(SampleQueryTest, ParametersRoundTripAndBadOnesAreNamed) {
  auto q = SampleQuery::from_params({{"device", "dev-1"},
                                     {"strategy", "novelty"},
                                     {"class", "diseased"},
                                     {"min_score", "0.4"},
                                     {"random", "false"},
                                     {"since_ms", "5"},
                                     {"limit", "20"}});
  ASSERT_TRUE(q.ok()) << q.error().message;
  EXPECT_EQ(q->predicted_class, "diseased");
  EXPECT_EQ(q->random, false);
  auto again = SampleQuery::from_params(q->to_params());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->limit, 20);
  EXPECT_EQ(again->since_ms, 5);
  EXPECT_FALSE(SampleQuery::from_params({{"limit", "0"}}).ok());
  EXPECT_FALSE(SampleQuery::from_params({{"min_score", "2"}}).ok());
  EXPECT_FALSE(SampleQuery::from_params({{"random", "maybe"}}).ok());
  EXPECT_NE(
      SampleQuery::from_params({{"colour", "red"}}).error().message.find("unknown query parameter 'colour'"),
      std::string::npos);
}

}  // namespace
}  // namespace canopy::api
