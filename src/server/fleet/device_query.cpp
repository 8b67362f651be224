#include "server/fleet/device_query.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "common/text.h"

namespace canopy::server {

namespace {

constexpr std::array<std::pair<Presence, std::string_view>, 3> kPresenceNames = {
    {{Presence::kOnline, "online"}, {Presence::kStale, "stale"}, {Presence::kNever, "never"}}};

constexpr std::array<std::pair<DeviceSort, std::string_view>, 8> kSortNames = {{
    {DeviceSort::kId, "id"},
    {DeviceSort::kName, "name"},
    {DeviceSort::kGroup, "group"},
    {DeviceSort::kStatus, "status"},
    {DeviceSort::kModel, "model"},
    {DeviceSort::kState, "state"},
    {DeviceSort::kHealth, "health"},
    {DeviceSort::kLastSeen, "last_seen"},
}};

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string model_label(const Device& device) { return device.current ? device.current->label() : "none"; }

// What the text filter searches, lowercased; one string so a word is looked
// for once per device.
std::string haystack(const Device& device) {
  std::string text = device.id + '\n' + device.name + '\n' + device.group + '\n' + model_label(device) +
                     '\n' + std::string(api::device_status_name(device.status)) + '\n' +
                     std::string(api::report_state_name(device.state)) + '\n' + device.health;
  for (const auto& [key, value] : device.tags) text += '\n' + key + ':' + value;
  return lowercase(text);
}

bool tag_matches(const Device& device, const std::string& tag) {
  const auto colon = tag.find(':');
  auto it = device.tags.find(tag.substr(0, colon));
  if (it == device.tags.end()) return false;
  return colon == std::string::npos || it->second == tag.substr(colon + 1);
}

bool model_matches(const Device& device, const std::string& model) {
  if (model == "none") return !device.current;
  if (!device.current) return false;
  return model.find(':') == std::string::npos ? device.current->name == model
                                              : device.current->label() == model;
}

// Orders by the sort key alone; select_devices breaks ties by id.
int compare_by(DeviceSort sort, const Device& a, const Device& b) {
  auto three_way = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (sort) {
    case DeviceSort::kId:
      return 0;
    case DeviceSort::kName:
      return three_way(a.name, b.name);
    case DeviceSort::kGroup:
      return three_way(a.group, b.group);
    case DeviceSort::kStatus:
      return three_way(static_cast<int>(a.status), static_cast<int>(b.status));
    case DeviceSort::kModel: {
      // Versions in number order: v10 after v9.
      auto key = [](const Device& d) {
        return d.current ? std::make_pair(d.current->name, d.current->version)
                         : std::make_pair(std::string(), std::int64_t{0});
      };
      return three_way(key(a), key(b));
    }
    case DeviceSort::kState:
      return three_way(static_cast<int>(a.state), static_cast<int>(b.state));
    case DeviceSort::kHealth:
      return three_way(a.health, b.health);
    case DeviceSort::kLastSeen:
      return three_way(a.last_seen_ms, b.last_seen_ms);
  }
  return 0;
}

}  // namespace

std::string_view presence_name(Presence presence) {
  for (const auto& [value, name] : kPresenceNames)
    if (value == presence) return name;
  return "never";
}

std::optional<Presence> parse_presence(std::string_view text) {
  for (const auto& [value, name] : kPresenceNames)
    if (name == text) return value;
  return std::nullopt;
}

Presence presence(const Device& device, std::int64_t now_ms, std::int64_t stale_after_ms) {
  if (device.last_seen_ms <= 0) return Presence::kNever;
  return now_ms - device.last_seen_ms > stale_after_ms ? Presence::kStale : Presence::kOnline;
}

Result<DeviceQuery> parse_device_query(const std::map<std::string, std::string>& params) {
  DeviceQuery query;
  auto param = [&params](const char* name) {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  };
  auto invalid = [](const std::string& message) { return make_error(ErrorCode::kInvalidArgument, message); };

  query.text = lowercase(trim(param("q")));
  query.group = param("group");
  query.tag = param("tag");
  query.model = param("model");
  query.health = param("health");
  if (const std::string text = param("status"); !text.empty()) {
    query.status = api::parse_device_status(text);
    if (!query.status)
      return invalid("status '" + text + "' must be pending, active, revoked or decommissioned");
  }
  if (const std::string text = param("presence"); !text.empty()) {
    query.presence = parse_presence(text);
    if (!query.presence) return invalid("presence '" + text + "' must be online, stale or never");
  }
  if (const std::string text = param("sort"); !text.empty()) {
    auto it = std::find_if(kSortNames.begin(), kSortNames.end(),
                           [&text](const auto& s) { return s.second == text; });
    if (it == kSortNames.end())
      return invalid("sort '" + text +
                     "' must be id, name, group, status, model, state, health or last_seen");
    query.sort = it->first;
  }
  if (const std::string text = param("order"); !text.empty()) {
    if (text != "asc" && text != "desc") return invalid("order '" + text + "' must be asc or desc");
    query.descending = text == "desc";
  }
  if (const std::string text = param("offset"); !text.empty()) {
    auto offset = parse_int(text);
    if (!offset || *offset < 0) return invalid("offset '" + text + "' must be a whole number, 0 or more");
    query.offset = static_cast<std::size_t>(*offset);
  }
  if (const std::string text = param("limit"); !text.empty()) {
    auto limit = parse_int(text);
    if (!limit || *limit < 1 || *limit > static_cast<std::int64_t>(kMaxDevicePage))
      return invalid("limit '" + text + "' must be a whole number from 1 to " +
                     std::to_string(kMaxDevicePage));
    query.limit = static_cast<std::size_t>(*limit);
  }
  return query;
}

bool device_matches(const Device& device, const DeviceQuery& query, std::int64_t now_ms,
                    std::int64_t stale_after_ms) {
  if (query.status && device.status != *query.status) return false;
  if (query.presence && presence(device, now_ms, stale_after_ms) != *query.presence) return false;
  if (!query.group.empty() && device.group != query.group) return false;
  if (!query.tag.empty() && !tag_matches(device, query.tag)) return false;
  if (!query.model.empty() && !model_matches(device, query.model)) return false;
  if (!query.health.empty() && device.health != query.health) return false;
  if (query.text.empty()) return true;
  const std::string text = haystack(device);
  for (const std::string& word : split(query.text, ' '))
    if (text.find(word) == std::string::npos) return false;
  return true;
}

DeviceSelection select_devices(const std::vector<const Device*>& devices, const DeviceQuery& query,
                               std::int64_t now_ms, std::int64_t stale_after_ms) {
  DeviceSelection selection;
  for (const Device* device : devices)
    if (device_matches(*device, query, now_ms, stale_after_ms)) selection.page.push_back(device);
  selection.total = selection.page.size();

  auto before = [&query](const Device* a, const Device* b) {
    int order = compare_by(query.sort, *a, *b);
    if (order == 0) order = a->id < b->id ? -1 : (b->id < a->id ? 1 : 0);
    return query.descending ? order > 0 : order < 0;
  };
  const std::size_t begin = std::min(query.offset, selection.total);
  const std::size_t end = query.limit ? std::min(selection.total, begin + *query.limit) : selection.total;
  // Only the rows up to the page's end need to be in order.
  std::partial_sort(selection.page.begin(), selection.page.begin() + static_cast<std::ptrdiff_t>(end),
                    selection.page.end(), before);
  selection.page.erase(selection.page.begin() + static_cast<std::ptrdiff_t>(end), selection.page.end());
  selection.page.erase(selection.page.begin(), selection.page.begin() + static_cast<std::ptrdiff_t>(begin));
  return selection;
}

Json summarize_devices(const std::vector<const Device*>& devices, std::int64_t now_ms,
                       std::int64_t stale_after_ms) {
  std::map<std::string, std::int64_t> by_status, by_presence, by_state, by_health, by_model, by_group;
  for (const Device* device : devices) {
    ++by_status[std::string(api::device_status_name(device->status))];
    if (device->status != DeviceStatus::kActive && device->status != DeviceStatus::kPending) continue;
    ++by_presence[std::string(presence_name(presence(*device, now_ms, stale_after_ms)))];
    ++by_state[std::string(api::report_state_name(device->state))];
    ++by_health[device->health.empty() ? "unknown" : device->health];
    ++by_model[model_label(*device)];
    ++by_group[device->group];
  }
  return {{"total", devices.size()}, {"by_status", by_status}, {"by_presence", by_presence},
          {"by_state", by_state},    {"by_health", by_health}, {"by_model", by_model},
          {"by_group", by_group}};
}

}  // namespace canopy::server
