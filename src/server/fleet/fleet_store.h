// SQLite persistence of the fleet: enrollment tokens, devices, their recent
// status reports, every version of their field configurations, deployments
// and each deployment's member devices. The Fleet
// keeps all of it in memory and writes every change through here first, in
// one transaction per change, so memory never holds what the database lost.
// Thread-safety: one FleetStore per connection, used under the Fleet's
// database lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "server/fleet/fleet_model.h"
#include "server/storage/sqlite.h"

namespace canopy::server {

// How many status reports per device are kept for `GET /api/v1/devices/{id}`.
inline constexpr std::int64_t kReportsKept = 20;

struct FleetSnapshot {
  std::vector<EnrollmentToken> tokens;
  std::vector<Device> devices;
  std::vector<Deployment> deployments;                // oldest first, with their members
  std::vector<api::FieldConfigRecord> field_configs;  // each device's newest, with its text
};

class FleetStore {
 public:
  // Brings the fleet's tables on `db` to this server's fleet schema version.
  static Status migrate(Database& db);

  explicit FleetStore(Database db) : db_(std::move(db)) {}

  Result<FleetSnapshot> load();

  Result<Transaction> begin() { return Transaction::begin(db_); }
  // The row writers below run inside the caller's transaction.
  Status put_token(const EnrollmentToken& token);
  Status put_device(const Device& device);
  Status put_deployment(const Deployment& deployment);  // the row, not the members
  Result<std::int64_t> insert_deployment(const Deployment& deployment);
  Status put_member(std::int64_t deployment_id, const Member& member);
  // Stores a report as the device's report number `seq` and drops its older ones.
  Status add_report(const std::string& device_id, std::int64_t seq, const api::StatusReport& report,
                    std::int64_t received_ms);
  Status put_last_seen(const std::vector<std::pair<std::string, std::int64_t>>& last_seen);
  // A new version of a device's field configuration (with its text).
  Status add_field_config(const api::FieldConfigRecord& record);

  // Version `version` of the device's field configuration, with its text;
  // nullopt when there is none.
  Result<std::optional<api::FieldConfigRecord>> field_config(const std::string& device_id,
                                                             std::int64_t version);

  // The device's newest reports, newest first, each with "received_at".
  Result<std::vector<api::DeviceInfo::ReceivedReport>> recent_reports(const std::string& device_id);

 private:
  Database db_;
};

}  // namespace canopy::server
