#include "collect/selection.h"

#include <gtest/gtest.h>

namespace canopy::collect {
namespace {

constexpr std::int64_t kT0 = 1'750'000'000'000;  // a Unix time in ms
constexpr std::int64_t kMinute = 60'000;
const std::vector<std::string> kClasses = {"healthy", "diseased", "water_stressed"};

RawBox box(std::string label, double score, double x = 0.1) {
  return {std::move(label), score, x, 0.1, x + 0.2, 0.3};
}

// Rules with only the named strategy on, and budgets that never bind.
SelectionRules only(const std::string& strategy) {
  SelectionRules rules;
  rules.uncertainty.enabled = strategy == "uncertainty";
  rules.temporal.enabled = strategy == "temporal";
  rules.model_disagreement.enabled = strategy == "model_disagreement";
  rules.cross_sensor.enabled = strategy == "cross_sensor";
  rules.class_balance.enabled = strategy == "class_balance";
  rules.novelty.enabled = strategy == "novelty";
  rules.random.share = 0;
  rules.budget = {1000, 1000, 1000, {}};
  return rules;
}

Candidate frame(std::vector<RawBox> boxes, std::uint64_t hash = 0) {
  Candidate c;
  c.camera = "cam1";
  c.boxes = std::move(boxes);
  c.threshold = 0.5;
  c.signature.hash = hash;
  return c;
}

TEST(UncertaintyTest, TheBandScoresRawBoxesNearTheirClassThreshold) {
  UncertaintyRules rules{.enabled = true, .method = UncertaintyMethod::kBand, .band = 0.2, .min_score = 0.5};
  EXPECT_DOUBLE_EQ(uncertainty_score({box("healthy", 0.5)}, 0.5, {}, rules), 1.0);
  EXPECT_NEAR(uncertainty_score({box("healthy", 0.4)}, 0.5, {}, rules), 0.5,
              1e-9);  // below the threshold: seen raw
  EXPECT_DOUBLE_EQ(uncertainty_score({box("healthy", 0.95), box("healthy", 0.05)}, 0.5, {}, rules), 0);
  // A class with a threshold of its own is judged against it.
  EXPECT_DOUBLE_EQ(uncertainty_score({box("diseased", 0.3)}, 0.5, {{"diseased", 0.3}}, rules), 1.0);
  EXPECT_DOUBLE_EQ(uncertainty_score({}, 0.5, {}, rules), 0);
}

TEST(UncertaintyTest, LeastConfidenceAndEntropyPeakAtAHalf) {
  UncertaintyRules least{
      .enabled = true, .method = UncertaintyMethod::kLeastConfidence, .band = 0, .min_score = 0};
  UncertaintyRules entropy{.enabled = true, .method = UncertaintyMethod::kEntropy, .band = 0, .min_score = 0};
  EXPECT_DOUBLE_EQ(uncertainty_score({box("healthy", 0.5)}, 0.5, {}, least), 1.0);
  EXPECT_NEAR(uncertainty_score({box("healthy", 0.9)}, 0.5, {}, least), 0.2, 1e-9);
  EXPECT_DOUBLE_EQ(uncertainty_score({box("healthy", 0.5)}, 0.5, {}, entropy), 1.0);
  EXPECT_NEAR(uncertainty_score({box("healthy", 0.9)}, 0.5, {}, entropy), 0.469, 1e-3);
  EXPECT_DOUBLE_EQ(uncertainty_score({box("healthy", 1.0)}, 0.5, {}, entropy), 0);
  EXPECT_EQ(parse_uncertainty_method("entropy"), UncertaintyMethod::kEntropy);
  EXPECT_FALSE(parse_uncertainty_method("margin"));
}

TEST(TemporalTest, APassThatAPlantsNextPassTakesBackFlickered) {
  using S = std::optional<std::string>;
  const PassHistory steady{{S("healthy"), S("healthy"), S("healthy"), S("healthy")}, "healthy"};
  const PassHistory flicker{{S("healthy"), S("healthy"), S("diseased"), S("healthy")}, "healthy"};
  const PassHistory missed_once{{S("healthy"), S("healthy"), std::nullopt, S("healthy")}, "healthy"};
  const PassHistory falling_ill{{S("healthy"), S("healthy"), S("diseased"), S("diseased")}, "healthy"};
  const PassHistory dark{{S("healthy"), S("healthy"), std::nullopt, std::nullopt}, "healthy"};
  const PassHistory young{{S("diseased"), S("healthy")}, "healthy"};
  EXPECT_DOUBLE_EQ(previous_pass_flicker({steady}, 4), 0);
  EXPECT_DOUBLE_EQ(previous_pass_flicker({steady, flicker}, 4), 0.5);
  EXPECT_DOUBLE_EQ(previous_pass_flicker({missed_once, flicker}, 4), 1.0);
  EXPECT_DOUBLE_EQ(previous_pass_flicker({falling_ill}, 4), 0) << "a change that holds is no flicker";
  EXPECT_DOUBLE_EQ(previous_pass_flicker({missed_once, missed_once}, 4), 0)
      << "a blind pass, not a hard case";
  EXPECT_DOUBLE_EQ(previous_pass_flicker({dark, steady}, 4), 0);
  EXPECT_DOUBLE_EQ(previous_pass_flicker({young}, 4), 0) << "not watched for a whole window yet";
  EXPECT_DOUBLE_EQ(previous_pass_flicker({}, 4), 0);
}

TEST(ModelDisagreementTest, MatchedBoxesAgreeAndAnyOtherBoxDisagrees) {
  const std::vector<RawBox> two = {box("healthy", 0.9, 0.1), box("diseased", 0.8, 0.6)};
  EXPECT_DOUBLE_EQ(model_disagreement(two, two, 0.5, 0.5), 0);
  EXPECT_NEAR(model_disagreement(two, {box("healthy", 0.9, 0.1)}, 0.5, 0.5), 0.5, 1e-9);
  // The same place, another class: two boxes, no match.
  EXPECT_DOUBLE_EQ(model_disagreement({box("healthy", 0.9)}, {box("diseased", 0.9)}, 0.5, 0.5), 1.0);
  // Boxes under the threshold do not count; nothing found by either is agreement.
  EXPECT_DOUBLE_EQ(model_disagreement({box("healthy", 0.3)}, {}, 0.5, 0.5), 0);
}

TEST(CrossSensorTest, StressOnWetSoilAndHealthOnLongDrySoilAreSuspect) {
  CrossSensorRules rules;
  EXPECT_TRUE(cross_sensor_score({box("water_stressed", 0.8)}, 0.5, {.wet = true, .dry_for_ms = 0}, rules));
  EXPECT_FALSE(cross_sensor_score({box("water_stressed", 0.8)}, 0.5, {.wet = false, .dry_for_ms = 0}, rules));
  EXPECT_FALSE(cross_sensor_score({box("water_stressed", 0.4)}, 0.5, {.wet = true, .dry_for_ms = 0}, rules));
  EXPECT_TRUE(
      cross_sensor_score({box("healthy", 0.8)}, 0.5, {.wet = false, .dry_for_ms = rules.dry_for_ms}, rules));
  EXPECT_FALSE(cross_sensor_score({box("healthy", 0.8)}, 0.5,
                                  {.wet = false, .dry_for_ms = rules.dry_for_ms - 1}, rules));
}

TEST(ClassBalanceTest, AClassRarelyKeptIsRareEvenBelowTheThreshold) {
  ClassBalanceRules rules;
  std::string rarest;
  // Nothing kept yet: every class is as common as the others.
  EXPECT_DOUBLE_EQ(class_rarity({box("diseased", 0.3)}, {}, kClasses, rules), 0);
  const std::map<std::string, std::int64_t> kept = {{"healthy", 97}, {"water_stressed", 30}};
  EXPECT_GT(class_rarity({box("healthy", 0.9), box("diseased", 0.3)}, kept, kClasses, rules, &rarest), 0.9);
  EXPECT_EQ(rarest, "diseased");
  EXPECT_DOUBLE_EQ(class_rarity({box("healthy", 0.9)}, kept, kClasses, rules), 0);
  EXPECT_DOUBLE_EQ(class_rarity({box("diseased", 0.1)}, kept, kClasses, rules), 0);  // below min_box_score
}

TEST(NoveltyTest, DistanceToTheNearestKeptFrame) {
  Embedding a{}, b{};
  a[0] = 1;
  b[1] = 1;
  EXPECT_DOUBLE_EQ(novelty_score(a, {}), 1);
  EXPECT_DOUBLE_EQ(novelty_score(a, {b, a}), 0);
  EXPECT_NEAR(novelty_score(a, {b}), std::sqrt(2.0) / 2, 1e-6);
}

TEST(SelectFrameTest, EachStrategyPicksItsOwnCaseAndNamesItself) {
  std::vector<std::string> picked;
  auto pick = [&](const std::string& strategy, Candidate c) {
    SelectionState state;
    const Decision d = select_frame(state, c, only(strategy), kClasses, kT0, 0.99);
    EXPECT_TRUE(d.keep) << strategy << ": " << d.skipped;
    if (!d.reasons.empty()) picked.push_back(d.reasons.front().strategy);
  };
  pick("uncertainty", frame({box("diseased", 0.52)}));
  Candidate flicker = frame({box("healthy", 0.9)});
  flicker.temporal = 0.5;
  pick("temporal", flicker);
  Candidate shadow = frame({box("healthy", 0.9)});
  shadow.shadow_boxes = std::vector<RawBox>{box("diseased", 0.9)};
  pick("model_disagreement", shadow);
  Candidate wet = frame({box("water_stressed", 0.9)});
  wet.soil = SoilContext{.wet = true, .dry_for_ms = 0};
  pick("cross_sensor", wet);
  pick("novelty", frame({box("healthy", 0.9)}));
  EXPECT_EQ(picked, (std::vector<std::string>{"uncertainty", "temporal", "model_disagreement", "cross_sensor",
                                              "novelty"}));

  SelectionState state;
  state.kept_by_class = {{"healthy", 50}};
  const Decision rare =
      select_frame(state, frame({box("diseased", 0.3)}), only("class_balance"), kClasses, kT0, 0.99);
  ASSERT_TRUE(rare.keep);
  EXPECT_EQ(rare.reasons.front().strategy, "class_balance");
}

TEST(SelectFrameTest, AnEasyFrameIsNotKept) {
  SelectionRules rules = only("uncertainty");
  rules.temporal.enabled = true;
  SelectionState state;
  const Decision d = select_frame(state, frame({box("healthy", 0.97)}), rules, kClasses, kT0, 0.5);
  EXPECT_FALSE(d.keep);
  EXPECT_EQ(d.skipped, "nothing hard");
  EXPECT_EQ(state.frames, 1);
  EXPECT_EQ(state.kept, 0);
}

TEST(SelectFrameTest, ARareClassBoostsAHardCaseOverItsMinimum) {
  SelectionRules rules = only("uncertainty");
  rules.class_balance.enabled = true;
  rules.class_balance.boost = 1.0;
  rules.uncertainty.min_score = 0.6;
  SelectionState common, rare;
  common.kept_by_class = {{"healthy", 10}, {"diseased", 10}, {"water_stressed", 10}};
  rare.kept_by_class = {{"healthy", 30}, {"water_stressed", 30}};
  // 0.41 is 0.09 from the threshold: an uncertainty of 0.4 alone.
  EXPECT_FALSE(select_frame(common, frame({box("diseased", 0.41)}), rules, kClasses, kT0, 0.99).keep);
  const Decision boosted = select_frame(rare, frame({box("diseased", 0.41)}), rules, kClasses, kT0, 0.99);
  ASSERT_TRUE(boosted.keep);
  EXPECT_EQ(boosted.reasons.front().strategy, "class_balance");
  EXPECT_EQ(boosted.reasons.at(1).strategy, "uncertainty");
  EXPECT_GE(boosted.reasons.at(1).score, 0.6);
}

TEST(SelectFrameTest, NearDuplicatesOfAKeptFrameAreDroppedUntilTheTimeout) {
  SelectionRules rules = only("uncertainty");
  rules.duplicates = {.max_distance = 10, .keep_after_ms = 60 * kMinute, .memory = 8};
  SelectionState state;
  const Candidate hard = frame({box("diseased", 0.5)}, 0xff00ff00ff00ff00ull);
  Candidate close = hard;
  close.signature.hash ^= 0x7full;  // 7 bits away
  Candidate other = hard;
  other.signature.hash = ~hard.signature.hash;
  other.camera = "cam1";
  EXPECT_TRUE(select_frame(state, hard, rules, kClasses, kT0, 0.99).keep);
  const Decision dup = select_frame(state, close, rules, kClasses, kT0 + kMinute, 0.99);
  EXPECT_FALSE(dup.keep);
  EXPECT_EQ(dup.skipped, "duplicate");
  EXPECT_TRUE(select_frame(state, other, rules, kClasses, kT0 + 2 * kMinute, 0.99).keep);
  // Another camera's frames are not this camera's duplicates.
  Candidate elsewhere = close;
  elsewhere.camera = "cam2";
  EXPECT_TRUE(select_frame(state, elsewhere, rules, kClasses, kT0 + 3 * kMinute, 0.99).keep);
  // After the timeout the same view is kept again, once.
  EXPECT_TRUE(select_frame(state, close, rules, kClasses, kT0 + 61 * kMinute, 0.99).keep);
  EXPECT_FALSE(select_frame(state, close, rules, kClasses, kT0 + 62 * kMinute, 0.99).keep);
  EXPECT_EQ(state.duplicates, 2);
}

TEST(SelectFrameTest, TheRandomSliceKeepsAnyFrameFlaggedAndSkipsTheDuplicateCheck) {
  SelectionRules rules = only("none");
  rules.random.share = 0.1;
  SelectionState state;
  const Candidate easy = frame({box("healthy", 0.99)}, 42);
  EXPECT_FALSE(select_frame(state, easy, rules, kClasses, kT0, 0.1).keep);
  const Decision first = select_frame(state, easy, rules, kClasses, kT0, 0.05);
  ASSERT_TRUE(first.keep);
  EXPECT_TRUE(first.random);
  EXPECT_EQ(first.reasons.front().strategy, "random");
  EXPECT_TRUE(select_frame(state, easy, rules, kClasses, kT0 + 1, 0.05).keep);
}

TEST(SelectFrameTest, BudgetsBindAndTheNextStrategyWithRoomPays) {
  SelectionRules rules = only("uncertainty");
  rules.novelty.enabled = true;
  rules.budget = {.per_minute = 10,
                  .per_hour = 10,
                  .per_day = 3,
                  .per_strategy_day = {{"uncertainty", 1}},
                  .paced = false};
  SelectionState state;
  Candidate hard = frame({box("diseased", 0.5)});
  for (int i = 0; i < 3; ++i) {
    hard.signature.hash = static_cast<std::uint64_t>(i) * 0x0f0f0f0f0f0f0f0full;
    hard.signature.embedding = {};
    hard.signature.embedding[i] = 1;  // a new view each time
    EXPECT_TRUE(select_frame(state, hard, rules, kClasses, kT0 + i * kMinute, 0.99).keep) << i;
  }
  EXPECT_EQ(state.budget.strategy_day.at("uncertainty").count, 1);
  EXPECT_EQ(state.budget.strategy_day.at("novelty").count, 2);
  hard.signature.hash = ~0ull;
  hard.signature.embedding[5] = 1;
  const Decision over = select_frame(state, hard, rules, kClasses, kT0 + 5 * kMinute, 0.99);
  EXPECT_FALSE(over.keep);
  EXPECT_EQ(over.skipped, "budget");
  EXPECT_EQ(state.over_budget, 1);
}

TEST(SelectFrameTest, TheStateSurvivesARestartWithItsBudgetsAndMemory) {
  SelectionRules rules = only("uncertainty");
  rules.budget = {.per_minute = 10, .per_hour = 10, .per_day = 1, .per_strategy_day = {}, .paced = false};
  SelectionState state;
  Candidate hard = frame({box("diseased", 0.5)}, 0xabcdef);
  hard.signature.embedding[3] = 1;
  ASSERT_TRUE(select_frame(state, hard, rules, kClasses, kT0, 0.99).keep);
  auto restarted = SelectionState::from_json(parse_json(state.to_json().dump()).value());
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_EQ(restarted->cameras.at("cam1").recent.front().hash, 0xabcdefull);
  EXPECT_EQ(restarted->cameras.at("cam1").embeddings.front()[3], 1);
  EXPECT_EQ(restarted->kept_by_class.at("diseased"), 1);
  hard.signature.hash = ~0ull;
  EXPECT_EQ(select_frame(*restarted, hard, rules, kClasses, kT0 + 10 * kMinute, 0.99).skipped, "budget");
  Json bad = state.to_json();
  bad["cameras"]["cam1"]["recent"][0]["hash"] = "xyz";
  EXPECT_EQ(SelectionState::from_json(bad).error().code, ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace canopy::collect
