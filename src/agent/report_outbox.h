// Status reports survive being offline: the latest report waits in
// DATA/report.json until the server has accepted it. Only the latest is
// kept, because each report carries the device's whole state (current and
// previous model, state, error), so a newer one makes older ones redundant.
// Thread-safety: used by the updater thread only.
#pragma once

#include <filesystem>
#include <optional>

#include "agent/device_client.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::agent {

class ReportOutbox {
 public:
  ReportOutbox(const std::filesystem::path& data_dir, DeviceClient& client);

  // Stores `report` durably, replacing a pending one, without sending it.
  Status store(const api::StatusReport& report);
  // Stores `report` (replacing a pending one) and tries to send it.
  // Fails only when it cannot be stored; a send failure leaves it pending.
  Status post(const api::StatusReport& report);
  // Sends the pending report, if any. kNetwork when the server is unreachable.
  Status flush();

 private:
  std::optional<api::StatusReport> pending() const;
  std::filesystem::path path_;
  DeviceClient& client_;
};

}  // namespace canopy::agent
