#include "outbox/outbox.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <optional>
#include <system_error>

#include "outbox/segment.h"

namespace canopy::outbox {

namespace fs = std::filesystem;
using api::Stream;

namespace {

constexpr int kStateFormat = 1;
constexpr std::string_view kSegmentSuffix = ".seg";

int priority_of(Stream stream) { return static_cast<int>(stream); }

// Named by the seq of its first record, zero-padded, so names sort in seq order.
std::string segment_name(std::int64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(first_seq));
  return std::string(name) + std::string(kSegmentSuffix);
}

Error fs_error(std::string_view what, const fs::path& path, const std::error_code& error) {
  return make_error(ErrorCode::kIo, std::string(what) + " " + path.string() + ": " + error.message());
}

}  // namespace

struct Outbox::StreamState {
  std::deque<Segment> segments;         // oldest first
  std::optional<SegmentWriter> writer;  // when set, appends go to segments.back()
  bool unsynced = false;                // the writer holds frames not yet fsynced
  std::int64_t next_seq = 1;
  std::int64_t acked_seq = 0;
  std::int64_t floor_seq = 0;  // the highest seq whose segment was deleted unacknowledged
  std::int64_t evicted_records = 0;
  std::int64_t evicted_segments = 0;
  std::int64_t refused_records = 0;
};

Outbox::Outbox(fs::path dir, OutboxOptions options, FileLock lock)
    : dir_(std::move(dir)), options_(options), lock_(std::move(lock)) {
  for (Stream stream : api::kStreams) streams_[stream] = std::make_unique<StreamState>();
}

Outbox::~Outbox() {
  // A clean stop makes every stream durable, not only alerts and actuations.
  std::lock_guard lock(mutex_);
  for (auto& [stream, state] : streams_)
    if (state->writer && state->unsynced) (void)state->writer->sync();
}

Result<std::unique_ptr<Outbox>> Outbox::open(const fs::path& dir, OutboxOptions options) {
  if (options.max_bytes == 0 || options.segment_bytes == 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "the outbox's max_bytes and segment_bytes must be positive");
  std::error_code error;
  for (Stream stream : api::kStreams) {
    fs::create_directories(dir / std::string(api::stream_name(stream)), error);
    if (error) return fs_error("cannot create the outbox directory", dir, error);
  }
  auto lock = FileLock::try_acquire(dir / "outbox.lock");
  if (!lock.ok()) return lock.error().with_context("the outbox " + dir.string() + " is in use");
  std::unique_ptr<Outbox> outbox(new Outbox(dir, options, std::move(*lock)));
  std::lock_guard guard(outbox->mutex_);
  CANOPY_TRY(outbox->load_state());
  for (Stream stream : api::kStreams) CANOPY_TRY(outbox->recover_stream(stream));
  // A cap smaller than what an earlier run left: evict down to it now. What
  // is left above it (alerts and actuations) stays, and appends are refused.
  Status room = outbox->make_room(Stream::kAlerts, 0);
  if (!room.ok() && room.error().code != ErrorCode::kTooLarge) return room.error();
  return outbox;
}

fs::path Outbox::stream_dir(Stream stream) const { return dir_ / std::string(api::stream_name(stream)); }
Outbox::StreamState& Outbox::state_of(Stream stream) { return *streams_.at(stream); }
const Outbox::StreamState& Outbox::state_of(Stream stream) const { return *streams_.at(stream); }

Status Outbox::load_state() {
  const fs::path path = dir_ / "state.json";
  if (!fs::exists(path)) return {};
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto corrupt = [&](const std::string& why) {
    return make_error(ErrorCode::kCorrupt,
                      path.string() + " " + why + "; move it away to start the outbox afresh");
  };
  auto json = parse_json(text, path.string());
  if (!json.ok() || !json->is_object()) return corrupt("is not a JSON object");
  if (json->value("format", 0) != kStateFormat) return corrupt("has an unknown format");
  auto streams = json->find("streams");
  if (streams == json->end() || !streams->is_object()) return corrupt("has no streams");
  for (const auto& [name, entry] : streams->items()) {
    auto stream = api::parse_stream(name);
    if (!stream) continue;  // a stream a later version added: nothing of ours to recover
    auto acked = json_get<std::int64_t>(entry, "acked");
    auto floor = json_get<std::int64_t>(entry, "floor");
    if (!acked.ok() || !floor.ok()) return corrupt("has a bad entry for " + name);
    state_of(*stream).acked_seq = *acked;
    state_of(*stream).floor_seq = *floor;
  }
  return {};
}

Status Outbox::save_state() {
  Json streams = Json::object();
  for (const auto& [stream, state] : streams_)
    streams[std::string(api::stream_name(stream))] = {{"acked", state->acked_seq},
                                                      {"floor", state->floor_seq}};
  const Json json = {{"format", kStateFormat}, {"streams", std::move(streams)}};
  return write_file_atomic(dir_ / "state.json", json.dump());
}

Status Outbox::recover_stream(Stream stream) {
  StreamState& state = state_of(stream);
  const fs::path dir = stream_dir(stream);
  std::vector<fs::path> paths;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.path().extension() == kSegmentSuffix) paths.push_back(entry.path());
  if (error) return fs_error("cannot list", dir, error);
  std::sort(paths.begin(), paths.end());

  bool removed_any = false;
  auto remove = [&](const fs::path& path) -> Status {
    fs::remove(path, error);
    if (error) return fs_error("cannot remove", path, error);
    removed_any = true;
    return {};
  };
  for (const fs::path& path : paths) {
    CANOPY_ASSIGN_OR_RETURN(std::string data, read_file(path));
    std::vector<Frame> frames = scan_frames(data);
    // A segment never starts at or below the one before it; one that does was not written by us.
    if (!frames.empty() && !state.segments.empty() && frames.front().seq <= state.segments.back().last_seq)
      frames.clear();
    const std::size_t valid_bytes = frames.empty() ? 0 : frames.back().end_offset;
    if (frames.empty() || frames.back().seq <= state.acked_seq) {
      if (valid_bytes < data.size())
        spdlog::warn("outbox.segment_dropped path={} bytes={} reason=no-valid-record", path.string(),
                     data.size());
      CANOPY_TRY(remove(path));
      continue;
    }
    if (valid_bytes < data.size()) {
      // The tail an interrupted append left: cut it off so that the file holds whole frames only.
      spdlog::warn("outbox.torn_tail path={} kept_bytes={} dropped_bytes={}", path.string(), valid_bytes,
                   data.size() - valid_bytes);
      fs::resize_file(path, valid_bytes, error);
      if (error) return fs_error("cannot truncate the torn tail of", path, error);
      CANOPY_TRY(default_env().sync_file(path));
    }
    state.segments.push_back(Segment{path, frames.front().seq, frames.back().seq, valid_bytes});
    total_bytes_ += valid_bytes;
  }
  if (removed_any) CANOPY_TRY(fsync_dir(dir));
  const std::int64_t last_on_disk = state.segments.empty() ? 0 : state.segments.back().last_seq;
  state.next_seq = std::max({state.acked_seq, state.floor_seq, last_on_disk}) + 1;
  return {};
}

std::int64_t Outbox::pending_in(const StreamState& state) const {
  std::int64_t pending = 0;
  for (const Segment& segment : state.segments)
    pending += std::max<std::int64_t>(0, segment.last_seq - std::max(state.acked_seq, segment.first_seq - 1));
  return pending;
}

Status Outbox::evict_oldest_segment(Stream stream) {
  StreamState& state = state_of(stream);
  const Segment victim = state.segments.front();
  if (state.segments.size() == 1) {
    // The stream's last segment: its seqs live on only in the floor, saved before the file goes.
    state.writer.reset();
    state.unsynced = false;
    if (state.floor_seq < victim.last_seq) {
      state.floor_seq = victim.last_seq;
      CANOPY_TRY(save_state());
    }
  }
  std::error_code error;
  fs::remove(victim.path, error);
  if (error) return fs_error("cannot evict", victim.path, error);
  // Durable before the room is used, so a power cut cannot bring it back above the cap.
  CANOPY_TRY(fsync_dir(stream_dir(stream)));
  state.evicted_records +=
      std::max<std::int64_t>(0, victim.last_seq - std::max(state.acked_seq, victim.first_seq - 1));
  ++state.evicted_segments;
  total_bytes_ -= victim.bytes;
  state.segments.pop_front();
  spdlog::debug("outbox.evicted stream={} first_seq={} last_seq={} bytes={}", api::stream_name(stream),
                victim.first_seq, victim.last_seq, victim.bytes);
  return {};
}

Status Outbox::make_room(Stream stream, std::uint64_t frame_bytes) {
  if (frame_bytes > options_.max_bytes)
    return make_error(ErrorCode::kTooLarge, "a " + std::string(api::stream_name(stream)) + " record of " +
                                                format_bytes(frame_bytes) + " is larger than the outbox (" +
                                                format_bytes(options_.max_bytes) + ")");
  while (total_bytes_ + frame_bytes > options_.max_bytes) {
    std::optional<Stream> victim;
    // Lowest priority first, and never a stream above the one making room.
    for (auto it = api::kStreams.rbegin(); it != api::kStreams.rend() && !victim; ++it) {
      if (priority_of(*it) < priority_of(stream) || !api::may_evict(*it)) continue;
      if (!state_of(*it).segments.empty()) victim = *it;
    }
    if (!victim)
      return make_error(ErrorCode::kTooLarge, "the outbox is full (" + format_bytes(total_bytes_) + " of " +
                                                  format_bytes(options_.max_bytes) + ") of records a " +
                                                  std::string(api::stream_name(stream)) +
                                                  " record may not evict");
    CANOPY_TRY(evict_oldest_segment(*victim));
  }
  return {};
}

Status Outbox::write_frame(Stream stream, std::int64_t seq, const std::string& frame) {
  StreamState& state = state_of(stream);
  if (state.writer && state.writer->size_bytes() > 0 &&
      state.writer->size_bytes() + frame.size() > options_.segment_bytes) {
    // Sealed segments are durable: only the newest segment of a stream can have a torn tail.
    if (state.unsynced) CANOPY_TRY(state.writer->sync());
    state.unsynced = false;
    state.writer.reset();
  }
  if (!state.writer) {
    const fs::path path = stream_dir(stream) / segment_name(seq);
    CANOPY_ASSIGN_OR_RETURN(SegmentWriter writer, SegmentWriter::create(path));
    state.writer = std::move(writer);
    state.segments.push_back(Segment{path, seq, seq - 1, 0});
    // The new file's directory entry must survive a power cut as its synced frames do.
    CANOPY_TRY(fsync_dir(stream_dir(stream)));
  }
  Segment& segment = state.segments.back();
  Status appended = state.writer->append(frame);
  if (!appended.ok()) {
    if (segment.bytes == 0) {  // leave no empty segment behind
      std::error_code ignored;
      fs::remove(segment.path, ignored);
      state.writer.reset();
      state.segments.pop_back();
    }
    return appended;
  }
  segment.last_seq = seq;
  segment.bytes += frame.size();
  total_bytes_ += frame.size();
  state.next_seq = seq + 1;
  if (api::may_evict(stream)) {
    state.unsynced = true;
    return {};
  }
  // An alert or an actuation is on disk for good before the caller goes on (and opens a valve).
  return state.writer->sync();
}

Result<std::int64_t> Outbox::append(Stream stream, std::int64_t at_ms, const Json& body) {
  std::lock_guard lock(mutex_);
  StreamState& state = state_of(stream);
  const std::int64_t seq = state.next_seq;
  const std::string body_json = body.dump();
  if (body_json.size() + kFramePayloadHeaderBytes > kMaxFramePayloadBytes) {
    ++state.refused_records;
    return make_error(ErrorCode::kTooLarge, "a " + std::string(api::stream_name(stream)) + " record of " +
                                                format_bytes(body_json.size()) +
                                                " is larger than a record may be (" +
                                                format_bytes(kMaxFramePayloadBytes) + ")");
  }
  const std::string frame = encode_frame(seq, at_ms, body_json);
  Status room = make_room(stream, frame.size());
  if (!room.ok()) {
    ++state.refused_records;
    return room.error();
  }
  CANOPY_TRY(write_frame(stream, seq, frame));
  return seq;
}

Result<api::RecordBatch> Outbox::next_batch(std::size_t max_records, std::size_t max_bytes) {
  std::lock_guard lock(mutex_);
  api::RecordBatch batch;
  std::size_t batch_bytes = 0;
  for (Stream stream : api::kStreams) {
    StreamState& state = state_of(stream);
    for (const Segment& segment : state.segments) {
      if (segment.last_seq <= state.acked_seq) continue;
      if (batch.records.size() >= max_records) return batch;
      if (state.writer && &segment == &state.segments.back() && state.unsynced) {
        // Whatever the server may see must outlive a power cut, or its seq could be reused.
        CANOPY_TRY(state.writer->sync());
        state.unsynced = false;
      }
      CANOPY_ASSIGN_OR_RETURN(std::string data, read_file(segment.path));
      for (const Frame& frame : scan_frames(data)) {
        if (frame.seq <= state.acked_seq || frame.seq > segment.last_seq) continue;
        api::DeviceRecord record{stream, frame.seq, frame.at_ms, {}};
        CANOPY_ASSIGN_OR_RETURN(record.body, parse_json(frame.body_json, segment.path.string()));
        const std::size_t record_bytes = record.to_json().dump().size();
        if (batch.records.size() >= max_records ||
            (!batch.records.empty() && batch_bytes + record_bytes > max_bytes))
          return batch;
        batch_bytes += record_bytes;
        batch.records.push_back(std::move(record));
      }
    }
  }
  return batch;
}

Status Outbox::delete_acknowledged_segments(Stream stream) {
  StreamState& state = state_of(stream);
  bool removed_any = false;
  while (!state.segments.empty() && state.segments.front().last_seq <= state.acked_seq) {
    const Segment& segment = state.segments.front();
    if (state.segments.size() == 1) {
      state.writer.reset();
      state.unsynced = false;
    }
    std::error_code error;
    fs::remove(segment.path, error);
    if (error) return fs_error("cannot remove the acknowledged segment", segment.path, error);
    total_bytes_ -= segment.bytes;
    state.segments.pop_front();
    removed_any = true;
  }
  if (removed_any) CANOPY_TRY(fsync_dir(stream_dir(stream)));
  return {};
}

Result<std::int64_t> Outbox::acknowledge(const api::RecordAck& ack) {
  std::lock_guard lock(mutex_);
  std::vector<Stream> advanced;
  std::int64_t acknowledged = 0;
  for (const auto& [stream, seq] : ack.acked) {
    StreamState& state = state_of(stream);
    const std::int64_t acked = std::min(seq, state.next_seq - 1);
    if (acked < seq)
      spdlog::warn("outbox.ack_beyond_last stream={} acked={} last={}", api::stream_name(stream), seq, acked);
    if (acked <= state.acked_seq) continue;
    const std::int64_t pending_before = pending_in(state);
    state.acked_seq = acked;
    acknowledged += pending_before - pending_in(state);
    advanced.push_back(stream);
  }
  if (advanced.empty()) return acknowledged;
  // Saved before any file goes, so that a crash in between never brings acknowledged records back.
  CANOPY_TRY(save_state());
  for (Stream stream : advanced) CANOPY_TRY(delete_acknowledged_segments(stream));
  return acknowledged;
}

OutboxStats Outbox::stats() const {
  std::lock_guard lock(mutex_);
  OutboxStats stats;
  stats.total_bytes = total_bytes_;
  stats.max_bytes = options_.max_bytes;
  for (const auto& [stream, state] : streams_) {
    StreamStats& out = stats.streams[stream];
    out.pending_records = pending_in(*state);
    for (const Segment& segment : state->segments) out.bytes += segment.bytes;
    out.last_seq = state->next_seq - 1;
    out.acked_seq = state->acked_seq;
    out.evicted_records = state->evicted_records;
    out.evicted_segments = state->evicted_segments;
    out.refused_records = state->refused_records;
    stats.pending_records += out.pending_records;
  }
  return stats;
}

std::int64_t Outbox::pending_records() const {
  std::lock_guard lock(mutex_);
  std::int64_t pending = 0;
  for (const auto& [stream, state] : streams_) pending += pending_in(*state);
  return pending;
}

}  // namespace canopy::outbox
