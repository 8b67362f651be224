// Finding devices in a fleet of thousands (docs/fleet.md, "Listing
// devices"): the filter, sort and paging behind GET /api/v1/devices and the
// dashboard's devices page, and the counts behind its overview. The server
// does this work, so a browser never downloads 10,000 rows to show 50.
//
// Pure functions of the devices and the time: the Fleet calls them under its
// state lock, on its in-memory devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "server/fleet/fleet_model.h"

namespace canopy::server {

// Whether a device has been heard from lately. A device is stale once it has
// missed a few polls: one late poll is a slow network, not a lost device.
enum class Presence { kOnline, kStale, kNever };
std::string_view presence_name(Presence presence);
std::optional<Presence> parse_presence(std::string_view text);
Presence presence(const Device& device, std::int64_t now_ms, std::int64_t stale_after_ms);

enum class DeviceSort { kId, kName, kGroup, kStatus, kModel, kState, kHealth, kLastSeen };

struct DeviceQuery {
  // Filter-as-you-type: every word (case-insensitive) must occur in one of the
  // id, name, group, tags ("key:value"), model ("name@version"), status,
  // reported state or health.
  std::string text;
  std::optional<DeviceStatus> status;
  std::optional<Presence> presence;
  std::string group;
  std::string tag;     // "key" or "key:value"
  std::string model;   // "name", "name@version", or "none" for devices running no model
  std::string health;  // as the device reports it: "ok", "no-model"
  DeviceSort sort = DeviceSort::kId;
  bool descending = false;
  std::size_t offset = 0;
  std::optional<std::size_t> limit;  // none: every matching device
};

// The largest page one request may ask for.
inline constexpr std::size_t kMaxDevicePage = 1000;

// A query from URL parameters (q, status, presence, group, tag, model, health,
// sort, order, offset, limit); kInvalidArgument names the parameter and what
// it may be.
Result<DeviceQuery> parse_device_query(const std::map<std::string, std::string>& params);

bool device_matches(const Device& device, const DeviceQuery& query, std::int64_t now_ms,
                    std::int64_t stale_after_ms);

struct DeviceSelection {
  std::vector<const Device*> page;  // sorted, offset and limit applied
  std::size_t total = 0;            // how many matched, before paging
};

// Filters, sorts (ties broken by id, so pages never overlap) and pages.
DeviceSelection select_devices(const std::vector<const Device*>& devices, const DeviceQuery& query,
                               std::int64_t now_ms, std::int64_t stale_after_ms);

// The overview's counts: devices by status, presence, reported state and
// health, by model version ("name:version", or "none") and by group (the
// field). Only devices that are pending or active count towards all but
// status.
Json summarize_devices(const std::vector<const Device*>& devices, std::int64_t now_ms,
                       std::int64_t stale_after_ms);

}  // namespace canopy::server
