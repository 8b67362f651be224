// libFuzzer target over the JSON bodies that cross programs (src/api/):
// samples, status reports, telemetry and record batches a device sends,
// the desired state, enrollment and deployments it is answered with, and
// the labeling, dataset, drift and retrain bodies clients send the server.
// Each is read from whoever is on the other end of a connection, so every
// from_json gets the parsed bytes: any input must end in a value or an
// Error, never a crash, a leak or a hang. A body that parses must be read
// back from its own to_json (one JSON form per type). Run by the
// api_json_fuzz test over tests/fuzz/corpus/api_json/.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/datasets.h"
#include "api/deployment.h"
#include "api/device.h"
#include "api/device_data.h"
#include "api/drift.h"
#include "api/field_data.h"
#include "api/labeling.h"
#include "api/retrain.h"
#include "api/samples.h"
#include "common/json.h"

namespace {

// A body that parses must be read back from its own JSON form.
template <typename Body>
void read_as(const canopy::Json& json) {
  auto value = Body::from_json(json);
  if (!value.ok()) return;
  if (!Body::from_json(value->to_json()).ok()) std::abort();
}

template <typename... Body>
void read_each(const canopy::Json& json) {
  (read_as<Body>(json), ...);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  namespace api = canopy::api;
  auto json = canopy::parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!json.ok()) return 0;
  (void)api::boxes_from_json(*json, "predictions");
  read_each<api::Sample, api::SampleBox, api::SampleReason, api::StoredSample, api::SampleStats,
            api::StatusReport, api::DesiredState, api::EnrollmentTokenRequest, api::EnrollRequest,
            api::Enrollment, api::FieldConfigRecord, api::DeviceInfo, api::Reading, api::AlertEvent,
            api::ActuationEvent, api::PlantChangeEvent, api::Telemetry, api::FrameImage, api::DeviceRecord,
            api::RecordBatch, api::RecordAck, api::StoredReading, api::StoredTelemetry, api::StoredActuation,
            api::StoredPlantChange, api::Alert, api::DeploymentTarget, api::RolloutStrategy,
            api::DeploymentRequest, api::DeploymentStatus, api::Corrections, api::LabelSubmission,
            api::LabelRevision, api::LabelTask, api::TaskFilter, api::ModelAccuracy, api::LabelingStats,
            api::DatasetItem, api::DatasetVersionRequest, api::DatasetVersion, api::DriftMeasure,
            api::DriftReport, api::DriftAlert, api::RetrainPolicy, api::RetrainJob, api::JobLease,
            api::JobOutcome>(*json);
  return 0;
}
