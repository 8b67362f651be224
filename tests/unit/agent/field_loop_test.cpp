// The field loop on a manual clock, fed the way a field feeds it: frames
// dropped into a spool, sensor values in the files the kernel would expose,
// a valve whose state file the test watches, and a real detector (see
// field_scene.h). Records are collected as the outbox would receive them.
#include "agent/field_loop.h"

#include <gtest/gtest.h>

#include "api/samples.h"
#include "common/keys.h"
#include "field_scene.h"
#include "vision/image_codec.h"
#include "test_support.h"

namespace canopy::agent {
namespace {

using canopy::testing::Leaf;
using canopy::testing::read_bytes;
using canopy::testing::TempDir;
using canopy::testing::write_bytes;

constexpr std::int64_t kMinute = 60'000;

struct Sent {
  api::Stream stream;
  std::int64_t at_ms;
  Json body;
  std::string valve;  // what the valve file read when it was sent
};

class FieldLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    canopy::testing::build_cell_detector(dir_ / "model");
    active_.set(canopy::testing::load_cell_detector(dir_ / "model"));
    write_bytes(dir_ / "soil", "0.24\n");
    write_bytes(dir_ / "air", "21500\n");
  }

  std::string config_text() const {
    return "location: {latitude: 41.6}\n"
           "cameras:\n"
           "  - id: row-1\n"
           "    spool: " +
           (dir_ / "spool").string() +
           "\n"
           "    interval: 1m\n"
           "    zone: north\n"
           "sensors:\n"
           "  - name: soil-north\n"
           "    measures: soil_moisture\n"
           "    file: " +
           (dir_ / "soil").string() +
           "\n"
           "    period: 1m\n"
           "    range: [0, 0.6]\n"
           "  - name: air\n"
           "    measures: air_temperature\n"
           "    hwmon: " +
           (dir_ / "air").string() +
           "\n"
           "    period: 10m\n"
           "zones:\n"
           "  - name: north\n"
           "    soil: loam\n"
           "    soil_sensor: soil-north\n"
           "    max_on: 30m\n"
           "    min_off: 10m\n"
           "    valve: {file: " +
           (dir_ / "valve").string() +
           "}\n"
           "telemetry: {period: 10m}\n"
           "alerts: {clear_after: 1m}\n" +  // frames a minute apart: the default 2 h is 120 passes
           extra_config_;
  }

  void open_loop() {
    auto config = parse_field_config(config_text(), "field.yaml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    FieldLoopOptions options;
    options.config = *config;
    options.data_dir = dir_ / "data";
    options.clock = &clock_;
    options.device_id = "dev-1";
    options.extra_telemetry = [] { return std::map<std::string, double>{{"outbox.images.records", 3}}; };
    auto loop =
        FieldLoop::open(options, active_, [this](api::Stream stream, std::int64_t at, Json body) -> Status {
          std::error_code ec;
          sent_.push_back({stream, at, std::move(body),
                           std::filesystem::exists(dir_ / "valve", ec) ? read_bytes(dir_ / "valve") : ""});
          return {};
        });
    ASSERT_TRUE(loop.ok()) << loop.error().message;
    loop_ = std::move(*loop);
  }

  // Drops a frame into the spool, stamped with the clock's time as a camera would.
  void drop(const std::string& bytes, const std::string& name = "frame.jpg") {
    const auto path = dir_ / "spool" / name;
    write_bytes(path, bytes);
    const auto at =
        std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(clock_.wall_ms()));
    std::filesystem::last_write_time(path, std::chrono::file_clock::from_sys(at));
  }

  // One minute of field life: a frame of `plants`, then everything due.
  void pass(const std::map<std::pair<int, int>, Leaf>& plants, double light = 1.0) {
    drop(canopy::testing::render_jpeg(plants, light, 6, static_cast<unsigned>(++frames_)));
    loop_->run_due();
    clock_.advance_ms(kMinute);
  }

  std::vector<Json> bodies(api::Stream stream) const {
    std::vector<Json> out;
    for (const Sent& s : sent_)
      if (s.stream == stream) out.push_back(s.body);
    return out;
  }

  std::vector<Json> plant_alerts() const {
    std::vector<Json> out;
    for (const Json& alert : bodies(api::Stream::kAlerts))
      if (alert["condition"] != "sensor") out.push_back(alert);
    return out;
  }

  bool valve_open() const { return read_bytes(dir_ / "valve") == "1\n"; }

  std::string extra_config_;
  TempDir dir_;
  ManualClock clock_{1'795'600'000'000};
  ActiveModel active_;
  std::vector<Sent> sent_;  // before the loop: its destructor still sends
  std::unique_ptr<FieldLoop> loop_;
  int frames_ = 0;
};

TEST_F(FieldLoopTest, ADiseasedPlantRaisesOneAlertThroughShadowsAndClearsWhenItHeals) {
  open_loop();
  std::map<std::pair<int, int>, Leaf> plants = {
      {{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kHealthy}, {{3, 3}, Leaf::kHealthy}};
  const double light[] = {1.0, 0.92, 1.08, 0.95, 1.05, 1.0};
  for (double l : light) pass(plants, l);
  EXPECT_TRUE(plant_alerts().empty()) << "healthy plants under changing light";
  EXPECT_TRUE(bodies(api::Stream::kPlants).empty());

  // One plant turns brown; a cloud's shadow hides everything for one pass,
  // and a single frame of flicker shows a second plant brown.
  plants[{1, 2}] = Leaf::kDiseased;
  pass(plants, 1.0);
  pass(plants, 0.25);
  auto flicker = plants;
  flicker[{0, 0}] = Leaf::kDiseased;
  pass(flicker, 1.0);
  for (int i = 0; i < 5; ++i) pass(plants, light[i]);
  auto alerts = plant_alerts();
  ASSERT_EQ(alerts.size(), 1u) << "one alert for one state change";
  EXPECT_EQ(alerts[0]["zone"], "north");
  EXPECT_EQ(alerts[0]["condition"], "diseased");
  EXPECT_EQ(alerts[0]["severity"], "critical");
  EXPECT_EQ(alerts[0]["raised"], true);
  EXPECT_EQ(alerts[0]["plants"], 1);
  auto changes = bodies(api::Stream::kPlants);
  ASSERT_EQ(changes.size(), 1u) << "the flickering plant never changed";
  EXPECT_EQ(changes[0]["to"], "diseased");
  EXPECT_NEAR(changes[0]["cx"].get<double>(), 2.5 / 4, 0.05);
  auto images = bodies(api::Stream::kImages);
  ASSERT_EQ(images.size(), 1u) << "the frame that raised the alert";
  const auto evidence = vision::decode_image(*base64_decode(images[0]["jpeg"].get<std::string>()));
  ASSERT_TRUE(evidence.ok());
  EXPECT_EQ(evidence->size(), cv::Size(canopy::testing::kFrameSide, canopy::testing::kFrameSide))
      << "the whole frame, though the model's copy was decoded at a quarter of its size";
  EXPECT_EQ(images[0]["width"], canopy::testing::kFrameSide);

  plants[{1, 2}] = Leaf::kHealthy;
  for (int i = 0; i < 6; ++i) pass(plants, light[i]);
  alerts = plant_alerts();
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1]["raised"], false) << "cleared when it healed";

  // It falls ill again within the cooldown: the plant changes, the zone stays quiet.
  plants[{1, 2}] = Leaf::kDiseased;
  for (int i = 0; i < 6; ++i) pass(plants, light[i]);
  EXPECT_EQ(plant_alerts().size(), 2u) << "no second alert within the cooldown";
  EXPECT_EQ(bodies(api::Stream::kPlants).size(), 3u);
}

// Plants that look water-stressed over soil that still holds its readily
// available water (loam above 19.5 %) are dawn light, a shadow or the model's
// error: no alert. Once the soil has used it, the same sight raises one.
TEST_F(FieldLoopTest, WaterStressIsRaisedOnlyWhenTheSoilAgrees) {
  open_loop();
  std::map<std::pair<int, int>, Leaf> plants = {{{0, 0}, Leaf::kStressed}, {{1, 2}, Leaf::kStressed}};
  for (int i = 0; i < 8; ++i) pass(plants);
  EXPECT_TRUE(plant_alerts().empty()) << "wet soil (24 %): the plants cannot be short of water";
  ASSERT_FALSE(bodies(api::Stream::kPlants).empty()) << "the tracker still records what it sees";

  write_bytes(dir_ / "soil", "0.18\n");
  for (int i = 0; i < 2; ++i) pass(plants);
  auto alerts = plant_alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["condition"], "water-stressed");
  EXPECT_EQ(alerts[0]["raised"], true);
}

TEST_F(FieldLoopTest, AlertsRaisedBeforeARestartAreClearedAfterItAndNotRaisedTwice) {
  open_loop();
  std::map<std::pair<int, int>, Leaf> plants = {{{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kHealthy}};
  for (int i = 0; i < 6; ++i) pass(plants);
  plants[{1, 2}] = Leaf::kDiseased;
  write_bytes(dir_ / "soil", "nan\n");
  for (int i = 0; i < 6; ++i) pass(plants);
  ASSERT_EQ(plant_alerts().size(), 1u);
  auto alerts = bodies(api::Stream::kAlerts);
  ASSERT_EQ(alerts.size(), 2u) << "the disease and the failed probe";

  // A crash (or a reboot, or a new configuration): a new loop on the same data.
  loop_.reset();
  open_loop();
  for (int i = 0; i < 8; ++i) pass(plants);
  EXPECT_EQ(bodies(api::Stream::kAlerts).size(), 2u)
      << "neither is raised again: the new loop knows they are raised, and the plant it has just found "
         "counts as healthy only until its passes agree";

  // The plant heals and the probe is fixed, seen only by the new loop.
  plants[{1, 2}] = Leaf::kHealthy;
  write_bytes(dir_ / "soil", "0.24\n");
  for (int i = 0; i < 6; ++i) pass(plants);
  alerts = bodies(api::Stream::kAlerts);
  ASSERT_EQ(alerts.size(), 4u);
  EXPECT_EQ(alerts[2]["condition"], "sensor");
  EXPECT_EQ(alerts[2]["raised"], false);
  EXPECT_EQ(alerts[3]["condition"], "diseased");
  EXPECT_EQ(alerts[3]["raised"], false) << "cleared by the loop that saw it end";

  // After another restart, nothing is left to clear.
  loop_.reset();
  open_loop();
  for (int i = 0; i < 8; ++i) pass(plants);
  EXPECT_EQ(bodies(api::Stream::kAlerts).size(), 4u);
}

TEST_F(FieldLoopTest, KeptFramesBecomeSamplesWithPreLabelsSensorsAndReasonsWithinABudgetThatSurvivesARestart) {
  // Every frame is hard enough (the random slice takes them all): the budget decides.
  extra_config_ =
      "field: home-farm\n"
      "samples: {random: {share: 1}, budget: {per_minute: 5, per_hour: 5, per_day: 3, paced: false}, image: {max_side: 200}}\n";
  open_loop();
  const std::map<std::pair<int, int>, Leaf> plants = {{{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kDiseased}};
  for (int i = 0; i < 3; ++i) pass(plants);
  ASSERT_EQ(bodies(api::Stream::kSamples).size(), 2u) << "a frame is judged when the camera's next one is in";
  auto sample = api::Sample::from_json(bodies(api::Stream::kSamples)[0]);
  ASSERT_TRUE(sample.ok()) << sample.error().message;
  EXPECT_EQ(sample->id, api::sample_id("dev-1", "row-1", sample->captured_ms));
  EXPECT_EQ(sample->field, "home-farm");
  EXPECT_EQ(sample->zone, "north");
  EXPECT_TRUE(sample->random);
  EXPECT_EQ(sample->reasons.at(0).strategy, "random");
  EXPECT_EQ(sample->sensors.at("soil-north"), 0.24);
  EXPECT_EQ(sample->phash.size(), 16u);
  ASSERT_FALSE(sample->predictions.empty()) << "the model's boxes are the labeler's pre-labels";
  EXPECT_EQ(std::max(sample->width, sample->height), 200) << "resized to the configured side";
  auto jpeg = base64_decode(sample->jpeg_base64);
  ASSERT_TRUE(jpeg.ok());
  auto image = vision::decode_image(*jpeg);
  ASSERT_TRUE(image.ok()) << image.error().message;
  EXPECT_EQ(image->cols, sample->width);

  // A restart (a crash, a new configuration) spends from the same day's budget.
  loop_.reset();
  open_loop();
  for (int i = 0; i < 4; ++i) pass(plants);
  EXPECT_EQ(bodies(api::Stream::kSamples).size(), 3u) << "three a day, restart or not";
  clock_.advance_ms(24 * 60 * kMinute);
  pass(plants);
  EXPECT_EQ(bodies(api::Stream::kSamples).size(), 4u) << "a new day, a new budget";
}

TEST_F(FieldLoopTest, ThePreviousModelRunsInShadowAndTheFramesWhereTheModelsDisagreeAreKept) {
  // Version 2 finds no healthy plant; version 1, the one it replaced, still
  // in the other slot, finds them all.
  canopy::testing::build_cell_detector(dir_ / "model-v2", -30);
  auto v2 = std::const_pointer_cast<LoadedModel>(canopy::testing::load_cell_detector(dir_ / "model-v2"));
  v2->ref.model.version = 2;
  v2->previous = PackageRef{{"cell-detector", 1}, "", 0};
  v2->previous_directory = dir_ / "model";
  active_.set(v2);
  extra_config_ =
      "samples: {random: {share: 0}, uncertainty: {enabled: false}, temporal: {enabled: false},"
      " novelty: {enabled: false}, class_balance: {enabled: false}, cross_sensor: {enabled: false},"
      " model_disagreement: {share: 1}, duplicates: {keep_after: 1m},"
      " budget: {per_minute: 5, per_hour: 60, per_day: 100, paced: false}}\n";
  open_loop();
  for (int i = 0; i < 12; ++i) pass({{{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kHealthy}});
  const auto samples = bodies(api::Stream::kSamples);
  ASSERT_EQ(samples.size(), 11u) << "every frame but the last, which waits for the next pass";
  for (const Json& body : samples) {
    auto sample = api::Sample::from_json(body);
    ASSERT_TRUE(sample.ok()) << sample.error().message;
    EXPECT_EQ(sample->reasons.at(0).strategy, "model_disagreement");
    EXPECT_EQ(sample->model, "cell-detector:2");
    EXPECT_EQ(sample->shadow_model, "cell-detector:1");
    ASSERT_TRUE(sample->shadow_predictions);
    EXPECT_FALSE(sample->shadow_predictions->empty()) << "the previous model's boxes travel with the sample";
  }
  const auto telemetry = bodies(api::Stream::kTelemetry);
  ASSERT_FALSE(telemetry.empty());
  const Json& values = telemetry.back()["values"];
  EXPECT_GE(values.value("shadow.frames", 0.0), 10.0);
  EXPECT_EQ(values.value("shadow.agreement", -1.0), 0.0) << "no frame on which the two versions agreed";
}

TEST_F(FieldLoopTest, SelectionThatIsOffKeepsNothing) {
  extra_config_ = "samples: {enabled: false, random: {share: 1}}\n";
  open_loop();
  for (int i = 0; i < 3; ++i) pass({{{0, 0}, Leaf::kHealthy}});
  EXPECT_TRUE(bodies(api::Stream::kSamples).empty());
}

TEST_F(FieldLoopTest, BadFramesAndAMissingModelNeverStopTheLoop) {
  open_loop();
  const std::string good = canopy::testing::render_jpeg({{{0, 0}, Leaf::kHealthy}}, 1.0, 4, 1);
  drop("not an image at all");
  loop_->run_due();
  clock_.advance_ms(kMinute);
  drop(good.substr(0, good.size() / 2));  // truncated mid-scan
  loop_->run_due();
  clock_.advance_ms(kMinute);
  // A PNG header claiming 100000 × 100000 pixels.
  std::string huge("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0", 29);
  drop(huge + std::string(16, '\0'), "huge.png");
  loop_->run_due();
  clock_.advance_ms(kMinute);
  active_.set(nullptr);  // the model is being replaced
  drop(good);
  loop_->run_due();
  clock_.advance_ms(kMinute);
  active_.set(canopy::testing::load_cell_detector(dir_ / "model"));
  for (int i = 0; i < 6; ++i) pass({{{0, 0}, Leaf::kHealthy}});
  EXPECT_EQ(bodies(api::Stream::kReadings).size(), 10u + 1u)
      << "the sensors were read every period throughout";
  clock_.advance_ms(10 * kMinute);
  loop_->run_due();
  auto telemetry = bodies(api::Stream::kTelemetry);
  ASSERT_FALSE(telemetry.empty());
  std::int64_t failures = 0;
  for (const Json& t : telemetry) failures += t["values"].value("camera.row-1.failures", 0.0);
  EXPECT_EQ(failures, 3) << "three bad frames counted";
  const Json& values = telemetry.back()["values"];
  EXPECT_GT(values["inference_ms"].get<double>(), 0);
  EXPECT_GT(values["rss_bytes"].get<double>(), 1e6);
  EXPECT_EQ(values["outbox.images.records"], 3) << "the outbox's own figures ride along";
  std::int64_t counted = 0;
  for (const Json& t : telemetry)
    for (std::int64_t n : t["confidence_histogram"].get<std::vector<std::int64_t>>()) counted += n;
  EXPECT_GT(counted, 6) << "scores below the model's threshold are counted too";
}

TEST_F(FieldLoopTest, TheValveFollowsTheSoilAndClosesOnABadReadingWithinOnePeriod) {
  write_bytes(dir_ / "soil", "0.15\n");
  open_loop();
  EXPECT_FALSE(valve_open()) << "closed at start";
  loop_->run_due();
  EXPECT_TRUE(valve_open()) << "dry soil";
  clock_.advance_ms(5 * kMinute);
  write_bytes(dir_ / "soil", "nan\n");
  loop_->run_due();
  EXPECT_FALSE(valve_open()) << "NaN closes the valve in the same period";
  auto actuations = bodies(api::Stream::kActuations);
  ASSERT_EQ(actuations.size(), 3u);
  EXPECT_EQ(actuations[0]["open"], false);
  EXPECT_EQ(actuations[0]["reason"], "closed at start");
  EXPECT_EQ(actuations[1]["open"], true);
  EXPECT_DOUBLE_EQ(actuations[1]["theta"].get<double>(), 0.15);
  for (const Sent& s : sent_)
    if (s.stream == api::Stream::kActuations) {
      EXPECT_EQ(s.valve, "0\n")
          << "an opening is recorded before the valve opens, a closing after it closed: " << s.body.dump();
    }
  EXPECT_EQ(actuations[2]["open"], false);
  EXPECT_TRUE(actuations[2]["theta"].is_null());
  auto alerts = bodies(api::Stream::kAlerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["condition"], "sensor");
  EXPECT_EQ(alerts[0]["subject"], "soil-north");
  auto readings = bodies(api::Stream::kReadings);
  EXPECT_NE(readings.back()["status"], "valid");
  EXPECT_TRUE(readings.back()["value"].is_null());

  // Fixed, but the minimum off-time holds before it opens again.
  write_bytes(dir_ / "soil", "0.15\n");
  clock_.advance_ms(kMinute);
  loop_->run_due();
  EXPECT_FALSE(valve_open());
  alerts = bodies(api::Stream::kAlerts);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1]["raised"], false) << "the sensor alert clears";
  clock_.advance_ms(10 * kMinute);
  loop_->run_due();
  EXPECT_TRUE(valve_open());
}

TEST_F(FieldLoopTest, TheDaysTemperaturesGiveItsReferenceEvapotranspiration) {
  open_loop();
  // A day from 14 °C at night to 30 °C in the afternoon, read every 10 minutes.
  for (int minute = 0; minute <= 24 * 60 + 30; minute += 10) {
    const double hour = (clock_.wall_ms() / kMinute % (24 * 60)) / 60.0;
    write_bytes(dir_ / "air",
                std::to_string(static_cast<int>(22000 - 8000 * std::cos((hour - 3) / 24 * 2 * M_PI))));
    write_bytes(dir_ / "soil", minute % 20 == 0 ? "0.240\n" : "0.241\n");
    loop_->run_due();
    clock_.advance_ms(10 * kMinute);
  }
  auto telemetry = bodies(api::Stream::kTelemetry);
  ASSERT_FALSE(telemetry.empty());
  const Json& last = telemetry.back()["values"];
  ASSERT_TRUE(last.contains("et0_mm")) << last.dump();
  // 16 °C of daily range at 41.6° N in late November: a few mm a day at most.
  EXPECT_GT(last["et0_mm"].get<double>(), 0.5);
  EXPECT_LT(last["et0_mm"].get<double>(), 4);
  double warmest = 0;
  for (const Json& t : telemetry) warmest = std::max(warmest, t["values"].value("sensor.air.max", 0.0));
  EXPECT_NEAR(warmest, 30, 0.6);
}

// A loop woken late (a busy device, a simulated clock moving in steps of
// seconds) keeps its cadence: a reading every minute on the minute, not a
// minute after each late wake; one that fell more than a period behind
// skips what it missed rather than reading in a burst.
TEST_F(FieldLoopTest, LateWakesKeepTheSensorsCadence) {
  open_loop();
  const std::int64_t start = clock_.wall_ms();
  constexpr std::int64_t kLateMs = 20'000;
  std::int64_t due = loop_->run_due();
  for (int wake = 0; wake < 30; ++wake) {
    clock_.advance_ms(due + kLateMs - clock_.wall_ms());
    due = loop_->run_due();
  }
  std::vector<std::int64_t> soil_at;
  for (const Sent& sent : sent_)
    if (sent.stream == api::Stream::kReadings && sent.body["sensor"] == "soil-north")
      soil_at.push_back(sent.at_ms - start);
  ASSERT_EQ(soil_at.size(), 31u);
  for (std::size_t k = 1; k < soil_at.size(); ++k)
    EXPECT_EQ(soil_at[k], static_cast<std::int64_t>(k) * kMinute + kLateMs) << "reading " << k;

  // Five minutes behind: one reading now, the next a minute later.
  clock_.advance_ms(due + 5 * kMinute - clock_.wall_ms());
  const std::size_t before = sent_.size();
  EXPECT_EQ(loop_->run_due(), clock_.wall_ms() + kMinute);
  std::size_t soil_readings = 0;
  for (std::size_t i = before; i < sent_.size(); ++i)
    soil_readings += sent_[i].stream == api::Stream::kReadings && sent_[i].body["sensor"] == "soil-north";
  EXPECT_EQ(soil_readings, 1u);
}

}  // namespace
}  // namespace canopy::agent
