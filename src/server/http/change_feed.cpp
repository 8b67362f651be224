#include "server/http/change_feed.h"

#include <algorithm>

namespace canopy::server {

std::optional<std::string> change_topic(std::string_view path) {
  constexpr std::string_view kApi = "/api/v1/";
  if (!path.starts_with(kApi)) return "models";  // the pipeline-compatible upload, PUT /repository/{file}.zip
  std::string_view rest = path.substr(kApi.size());
  const std::string_view area = rest.substr(0, rest.find('/'));
  if (area == "session") return std::nullopt;
  if (area == "keys" || area == "users") return "access";
  if (area == "enroll" || area == "enrollment-tokens") return "devices";
  if (area == "device") {
    // What a device sent: "device/status" (an update report), "device/records", ...
    rest = rest.substr(area.size());
    return "device" + std::string(rest.substr(0, rest.find('/', 1)));
  }
  return std::string(area);
}

void ChangeFeed::publish(std::string topic, std::string method, std::string path) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back({++last_id_, std::move(topic), std::move(method), std::move(path)});
    if (events_.size() > capacity_) events_.pop_front();
  }
  changed_.notify_all();
}

ChangeFeed::Batch ChangeFeed::wait_after(std::int64_t last_id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || last_id_ != last_id; });
  Batch batch;
  batch.closed = closed_;
  // An id ahead of ours is from before a restart; one older than the ring's
  // oldest has lost events in between.
  const std::int64_t oldest = events_.empty() ? last_id_ + 1 : events_.front().id;
  if (last_id > last_id_ || last_id + 1 < oldest) {
    batch.gap = true;
    return batch;
  }
  for (auto it = events_.begin() + (last_id + 1 - oldest); it != events_.end(); ++it)
    batch.events.push_back(*it);
  return batch;
}

std::int64_t ChangeFeed::last_id() const {
  std::lock_guard lock(mutex_);
  return last_id_;
}

void ChangeFeed::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

bool ChangeFeed::try_open_stream(int max) {
  std::lock_guard lock(mutex_);
  if (open_streams_ >= max) return false;
  ++open_streams_;
  return true;
}

void ChangeFeed::close_stream() {
  std::lock_guard lock(mutex_);
  open_streams_ = std::max(0, open_streams_ - 1);
}

int ChangeFeed::open_streams() const {
  std::lock_guard lock(mutex_);
  return open_streams_;
}

}  // namespace canopy::server
