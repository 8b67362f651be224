// One install function per area, each registering that area's routes
// through Routes, which has every route declare who may call it
// (route_table.h; docs/api.md, docs/fleet.md). A new area adds its routes
// file here and a line in http_server.cpp.
// Private to src/server/http/.
// Thread-safety: handlers run on httplib's workers; every area is thread-safe.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <filesystem>

#include "server/auth/accounts.h"
#include "server/auth/api_keys.h"
#include "server/auth/audit_log.h"
#include "server/auth/failure_limiter.h"
#include "server/datasets/dataset_versions.h"
#include "server/field_data/field_data.h"
#include "server/fleet/fleet.h"
#include "server/http/change_feed.h"
#include "server/http/middleware.h"
#include "server/http/request_metrics.h"
#include "server/http/route_table.h"
#include "server/labeling/label_queue.h"
#include "server/prelabel/prelabeler.h"
#include "server/registry/registry.h"
#include "server/retrain/drift_monitor.h"
#include "server/retrain/retrain_jobs.h"
#include "server/runs/run_records.h"
#include "server/samples/sample_store.h"

namespace canopy::server {

// Models, versions, packages, aliases, uploads and the publisher key.
void install_registry_routes(Routes& routes, Registry& registry, std::uint64_t max_upload_bytes);
// An upload route (PUT /NAME.zip, POST /api/v1/models/NAME/versions).
bool is_upload_route(const httplib::Request& req);
Error upload_too_large(std::uint64_t max_upload_bytes);

// API keys and the audit log (admin).
void install_auth_routes(Routes& routes, ApiKeys& keys, AuditLog& audit);

// Pipeline run records.
void install_runs_routes(Routes& routes, RunRecords& runs);

// Enrollment and the device API (device tokens), and the operator API for
// enrollment tokens, devices and deployments (API keys). Device packages are
// served from the registry's blob store.
void install_fleet_routes(Routes& routes, Fleet& fleet, Registry& registry);

// The records devices send (device tokens, checked by the fleet; samples go
// to the sample store) and what operators read of them, and alerts (API keys).
void install_field_data_routes(Routes& routes, Fleet& fleet, FieldData& field_data, SampleStore& samples,
                               DriftMonitor& drift);

// The samples devices kept, their images and the store's statistics (API
// keys); the shadow model's agreement comes from the devices' telemetry.
void install_samples_routes(Routes& routes, SampleStore& samples, FieldData& field_data);

// Signing in and out of the web pages, and the admin's list of users.
void install_session_routes(Routes& routes, Accounts& accounts, Clock& clock);

// The labeling queue: next task, submit, skip, reject, release, review,
// revisions and statistics; the task's image from the sample store, and
// fresh pre-labels of the production model.
void install_labeling_routes(Routes& routes, LabelQueue& queue, SampleStore& samples, Prelabeler& prelabeler);

// Dataset versions: create (publisher), list and show with items (reader).
// Imports (publisher): images one by one, then the version; images by hash
// (reader), imported ones or samples'.
void install_dataset_routes(Routes& routes, DatasetVersions& datasets, SampleStore& samples);

// The closed loop: retrain policies (admin to set, reader to read), jobs
// (workers with publisher keys claim, heartbeat and complete them; people
// request, cancel, approve and decline), drift reports and alerts, and the
// lineage of a model version or a sample.
void install_retrain_routes(Routes& routes, RetrainJobs& jobs, DriftMonitor& drift);

// GET /api/v1/events: `feed` as Server-Sent Events, at most `max_streams` at once.
void install_event_routes(Routes& routes, ChangeFeed& feed, int max_streams, Clock& clock);

// What GET /metrics counts; each must outlive the routes.
struct MetricsSources {
  const RequestMetrics& requests;
  const FailureLimiter& failures;
  Fleet& fleet;
  LabelQueue& labeling;
  RetrainJobs& retrain;
  RunRecords& runs;
};

// GET /metrics (reader): the server's metrics in the Prometheus text format.
void install_metrics_routes(Routes& routes, const MetricsSources& sources);

// The web pages under /label/ and /assets/ from `web_dir`; kNotFound when
// the directory does not hold them.
Status install_web_files(Routes& routes, const std::filesystem::path& web_dir);

}  // namespace canopy::server
