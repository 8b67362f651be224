// Where the uploader sends a batch: the server's POST /api/v1/device/records
// in the agent (agent::DeviceRecordSink), a fake in tests. An interface here
// rather than the agent's DeviceClient, because the agent links the outbox
// and not the other way round.
// Thread-safety: the Uploader calls its sink from its own thread only.
#pragma once

#include "api/device_data.h"
#include "common/error.h"

namespace canopy::outbox {

class RecordSink {
 public:
  virtual ~RecordSink() = default;
  // Delivers `batch` and returns what the server acknowledged. Errors:
  // kNetwork when it may have arrived or not (transport failure, 5xx, 408,
  // 429: send it again later), kInvalidArgument or kTooLarge when the
  // server refused the batch and stored none of it, kUnauthenticated for a
  // bad device token.
  virtual Result<api::RecordAck> send(const api::RecordBatch& batch) = 0;
};

}  // namespace canopy::outbox
