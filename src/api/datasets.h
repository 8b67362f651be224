// Dataset versions (docs/labeling.md, "Datasets"): immutable snapshots of
// labeled field samples, with other versions as bases (the data a model
// was first trained on, an earlier snapshot), a content hash, splits that
// follow each image's hash, class statistics and lineage. Each type has one
// JSON form: to_json() writes it, from_json() reads it and names the field
// it gets wrong.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "api/samples.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::api {

// One labeled image of a version: boxes in 0-1 coordinates of the image.
struct DatasetItem {
  std::string sample_id;
  std::string image_sha256;
  int width = 0, height = 0;
  std::vector<SampleBox> boxes;
  std::string split;  // train, val or test, by the image's hash
  std::string labeled_by;
  std::string device_id;
  std::string field;

  Json to_json() const;
  static Result<DatasetItem> from_json(const Json& json);
};

// What a new version is made of.
struct DatasetVersionRequest {
  std::vector<std::string> labels;  // class order; empty: every class the items use, sorted
  std::vector<std::string> bases;   // "NAME:VERSION" of versions whose items are included
  std::string field;                // only samples of this field; empty: all
  bool reviewed_only = false;       // only reviewed samples (else labeled and reviewed)
  double val_fraction = 0.2;
  double test_fraction = 0.1;

  Json to_json() const;
  static Result<DatasetVersionRequest> from_json(const Json& json);
};

struct DatasetVersion {
  std::string name;
  std::int64_t version = 0;
  std::string created_at;
  std::string created_by;
  std::string sha256;  // of the items' images and labels, in sample id order
  DatasetVersionRequest request;
  std::vector<std::string> labels;
  std::int64_t items = 0;
  std::map<std::string, std::int64_t> boxes_by_class;
  std::map<std::string, std::int64_t> items_by_split;
  std::map<std::string, std::int64_t> items_by_labeler;  // lineage: who labeled
  std::map<std::string, std::int64_t> items_by_device;   // lineage: which devices sent them
  std::vector<DatasetItem> item_list;                    // filled when asked for one version

  std::string ref() const { return name + ":" + std::to_string(version); }
  Json to_json() const;
  static Result<DatasetVersion> from_json(const Json& json);
};

// "NAME:VERSION" -> its parts; NAME as a model name (letters, digits, '.', '_', '-').
Result<std::pair<std::string, std::int64_t>> parse_dataset_ref(std::string_view text);

}  // namespace canopy::api
