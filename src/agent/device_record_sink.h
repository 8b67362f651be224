// The outbox's uploader sends its batches to the server through this sink:
// POST /api/v1/device/records with the device's token (DeviceClient).
// Give the DeviceClient HttpOptions with max_attempts = 1: the Uploader
// retries with its own backoff on its Clock, and libcurl-level retries
// would sleep on the wall clock behind its back.
// Thread-safety: as DeviceClient, one thread (the uploader's).
#pragma once

#include "agent/device_client.h"
#include "outbox/record_sink.h"

namespace canopy::agent {

class DeviceRecordSink final : public outbox::RecordSink {
 public:
  // `client` must outlive the sink and be used by no other thread.
  explicit DeviceRecordSink(DeviceClient& client) : client_(client) {}
  Result<api::RecordAck> send(const api::RecordBatch& batch) override { return client_.post_records(batch); }

 private:
  DeviceClient& client_;
};

}  // namespace canopy::agent
