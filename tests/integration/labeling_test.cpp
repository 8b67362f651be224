// Labeling against the real server: a device's samples become tasks; people
// sign in (sessions with CSRF tokens), programs use API keys; a labeler
// labels and does nothing else; and in real Chromium a person labels three
// samples through the real page with the keyboard and the mouse, checked
// afterwards in the stored labels and revisions.
#include "api/labeling.h"

#include <opencv2/imgproc.hpp>

#include "api/samples.h"
#include "common/hash.h"
#include "common/keys.h"
#include "field_scene.h"
#include "fleet_fixture.h"
#include "package/package.h"
#include "vision/image_codec.h"

namespace canopy::testing {
namespace {

constexpr std::int64_t kT0 = 1'767'225'600'000;
constexpr const char* kLabelerPassword = "correct horse battery";

class LabelingTest : public FleetFixture {
 protected:
  void SetUp() override {
    FleetFixture::SetUp();
    device_ = enroll("cam", enrollment_token("north-field"));
  }

  // A field frame: soil with `plants` green discs, one per box the model proposes.
  static std::string field_jpeg(int seed) {
    cv::Mat image(240, 320, CV_8UC3, cv::Scalar(40, 70, 100));
    for (int i = 0; i < 3; ++i)
      cv::circle(image, {60 + 100 * i, 80 + 30 * ((seed + i) % 3)}, 28, cv::Scalar(40, 170 + 20 * i, 60),
                 cv::FILLED);
    return vision::encode_image(image, vision::ImageFormat::kJpeg, 85).value();
  }

  // Sample `n` of camera row-1: captured a minute after the one before, with
  // a selection score that puts it next in the queue, and the model's boxes.
  Json sample_record(int n) {
    api::Sample sample;
    sample.camera = "row-1";
    sample.captured_ms = kT0 + 60'000 * n;
    sample.id = api::sample_id(device_.id, sample.camera, sample.captured_ms);
    sample.field = "north";
    sample.zone = "zone-1";
    sample.model = "detector:2";
    sample.predictions = {{"diseased", 0.82, 0.10, 0.20, 0.30, 0.45},
                          {"healthy", 0.64, 0.45, 0.25, 0.65, 0.55},
                          {"healthy", 0.21, 0.75, 0.30, 0.95, 0.60}};
    sample.sensors = {{"soil-zone-1", 0.18}, {"air-temperature", 24.5}};
    sample.reasons = {{"uncertainty", 0.9 - 0.1 * n, "diseased at 0.82 near its threshold"}};
    sample.width = 320;
    sample.height = 240;
    sample.jpeg_base64 = base64_encode(field_jpeg(n));
    return {{"stream", "samples"}, {"seq", n + 1}, {"at_ms", sample.captured_ms}, {"body", sample.to_json()}};
  }

  void send_samples(int count) {
    Json records = Json::array();
    for (int n = 0; n < count; ++n) records.push_back(sample_record(n));
    auto sent = device_call(device_, "POST", "/api/v1/device/records", {{"records", records}});
    ASSERT_EQ(sent.status, 200) << sent.body;
  }

  std::string sample_of(int n) { return api::sample_id(device_.id, "row-1", kT0 + 60'000 * n); }

  void add_user(const std::string& name, const std::string& role) {
    auto added =
        admin("POST", "/api/v1/users", {{"name", name}, {"role", role}, {"password", kLabelerPassword}});
    ASSERT_EQ(added.status, 201) << added.body;
  }

  // curl with a cookie jar of its own per person.
  HttpResult as(const std::string& person, const std::string& args, const std::string& path) {
    const std::string jar = (work_ / ("cookies-" + person)).string();
    return curl("-b " + jar + " -c " + jar + " " + args, path);
  }

  std::string sign_in(const std::string& person) {
    auto signed_in = as(person,
                        "-H 'Content-Type: application/json' -d '{\"user\":\"" + person +
                            "\",\"password\":\"" + kLabelerPassword + "\"}'",
                        "/api/v1/session");
    EXPECT_EQ(signed_in.status, 201) << signed_in.body;
    return parse_json(signed_in.body).value().value("csrf_token", "");
  }

  api::LabelTask task(int n) {
    auto response = admin("GET", "/api/v1/labeling/tasks/" + sample_of(n));
    EXPECT_EQ(response.status, 200) << response.body;
    auto parsed = api::LabelTask::from_json(body_of(response));
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    return parsed.ok() ? *parsed : api::LabelTask{};
  }

  std::vector<api::LabelRevision> revisions(int n) {
    auto response = admin("GET", "/api/v1/labeling/tasks/" + sample_of(n) + "/revisions");
    EXPECT_EQ(response.status, 200) << response.body;
    std::vector<api::LabelRevision> out;
    const Json body = body_of(response);
    for (const Json& row : body["revisions"]) {
      auto revision = api::LabelRevision::from_json(row);
      EXPECT_TRUE(revision.ok()) << revision.error().message;
      if (revision.ok()) out.push_back(*revision);
    }
    return out;
  }

  SimDevice device_;
};

TEST_F(LabelingTest, ASessionChangesNothingWithoutItsCsrfTokenAndALabelerOnlyLabels) {
  send_samples(2);
  add_user("ana", "labeler");
  const std::string csrf = sign_in("ana");
  ASSERT_EQ(csrf.size(), 64u);

  const std::string json = "-H 'Content-Type: application/json' ";
  auto no_token = as("ana", json + "-X POST -d '{}'", "/api/v1/labeling/next");
  EXPECT_EQ(no_token.status, 403) << no_token.body;
  auto wrong_token = as("ana", json + "-H 'X-CSRF-Token: " + std::string(64, '0') + "' -X POST -d '{}'",
                        "/api/v1/labeling/next");
  EXPECT_EQ(wrong_token.status, 403);
  auto next = as("ana", json + "-H 'X-CSRF-Token: " + csrf + "' -X POST -d '{}'", "/api/v1/labeling/next");
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(parse_json(next.body).value()["task"]["sample_id"], sample_of(0));
  EXPECT_EQ(as("ana", "", "/api/v1/labeling/tasks/" + sample_of(0) + "/image").status, 200)
      << "reading needs no token";

  // A labeler reaches the labeling routes and nothing else.
  for (const char* path : {"/api/v1/keys", "/api/v1/users", "/api/v1/samples", "/api/v1/devices",
                           "/api/v1/models", "/api/v1/deployments"})
    EXPECT_EQ(as("ana", "", path).status, 403) << path;
  EXPECT_EQ(as("ana", json + "-H 'X-CSRF-Token: " + csrf + "' -d '{\"accept\":true}'",
               "/api/v1/labeling/tasks/" + sample_of(0) + "/review")
                .status,
            403)
      << "reviewing takes a publisher";

  // A bad submission is refused, naming what is wrong, and stores nothing.
  auto bad = as(
      "ana", json + "-H 'X-CSRF-Token: " + csrf + "' -d '{\"boxes\":[{\"label\":\"diseased\",\"score\":1}]}'",
      "/api/v1/labeling/tasks/" + sample_of(0) + "/submit");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("boxes[0]"), std::string::npos) << bad.body;
  EXPECT_TRUE(revisions(0).empty());

  // Signed out, the cookie is worth nothing, with or without the token.
  EXPECT_EQ(as("ana", "-X DELETE -H 'X-CSRF-Token: " + csrf + "'", "/api/v1/session").status, 200);
  EXPECT_EQ(
      as("ana", json + "-H 'X-CSRF-Token: " + csrf + "' -X POST -d '{}'", "/api/v1/labeling/next").status,
      401);
  // An admin changes ana's password: her sessions end and the new password signs her in.
  const std::string again = sign_in("ana");
  ASSERT_EQ(admin("PATCH", "/api/v1/users/ana", {{"password", "a whole new horse"}}).status, 200);
  EXPECT_EQ(
      as("ana", json + "-H 'X-CSRF-Token: " + again + "' -X POST -d '{}'", "/api/v1/labeling/next").status,
      401);
  EXPECT_EQ(admin("PATCH", "/api/v1/users/nobody", {{"role", "admin"}}).status, 404);
  auto wrong_password =
      curl("-H 'Content-Type: application/json' -d '{\"user\":\"ana\",\"password\":\"nope nope\"}'",
           "/api/v1/session");
  EXPECT_EQ(wrong_password.status, 401);

  // An API key with the labeler role works as a labeler too; a reader's does not label.
  auto key = admin("POST", "/api/v1/keys", {{"role", "labeler"}, {"name", "oracle"}});
  ASSERT_EQ(key.status, 201) << key.body;
  const std::string labeler_key = body_of(key).value("key", "");
  auto reader = admin("POST", "/api/v1/keys", {{"role", "reader"}, {"name", "viewer"}});
  const std::string reader_key = body_of(reader).value("key", "");
  EXPECT_EQ(curl(json + "-H 'X-API-KEY: " + labeler_key + "' -d '{}'", "/api/v1/labeling/next").status, 200);
  EXPECT_EQ(curl(json + "-H 'X-API-KEY: " + reader_key + "' -d '{}'", "/api/v1/labeling/next").status, 403);
  EXPECT_EQ(curl("-H 'X-API-KEY: " + labeler_key + "'", "/api/v1/samples").status, 403);
}

TEST_F(LabelingTest, AReviewerAcceptsWhatAnotherPersonLabeled) {
  send_samples(1);
  auto publisher = admin("POST", "/api/v1/keys", {{"role", "publisher"}, {"name", "reviewer"}});
  const std::string reviewer_key = body_of(publisher).value("key", "");
  ASSERT_EQ(admin("POST", "/api/v1/labeling/next").status, 200);
  auto submitted = admin(
      "POST", "/api/v1/labeling/tasks/" + sample_of(0) + "/submit",
      {{"boxes",
        Json::array(
            {{{"label", "diseased"}, {"score", 1}, {"x1", 0.1}, {"y1", 0.2}, {"x2", 0.3}, {"y2", 0.45}}})}});
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  auto reviewed = call("POST", "/api/v1/labeling/tasks/" + sample_of(0) + "/review", {{"accept", true}},
                       {"X-API-KEY: " + reviewer_key});
  ASSERT_EQ(reviewed.status, 200) << reviewed.body;
  EXPECT_EQ(task(0).state, "reviewed");
  auto stats = admin("GET", "/api/v1/labeling/stats");
  ASSERT_EQ(stats.status, 200);
  const Json accuracy = body_of(stats)["accuracy"][0];
  EXPECT_EQ(accuracy["model"], "detector:2");
  EXPECT_EQ(accuracy["corrections"]["accepted"], 1);
  EXPECT_EQ(accuracy["corrections"]["deleted"], 1) << "the healthy box at 0.64 was dropped";
}

TEST_F(LabelingTest, APersonLabelsThreeSamplesInChromiumWithTheKeyboardAndTheMouse) {
  send_samples(4);
  add_user("ana", "labeler");
  add_user("rex", "reader");
  std::string ids;
  for (int n = 0; n < 4; ++n) ids += (n ? "," : "") + sample_of(n);
  // CANOPY_SCREENSHOT_DIR, when set for this test, passes on: the page is
  // saved there (docs/screenshots/labeling-page.png comes from it).
  auto browser =
      run_shell("cd " + browser_tests_dir().string() + " && CANOPY_URL='" + server_->url() +
                "' CANOPY_LABELER=ana CANOPY_READER=rex CANOPY_PASSWORD='" + kLabelerPassword +
                "' CANOPY_SAMPLES='" + ids + "' node --test --test-reporter=spec labeling.test.mjs 2>&1");
  ASSERT_EQ(browser.exit_code, 0) << browser.output;

  // 1: the pre-labels accepted as they were.
  const api::LabelTask first = task(0);
  EXPECT_EQ(first.state, "labeled");
  EXPECT_EQ(first.labeled_by, "ana");
  ASSERT_EQ(first.labels.size(), 2u);
  EXPECT_EQ(first.labels[0].label, "diseased");
  EXPECT_DOUBLE_EQ(first.labels[0].x1, 0.10);
  const auto first_revisions = revisions(0);
  ASSERT_EQ(first_revisions.size(), 1u);
  EXPECT_EQ(first_revisions[0].corrections.accepted, 2);
  EXPECT_EQ(first_revisions[0].started_from, "prelabels");
  EXPECT_GT(first_revisions[0].spent_ms, 0);

  // 2: one box rejected, one given another class, one drawn with the mouse.
  const api::LabelTask second = task(1);
  ASSERT_EQ(second.labels.size(), 2u);
  EXPECT_EQ(second.labels[0].label, "water_stressed");
  EXPECT_DOUBLE_EQ(second.labels[0].x1, 0.45);
  EXPECT_EQ(second.labels[1].label, "healthy");
  EXPECT_NEAR(second.labels[1].x1, 0.75, 0.01);
  EXPECT_NEAR(second.labels[1].y1, 0.30, 0.01);
  EXPECT_NEAR(second.labels[1].x2, 0.95, 0.01);
  EXPECT_NEAR(second.labels[1].y2, 0.60, 0.01);
  const auto second_revisions = revisions(1);
  ASSERT_EQ(second_revisions.size(), 1u);
  const api::Corrections corrections = second_revisions[0].corrections;
  EXPECT_EQ(corrections.relabeled, 1);
  EXPECT_EQ(corrections.deleted, 1);
  EXPECT_EQ(corrections.added, 1);

  // 3: the previous image's boxes copied, and a box added and nudged with the keyboard.
  const api::LabelTask third = task(2);
  ASSERT_EQ(third.labels.size(), 3u);
  EXPECT_EQ(third.labels[0].label, "water_stressed");
  EXPECT_EQ(third.labels[2].label, "diseased");
  EXPECT_NEAR(third.labels[2].x1, 0.42, 1e-9);
  EXPECT_NEAR(third.labels[2].x2, 0.62, 1e-9);
  EXPECT_NEAR(third.labels[2].y2, 0.60, 1e-9) << "the resize was undone";
  const auto third_revisions = revisions(2);
  ASSERT_EQ(third_revisions.size(), 1u);
  EXPECT_EQ(third_revisions[0].started_from, "copy:" + sample_of(1));

  // 4 was shown, then given back when ana went to the previous task.
  EXPECT_EQ(task(3).state, "unlabeled");
  EXPECT_TRUE(revisions(3).empty());
}

// The simulation's oracle labels the queue from the world's ground truth
// (a simulation directory as canopy sim --world writes it), a dataset
// version is made of the labels and pulled as a YOLO directory, which the
// dataset reader takes back with every box.
TEST_F(LabelingTest, TheOracleLabelsFromTheTruthAndAVersionIsPulledAsYolo) {
  send_samples(3);
  const fs::path sim = work_ / "sim";
  fs::create_directories(sim / "device-1" / "data");
  write_bytes(sim / "device-1" / "data" / "enrollment.json", Json{{"device_id", device_.id}}.dump());
  std::string frames;
  for (int n = 0; n < 2; ++n)  // sample 2 has no frame in the truth: the oracle skips it
    frames += Json{{"file", "row-1-" + std::to_string(n) + ".jpg"},
                   {"camera", "row-1"},
                   {"at_ms", kT0 + 60'000 * n},
                   {"width", 640},
                   {"height", 480},
                   {"objects", Json::array({{{"label", "diseased"}, {"box", {64, 96, 192, 216}}},
                                            {{"label", "water_stressed"}, {"box", {288, 120, 416, 264}}}})}}
                  .dump() +
              "\n";
  write_bytes(sim / "truth" / "device-1" / "frames.jsonl", frames);

  auto oracle = cli("--json label auto --oracle " + sim.string());
  ASSERT_EQ(oracle.exit_code, 0) << oracle.output;
  const Json counted = parse_json(oracle.output.substr(oracle.output.find('{'))).value();
  EXPECT_EQ(counted["labeled"], 2);
  EXPECT_EQ(counted["skipped_without_truth"], 1);
  // Per frame the truth keeps the model's diseased box and calls its healthy one water-stressed.
  EXPECT_EQ(counted["corrections"]["accepted"], 2);
  EXPECT_EQ(counted["corrections"]["relabeled"], 2);
  EXPECT_EQ(task(0).labeled_by, "CANOPY_ADMIN_KEY");
  EXPECT_EQ(task(2).state, "skipped");

  auto created =
      cli("--json dataset version create field --label healthy --label diseased --label water_stressed");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const Json version = parse_json(created.output.substr(created.output.find('{'))).value();
  EXPECT_EQ(version["version"], 1);
  EXPECT_EQ(version["items"], 2);
  EXPECT_EQ(version["boxes_by_class"]["water_stressed"], 2);
  EXPECT_EQ(version["items_by_device"][device_.id], 2);
  EXPECT_EQ(version["sha256"].get<std::string>().size(), 64u);

  const fs::path out = work_ / "pulled";
  auto pulled = cli("dataset version pull field:1 --out " + out.string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  auto stats = cli("--json dataset stats " + out.string());
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  const Json read_back = parse_json(stats.output.substr(stats.output.find('{'))).value();
  EXPECT_EQ(read_back["images"], 2);
  EXPECT_EQ(read_back["objects"], 4);

  // A version is immutable: labels changed later make the next version, not this one.
  auto again = cli("--json dataset version create field --base field:1");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(parse_json(again.output.substr(again.output.find('{'))).value()["version"], 2);
  auto first = cli("--json dataset version show field:1");
  EXPECT_EQ(parse_json(first.output.substr(first.output.find('{'))).value()["sha256"], version["sha256"]);
  EXPECT_NE(cli("dataset version show field:9").exit_code, 0);
  EXPECT_NE(cli("dataset version create field --base nope:1").exit_code, 0);
}

// A dataset made elsewhere is imported as a named base; a malformed one
// fails at its file and line and makes no version; a version of the
// labeled samples on that base is pulled whole.
TEST_F(LabelingTest, ABaseDatasetIsImportedAndAVersionBuildsOnIt) {
  ASSERT_EQ(cli("dataset generate --out " + (work_ / "gen").string() + " --images 3 --seed 3 -q").exit_code,
            0);
  auto imported = cli("--json dataset version import " + (work_ / "gen").string() + " --name base");
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const Json base = parse_json(imported.output.substr(imported.output.find('{'))).value();
  EXPECT_EQ(base["version"], 1);
  EXPECT_EQ(base["items"], 3);
  EXPECT_EQ(base["labels"], Json::array({"healthy", "diseased", "water_stressed"}));

  fs::copy(work_ / "gen", work_ / "bad", fs::copy_options::recursive);
  write_bytes(work_ / "bad" / "labels" / "000001.txt", "0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n");
  auto refused = cli("dataset version import " + (work_ / "bad").string() + " --name base");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("000001.txt:2"), std::string::npos) << refused.output;
  auto listed = cli("--json dataset version list base");
  EXPECT_EQ(parse_json(listed.output.substr(listed.output.find('{'))).value()["versions"].size(), 1u)
      << "the malformed import made no version";

  // An image whose bytes are not its name, or no image at all, is refused and
  // kept nowhere; a version naming an image never imported is refused whole.
  write_bytes(work_ / "frame.jpg", field_jpeg(1));
  const std::string other_sha = sha256_hex("not this image");
  auto misnamed = curl("-X PUT --data-binary @" + (work_ / "frame.jpg").string() + " " + admin_header(),
                       "/api/v1/datasets/images/" + other_sha);
  EXPECT_EQ(misnamed.status, 400) << misnamed.body;
  EXPECT_EQ(curl(admin_header(), "/api/v1/datasets/images/" + other_sha).status, 404);
  write_bytes(work_ / "text.jpg", "just text");
  auto not_an_image = curl("-X PUT --data-binary @" + (work_ / "text.jpg").string() + " " + admin_header(),
                           "/api/v1/datasets/images/" + sha256_hex("just text"));
  EXPECT_EQ(not_an_image.status, 400) << not_an_image.body;
  auto dangling = admin("POST", "/api/v1/datasets/base/imports",
                        {{"labels", {"healthy"}},
                         {"items", Json::array({{{"sample_id", "import/base/x.jpg"},
                                                 {"image_sha256", other_sha},
                                                 {"width", 10},
                                                 {"height", 10},
                                                 {"boxes", Json::array()},
                                                 {"split", ""}}})}});
  EXPECT_EQ(dangling.status, 400) << dangling.body;
  EXPECT_NE(dangling.body.find("was not imported first"), std::string::npos) << dangling.body;
  listed = cli("--json dataset version list base");
  EXPECT_EQ(parse_json(listed.output.substr(listed.output.find('{'))).value()["versions"].size(), 1u);

  send_samples(2);
  for (int n = 0; n < 2; ++n) {
    ASSERT_EQ(admin("POST", "/api/v1/labeling/next").status, 200);
    auto submitted = admin("POST", "/api/v1/labeling/tasks/" + sample_of(n) + "/submit",
                           {{"boxes", Json::array({{{"label", "diseased"},
                                                    {"score", 1},
                                                    {"x1", 0.1},
                                                    {"y1", 0.2},
                                                    {"x2", 0.3},
                                                    {"y2", 0.45}}})}});
    ASSERT_EQ(submitted.status, 200) << submitted.body;
  }
  auto created =
      cli("--json dataset version create field --base base:1 --label healthy --label diseased "
          "--label water_stressed");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_EQ(parse_json(created.output.substr(created.output.find('{'))).value()["items"], 5);
  auto pulled = cli("dataset version pull field:1 --out " + (work_ / "pulled").string());
  ASSERT_EQ(pulled.exit_code, 0) << pulled.output;
  auto stats = cli("--json dataset stats " + (work_ / "pulled").string());
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_EQ(parse_json(stats.output.substr(stats.output.find('{'))).value()["images"], 5);
}

// Fresh pre-labels: the server runs the production version of the
// sample's model on the sample, through its own inference engine.
TEST_F(LabelingTest, TheServerPreLabelsWithTheProductionModel) {
  build_cell_detector(work_ / "cell");
  ASSERT_TRUE(package::create_package(work_ / "cell", work_ / "cell.zip", signing_key_).ok());
  ASSERT_EQ(cli("model push " + (work_ / "cell.zip").string()).exit_code, 0);

  api::Sample sample;
  sample.camera = "row-2";
  sample.captured_ms = kT0;
  sample.id = api::sample_id(device_.id, sample.camera, sample.captured_ms);
  sample.field = "north";
  sample.model = "cell-detector:1";
  sample.reasons = {{"uncertainty", 0.5, ""}};
  sample.width = kFrameSide;
  sample.height = kFrameSide;
  sample.jpeg_base64 = base64_encode(render_jpeg({{{1, 2}, Leaf::kDiseased}}, 1.0, 2.0, 1));
  auto sent = device_call(
      device_, "POST", "/api/v1/device/records",
      {{"records",
        Json::array({{{"stream", "samples"}, {"seq", 1}, {"at_ms", kT0}, {"body", sample.to_json()}}})}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  const std::string path = "/api/v1/labeling/tasks/" + sample.id + "/predict";

  auto no_alias = admin("POST", path);
  EXPECT_EQ(no_alias.status, 404) << no_alias.body;
  EXPECT_NE(no_alias.body.find("no production alias"), std::string::npos) << no_alias.body;

  ASSERT_EQ(cli("model alias set cell-detector 1 production").exit_code, 0);
  auto predicted = admin("POST", path);
  ASSERT_EQ(predicted.status, 200) << predicted.body;
  const Json answer = body_of(predicted);
  EXPECT_EQ(answer["model"], "cell-detector:1");
  // The diseased plant in row 1, column 2 of the 4x4 grid.
  bool found = false;
  for (const Json& box : answer["boxes"])
    found |= box["label"] == "diseased" && box["score"].get<double>() > 0.5 &&
             box["x1"].get<double>() > 0.5 && box["x2"].get<double>() < 0.75 &&
             box["y1"].get<double>() > 0.25 && box["y2"].get<double>() < 0.5;
  EXPECT_TRUE(found) << answer.dump();
  EXPECT_EQ(admin("POST", "/api/v1/labeling/tasks/" + device_.id + "/row-2/1/predict").status, 404);
}

}  // namespace
}  // namespace canopy::testing
