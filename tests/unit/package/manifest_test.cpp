#include "package/manifest.h"

#include <gtest/gtest.h>

#include "common/hash.h"

namespace canopy::package {
namespace {

Json valid_manifest() {
  return Json{
      {"format", 1},
      {"name", "crop-disease-detector"},
      {"labels", {"healthy", "diseased", "water_stressed"}},
      {"input", {{"shape", {1, 3, 320, 320}}}},
      {"files", {{{"path", "model.onnx"}, {"sha256", sha256_hex("m")}, {"size", 1}, {"role", "model"}}}}};
}

std::string error_of(const Json& manifest) {
  auto parsed = parse_manifest(manifest.dump());
  return parsed.ok() ? "" : parsed.error().message;
}

TEST(Manifest, ParsesMinimalAndFillsDefaults) {
  auto m = parse_manifest(valid_manifest().dump());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->name, "crop-disease-detector");
  EXPECT_EQ(m->task, "detection");
  EXPECT_EQ(m->input.layout, "NCHW");
  EXPECT_EQ(m->model_file().path, "model.onnx");
  EXPECT_DOUBLE_EQ(m->thresholds.iou, 0.45);
}

TEST(Manifest, SerializeRoundTrips) {
  auto m = parse_manifest(valid_manifest().dump());
  ASSERT_TRUE(m.ok());
  m->metrics = Json{{"map50", 0.91}};
  m->lineage = Json{{"run", "r-1"}};
  auto again = parse_manifest(serialize_manifest(*m));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(serialize_manifest(*again), serialize_manifest(*m));
}

TEST(Manifest, BudgetsAreOptionalAndWrittenOnlyWhenSet) {
  auto plain = parse_manifest(valid_manifest().dump());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->budgets.any());
  EXPECT_EQ(serialize_manifest(*plain).find("budgets"), std::string::npos);

  Json with = valid_manifest();
  with["budgets"] = {{"latency_ms", 12.5}, {"memory_bytes", 1 << 20}};
  auto m = parse_manifest(with.dump());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_DOUBLE_EQ(m->budgets.latency_ms, 12.5);
  EXPECT_EQ(m->budgets.memory_bytes, 1u << 20);
  auto again = parse_manifest(serialize_manifest(*m));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->budgets.memory_bytes, 1u << 20);

  with["budgets"] = {{"latency_ms", -1}};
  EXPECT_NE(error_of(with).find("'budgets.latency_ms' must not be negative"), std::string::npos);
  with["budgets"] = "fast";
  EXPECT_NE(error_of(with).find("'budgets' must be an object"), std::string::npos);
}

TEST(Manifest, RejectsEachBrokenField) {
  Json m = valid_manifest();
  m["colour"] = "red";
  EXPECT_NE(error_of(m).find("unknown field 'colour'"), std::string::npos);

  m = valid_manifest();
  m["format"] = 2;
  EXPECT_NE(error_of(m).find("format 2 is not supported"), std::string::npos);

  m = valid_manifest();
  m["name"] = "../evil";
  EXPECT_NE(error_of(m).find("name"), std::string::npos);

  m = valid_manifest();
  m["labels"] = Json::array();
  EXPECT_NE(error_of(m).find("labels"), std::string::npos);

  m = valid_manifest();
  m["labels"] = {"a", "a"};
  EXPECT_NE(error_of(m).find("duplicates"), std::string::npos);

  m = valid_manifest();
  m["input"]["shape"] = {1, 3, 320};
  EXPECT_NE(error_of(m).find("4 dimensions"), std::string::npos);

  m = valid_manifest();
  m["files"][0]["path"] = "../model.onnx";
  EXPECT_NE(error_of(m).find("stay inside the package"), std::string::npos);

  for (const char* path : {"./model.onnx", "a//model.onnx", "dir/", "a/./b"}) {
    m = valid_manifest();
    m["files"][0]["path"] = path;
    EXPECT_NE(error_of(m).find("no '.' or empty parts"), std::string::npos) << path;
  }

  m = valid_manifest();
  m["files"][0]["sha256"] = "abc";
  EXPECT_NE(error_of(m).find("malformed sha256"), std::string::npos);

  m = valid_manifest();
  m["files"][0]["role"] = "other";
  EXPECT_NE(error_of(m).find("exactly one file must have role 'model'"), std::string::npos);

  m = valid_manifest();
  m["files"].push_back(m["files"][0]);
  EXPECT_NE(error_of(m).find("listed twice"), std::string::npos);

  m = valid_manifest();
  m["golden"] = {{{"input", "in.pb"}, {"output", "out.pb"}}};
  EXPECT_NE(error_of(m).find("not listed"), std::string::npos);

  m = valid_manifest();
  m["thresholds"] = {{"score", 2.0}};
  EXPECT_NE(error_of(m).find("between 0 and 1"), std::string::npos);

  EXPECT_NE(parse_manifest("{not json").error().message.find("not valid JSON"), std::string::npos);
  // nlohmann throws out_of_range, not parse_error, for a number past a double's range.
  auto overflow = parse_manifest(R"({"format": 1e999})");
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.error().message.find("number out of range"), std::string::npos)
      << overflow.error().message;
}

TEST(Manifest, ParseShape) {
  EXPECT_EQ(*parse_shape("1x3x320x320"), (std::vector<std::int64_t>{1, 3, 320, 320}));
  EXPECT_FALSE(parse_shape("1x3x320").ok());
  EXPECT_FALSE(parse_shape("1x3xAx320").ok());
  EXPECT_FALSE(parse_shape("1x0x3x3").ok());
}

}  // namespace
}  // namespace canopy::package
