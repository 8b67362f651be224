#include "server/fleet/fleet_model.h"

#include "common/time.h"

namespace canopy::server {

api::DeviceInfo Device::info() const {
  api::DeviceInfo out;
  out.id = id;
  out.name = name;
  out.group = group;
  out.status = status;
  out.tags = tags;
  out.agent_version = agent_version;
  out.current = current;
  out.previous = previous;
  out.state = state;
  out.health = health;
  out.last_error = last_error;
  if (last_seen_ms > 0) out.last_seen = format_utc(last_seen_ms);
  out.enrolled_at = enrolled_at;
  out.deployment = deployment;
  return out;
}

Json EnrollmentToken::to_json() const {
  return {{"id", id},
          {"group", group},
          {"approval", approval == Approval::kAuto ? "auto" : "manual"},
          {"expires_at", format_utc(expires_ms)},
          {"max_uses", max_uses},
          {"uses", uses},
          {"created_at", created_at},
          {"created_by", created_by}};
}

bool targets(const DeploymentTarget& target, const Device& device) {
  if (!target.devices.empty()) return target.devices.count(device.id) > 0;
  if (!target.group.empty()) return device.group == target.group;
  for (const auto& [key, value] : target.tags) {
    auto it = device.tags.find(key);
    if (it == device.tags.end() || it->second != value) return false;
  }
  return !target.tags.empty();
}

bool is_failure_state(std::string_view state) { return state == "failed" || state == "rolled-back"; }

Member* Deployment::member(const std::string& device_id) {
  auto it = member_index.find(device_id);
  return it == member_index.end() ? nullptr : &members[it->second];
}

Member& Deployment::add_member(const std::string& device_id) {
  if (Member* existing = member(device_id)) return *existing;
  Member m;
  m.device_id = device_id;
  m.seq = static_cast<std::int64_t>(members.size());
  member_index[device_id] = members.size();
  members.push_back(std::move(m));
  return members.back();
}

}  // namespace canopy::server
