// The device's durable outbox (docs/field.md, "Outbox"): everything the
// field loop produces waits here, on disk, until the server acknowledges it.
//
// - One directory per stream (api::Stream) of append-only segment files
//   (outbox/segment.h); a record is one CRC-checked frame, so a write torn by
//   kill -9 or a power cut is found and cut off when the outbox opens.
// - Sequence numbers count from 1 per stream, only grow and survive restarts,
//   also when every segment of a stream is gone: state.json (written
//   atomically) keeps per stream the highest acknowledged seq and a floor,
//   the highest seq whose segment was deleted.
// - Durability: an alert or an actuation is fsynced before append returns.
//   Other streams are fsynced when their segment is sealed and before any of
//   their records leaves in a batch, so a power cut may lose the newest
//   readings, plants, telemetry or images, but never one the server may have
//   seen (their seqs are then reused, safely: the server never saw them).
//   kill -9 loses nothing that append returned.
// - The disk cap (the sum of the segment files) is never exceeded: to make
//   room, whole oldest segments are evicted from the lowest-priority stream
//   that holds any (images, telemetry, plants, readings), but only streams
//   of the same or a lower priority than the record being appended; alerts
//   and actuations are never evicted. When no room can be made, append
//   refuses the record (kTooLarge) and counts it. Deletions are fsynced in
//   their directory, so a power cut cannot bring an evicted segment back.
//
// Thread-safety: every method may be called from any thread; one mutex
// serialises them (the field loop appends while the uploader reads and
// acknowledges). One process at a time: open() locks the directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "api/device_data.h"
#include "common/error.h"
#include "common/files.h"
#include "common/json.h"

namespace canopy::outbox {

struct OutboxOptions {
  std::uint64_t max_bytes = 256ull << 20;   // the cap on the segment files together; default 256 MiB
  std::uint64_t segment_bytes = 64u << 10;  // a segment is sealed once the next frame would pass this; 64 KiB
};

struct StreamStats {
  std::int64_t pending_records = 0;   // on disk, not yet acknowledged
  std::uint64_t bytes = 0;            // the stream's segment files on disk
  std::int64_t last_seq = 0;          // the last seq assigned (0: none yet)
  std::int64_t acked_seq = 0;         // everything up to here is acknowledged
  std::int64_t evicted_records = 0;   // unacknowledged records evicted since open
  std::int64_t evicted_segments = 0;  // segments evicted since open
  std::int64_t refused_records = 0;   // appends refused for lack of room since open
};

struct OutboxStats {
  std::map<api::Stream, StreamStats> streams;
  std::uint64_t total_bytes = 0;  // all segment files; never above max_bytes
  std::uint64_t max_bytes = 0;
  std::int64_t pending_records = 0;
};

class Outbox {
 public:
  // Opens (creating if needed) the outbox in `dir`: locks it, reads
  // state.json, scans every segment, truncates a torn tail, deletes
  // segments that are wholly acknowledged or empty, and evicts when the
  // files already pass `max_bytes` (a smaller cap than before). kConflict
  // when another process holds the directory; kCorrupt for an unreadable
  // state.json.
  static Result<std::unique_ptr<Outbox>> open(const std::filesystem::path& dir, OutboxOptions options = {});
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Stores one record and returns its seq. kTooLarge when it cannot fit
  // (larger than the cap, or the room is held by records that may not be
  // evicted for it); kIo when the disk refuses, with nothing half-written.
  Result<std::int64_t> append(api::Stream stream, std::int64_t at_ms, const Json& body);

  // Up to `max_records` unacknowledged records, alerts first and then each
  // stream in priority order, in seq order within a stream. Stops before
  // the record that would take the batch past `max_bytes` (its JSON size on
  // the wire) but always holds at least one record when any is pending.
  // The records are durable before they are returned.
  Result<api::RecordBatch> next_batch(std::size_t max_records, std::size_t max_bytes);

  // Records that the server has stored everything up to each stream's seq:
  // persists it, then deletes the segments wholly acknowledged. A seq above
  // the last one assigned is taken as the last one assigned. Returns how
  // many pending records it acknowledged.
  Result<std::int64_t> acknowledge(const api::RecordAck& ack);

  OutboxStats stats() const;
  std::int64_t pending_records() const;

 private:
  struct Segment {
    std::filesystem::path path;
    std::int64_t first_seq = 0;
    std::int64_t last_seq = 0;
    std::uint64_t bytes = 0;
  };
  struct StreamState;

  Outbox(std::filesystem::path dir, OutboxOptions options, FileLock lock);
  Status load_state();
  Status save_state();
  Status recover_stream(api::Stream stream);
  Status make_room(api::Stream stream, std::uint64_t frame_bytes);
  Status evict_oldest_segment(api::Stream stream);
  Status delete_acknowledged_segments(api::Stream stream);
  Status write_frame(api::Stream stream, std::int64_t seq, const std::string& frame);
  std::filesystem::path stream_dir(api::Stream stream) const;
  StreamState& state_of(api::Stream stream);
  const StreamState& state_of(api::Stream stream) const;
  std::int64_t pending_in(const StreamState& state) const;

  const std::filesystem::path dir_;
  const OutboxOptions options_;
  FileLock lock_;
  mutable std::mutex mutex_;
  std::map<api::Stream, std::unique_ptr<StreamState>> streams_;  // guarded by mutex_
  std::uint64_t total_bytes_ = 0;                                // guarded by mutex_
};

}  // namespace canopy::outbox
