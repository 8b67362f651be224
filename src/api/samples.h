// Samples: the frames a device's hard-case selection kept (docs/samples.md),
// with what the model proposed on them, what the sensors read at that
// moment and why they were picked. A device sends a Sample as a record of
// its lowest outbox stream (api::Stream::kSamples); the server's sample
// store keeps the image in its blob store and the rest as a row, and
// answers StoredSample, SampleStats and the image to operators and to the
// labeling queue. Each type has one JSON form: to_json() writes it,
// from_json() reads it and names the field it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// One box the model proposed, with its raw score (from before the model's
// confidence threshold), in 0-1 coordinates of the image so that it holds
// however the image is resized. These become the labeler's pre-labels.
struct SampleBox {
  std::string label;
  double score = 0;
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;

  Json to_json() const;
  static Result<SampleBox> from_json(const Json& json);
};

// A list of boxes in the JSON member `field` of `json` (absent: none), at
// most kMaxSampleBoxes; errors name the box. And the list's JSON form.
Result<std::vector<SampleBox>> boxes_from_json(const Json& json, std::string_view field);
Json boxes_to_json(const std::vector<SampleBox>& boxes);

// Why a sample was kept: a strategy's name (collect::strategy_name) and its
// score (0-1, higher is harder), with a word on what it saw.
struct SampleReason {
  std::string strategy;
  double score = 0;
  std::string detail;

  Json to_json() const;
  static Result<SampleReason> from_json(const Json& json);
};

// A sample's id is "DEVICE/CAMERA/CAPTURED_MS": unique per device, and it
// names its device, so a device cannot send one under another's name.
std::string sample_id(std::string_view device_id, std::string_view camera, std::int64_t captured_ms);

inline constexpr std::size_t kMaxSampleBoxes = 300;
inline constexpr std::size_t kMaxSampleJpegBase64 = 2u << 20;

// What a device sends.
struct Sample {
  std::string id;  // sample_id()
  std::string field;
  std::string camera;
  std::string zone;
  std::int64_t captured_ms = 0;  // device clock, Unix ms
  std::string model;             // ModelRef::label() (NAME:VERSION) of the model that judged it; empty: none
  std::vector<SampleBox> predictions;
  // The previous model's boxes when it ran in shadow on this frame.
  std::optional<std::vector<SampleBox>> shadow_predictions;
  std::string shadow_model;
  std::map<std::string, double> sensors;  // valid readings of that moment, by sensor name
  std::vector<SampleReason> reasons;      // never empty
  bool random = false;                    // kept by the random slice: an unbiased draw
  std::string phash;                      // 16 hex digits (collect::perceptual_hash)
  int width = 0, height = 0;
  std::string jpeg_base64;

  Json to_json() const;
  static Result<Sample> from_json(const Json& json);
};

// A sample as the server keeps it: everything but the image bytes, which
// are answered by GET /api/v1/samples/{id}/image (and /thumbnail).
struct StoredSample {
  std::string device_id;
  Sample sample;  // jpeg_base64 empty
  std::string image_sha256;
  std::int64_t image_bytes = 0;
  std::string received_at;  // server clock, UTC text
  std::string label_state = "unlabeled";

  Json to_json() const;
  static Result<StoredSample> from_json(const Json& json);
};

// Which samples to answer, newest first. Empty strings and unset values do
// not filter. Paging: `before` is the last id of the previous page.
struct SampleQuery {
  std::string device_id;
  std::string field;
  std::string camera;
  std::string strategy;
  std::string model;
  std::string predicted_class;  // a box of this label scored at least min_score
  double min_score = 0;
  std::optional<bool> random;
  std::int64_t since_ms = 0;             // captured at or after
  std::optional<std::int64_t> until_ms;  // captured before
  std::string before;                    // page after this id
  int limit = 100;

  // From the query parameters of GET /api/v1/samples; names the bad one.
  static Result<SampleQuery> from_params(const std::map<std::string, std::string>& params);
  std::map<std::string, std::string> to_params() const;
};

// What the store holds, and the shadow model's agreement per device (the
// share of frames on which the device's previous model agreed with the
// active one, from the devices' telemetry).
struct SampleStats {
  std::int64_t samples = 0;
  std::int64_t bytes = 0;  // images, each stored once
  std::int64_t random = 0;
  std::map<std::string, std::int64_t> by_strategy;
  std::map<std::string, std::int64_t> by_device;
  std::map<std::string, std::int64_t> by_predicted_class;  // the top box's label; "none" without one
  std::map<std::string, double> shadow_agreement;          // by device

  Json to_json() const;
  static Result<SampleStats> from_json(const Json& json);
};

}  // namespace canopy::api
