#include "outbox/uploader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace canopy::outbox {

Uploader::Uploader(Outbox& outbox, RecordSink& sink, Clock& clock, UploaderOptions options)
    : outbox_(outbox),
      sink_(sink),
      clock_(clock),
      options_(options),
      tokens_(static_cast<double>(options.burst_bytes)),
      refilled_at_ms_(clock.monotonic_ms()),
      backoff_(std::chrono::milliseconds(std::max<std::int64_t>(1, options.backoff_initial_ms)),
               std::chrono::milliseconds(options.backoff_max_ms)) {}

void Uploader::wait_for_bandwidth(std::size_t bytes) {
  if (options_.bandwidth_bytes_per_s <= 0) return;
  const double rate_per_ms = static_cast<double>(options_.bandwidth_bytes_per_s) / 1000.0;
  const double burst = static_cast<double>(options_.burst_bytes);
  auto refill = [&] {
    const std::int64_t now = clock_.monotonic_ms();
    tokens_ = std::min(burst, tokens_ + static_cast<double>(now - refilled_at_ms_) * rate_per_ms);
    refilled_at_ms_ = now;
  };
  // A batch larger than the bucket waits for a full bucket and leaves it in
  // debt, which the next batch waits out.
  const double needed = std::min(static_cast<double>(bytes), burst);
  refill();
  while (tokens_ < needed) {
    const auto wait_ms = static_cast<std::int64_t>(std::ceil((needed - tokens_) / rate_per_ms));
    clock_.sleep_for_ms(wait_ms);
    {
      std::lock_guard lock(stats_mutex_);
      stats_.throttled_ms += wait_ms;
    }
    refill();
  }
  tokens_ -= static_cast<double>(bytes);
}

Status Uploader::handle_refused(const api::RecordBatch& batch, const Error& error) {
  if (batch.records.size() > 1) {
    spdlog::warn("outbox.batch_refused records={} error=\"{}\" next=one-record-at-a-time",
                 batch.records.size(), error.message);
    single_records_left_ = batch.records.size();
    return {};
  }
  // One record, at the head of its stream (batches go in order): dropping
  // it is acknowledging exactly it.
  const api::DeviceRecord& record = batch.records.front();
  spdlog::error("outbox.record_refused stream={} seq={} error=\"{}\" action=dropped",
                api::stream_name(record.stream), record.seq, error.message);
  if (single_records_left_ > 0) --single_records_left_;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.rejected_records;
  }
  api::RecordAck drop;
  drop.acked[record.stream] = record.seq;
  auto dropped = outbox_.acknowledge(drop);
  if (!dropped.ok()) return dropped.error();
  return {};
}

Status Uploader::upload_once() {
  const std::size_t max_records =
      single_records_left_ > 0 ? 1 : std::min(options_.batch_records, api::kMaxRecordsPerBatch);
  CANOPY_ASSIGN_OR_RETURN(api::RecordBatch batch, outbox_.next_batch(max_records, options_.batch_bytes));
  if (batch.records.empty()) return {};
  const std::size_t body_bytes = batch.to_json().dump().size();
  wait_for_bandwidth(body_bytes);

  Result<api::RecordAck> ack = sink_.send(batch);
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.batches_sent;
    stats_.bytes_sent += static_cast<std::int64_t>(body_bytes);
    if (!ack.ok()) ++stats_.failures;
  }
  if (!ack.ok()) {
    const ErrorCode code = ack.error().code;
    if (code == ErrorCode::kInvalidArgument || code == ErrorCode::kTooLarge)
      return handle_refused(batch, ack.error());
    return ack.error();
  }
  if (single_records_left_ > 0) --single_records_left_;
  CANOPY_ASSIGN_OR_RETURN(std::int64_t acknowledged, outbox_.acknowledge(*ack));
  std::lock_guard lock(stats_mutex_);
  stats_.records_acknowledged += acknowledged;
  return {};
}

void Uploader::run(const std::atomic<bool>& stop) {
  while (!stop) {
    if (outbox_.pending_records() == 0) {
      clock_.sleep_for_ms_unless(options_.idle_wait_ms, stop);
      continue;
    }
    Status uploaded = upload_once();
    if (uploaded.ok()) {
      backoff_.reset();
      continue;
    }
    const std::int64_t backoff_ms = backoff_.next_failure().count();
    // Being offline is a field device's normal life, not a warning.
    const auto level =
        uploaded.error().code == ErrorCode::kNetwork ? spdlog::level::info : spdlog::level::warn;
    spdlog::log(level, "outbox.upload_failed error=\"{}\" retry_in_ms={}", uploaded.error().message,
                backoff_ms);
    clock_.sleep_for_ms_unless(backoff_ms, stop);
  }
}

UploaderStats Uploader::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

}  // namespace canopy::outbox
