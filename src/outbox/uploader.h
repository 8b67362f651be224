// Drains the outbox to the server (docs/field.md, "Outbox"): one batch at a
// time in the outbox's order (alerts first, oldest first within a stream),
// acknowledged only from the server's answer, so a batch whose answer is
// lost is sent again and the server, keyed by (stream, seq), keeps it once.
// - Bandwidth: a token bucket on the Clock caps the bytes of request bodies
//   per second; over any span T of the clock at most burst + rate × T go out
//   while a batch stays within the burst (batch_bytes ≤ burst_bytes).
// - Failures: exponential backoff with full jitter on the Clock, uniform in
//   [initial, cap] with the cap doubling per consecutive failure up to max
//   (common/backoff.h, the agent's own).
// - A batch the server refuses (400, nothing stored) is sent again one
//   record at a time; a single record it refuses is invalid by the shared
//   contract and would block its stream for ever, so it is dropped (marked
//   acknowledged locally), logged as an error and counted.
// Thread-safety: upload_once and run belong to one thread; stats() may be
// called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/error.h"
#include "outbox/outbox.h"
#include "outbox/record_sink.h"

namespace canopy::outbox {

struct UploaderOptions {
  std::size_t batch_records = 500;         // capped at api::kMaxRecordsPerBatch
  std::size_t batch_bytes = 256u << 10;    // a batch stops before this (one record may pass it); 256 KiB
  std::int64_t bandwidth_bytes_per_s = 0;  // 0: no cap
  std::int64_t burst_bytes = 256 << 10;    // the bucket's depth; 256 KiB
  std::int64_t idle_wait_ms = 5000;        // between looks at an empty outbox
  std::int64_t backoff_initial_ms = 1000;
  std::int64_t backoff_max_ms = 5 * 60 * 1000;
};

struct UploaderStats {
  std::int64_t batches_sent = 0;          // attempts, whatever their answer
  std::int64_t bytes_sent = 0;            // request bodies of those attempts
  std::int64_t records_acknowledged = 0;  // pending records the server's answers acknowledged
  std::int64_t failures = 0;              // attempts without an acknowledgement
  std::int64_t rejected_records = 0;      // single records the server refused, dropped
  std::int64_t throttled_ms = 0;          // time waited for the bandwidth cap
};

class Uploader {
 public:
  // The outbox, sink and clock must outlive the uploader.
  Uploader(Outbox& outbox, RecordSink& sink, Clock& clock, UploaderOptions options = {});

  // Sends the next batch (after waiting for the bandwidth cap) and
  // acknowledges what the server acknowledged. Ok when nothing is pending,
  // and when a refused batch was handled as described above; otherwise the
  // sink's error (kNetwork, kUnauthenticated) or the outbox's.
  Status upload_once();

  // Uploads until `stop` is set: at once after a success, after a backoff
  // after a failure, every idle_wait_ms while the outbox is empty. Notices
  // `stop` within about 100 ms of real time (Clock::sleep_for_ms_unless).
  void run(const std::atomic<bool>& stop);

  UploaderStats stats() const;

 private:
  void wait_for_bandwidth(std::size_t bytes);
  Status handle_refused(const api::RecordBatch& batch, const Error& error);

  Outbox& outbox_;
  RecordSink& sink_;
  Clock& clock_;
  const UploaderOptions options_;
  double tokens_;                        // bytes that may go now
  std::int64_t refilled_at_ms_;          // monotonic
  std::size_t single_records_left_ = 0;  // uploads left one record at a time after a refused batch
  Backoff backoff_;
  mutable std::mutex stats_mutex_;
  UploaderStats stats_;  // guarded by stats_mutex_
};

}  // namespace canopy::outbox
