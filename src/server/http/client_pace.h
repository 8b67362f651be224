// How long a client may take to send a request (docs/security.md, "Request
// bounds and slow clients"). Every open connection holds one of the
// server's workers, so a client that trickles its request a byte at a time
// would hold one for as long as it liked: each read alone finishing in time
// is not enough. A connection gets a deadline per request instead: the head
// (TLS handshake, request line and headers) must be complete within a fixed
// time of the accept or of the previous response, and a body must keep up a
// minimum average rate after a grace period, so a large upload over a slow
// link is given the time its size needs and a trickle is not. A response
// likewise: after the same grace, the client must keep taking it at a
// minimum average rate, or a reader that takes a byte every 29 s (each write
// within its timeout) would hold a worker for as long as a package lasts.
//
// The rule is a pure function of the pace, the phase and the bytes so far;
// the connection loop (paced_server.cpp) reads the time from a Clock.
#pragma once

#include <cstdint>

namespace canopy::server {

struct ClientPace {
  // The head, from the accept or the end of the previous response.
  std::int64_t head_timeout_ms = 10'000;
  // The body's first bytes; after them it must average min_body_bytes_per_s.
  std::int64_t body_grace_ms = 10'000;
  std::int64_t min_body_bytes_per_s = 1'024;  // >= 1
  // A response, after the same grace from its first write.
  std::int64_t min_download_bytes_per_s = 1'024;  // >= 1
};

enum class ReadPhase { kHead, kBody };

// The monotonic time after which a connection's read is given up: a head
// begun at `phase_start_ms` must be complete by then; a body begun then,
// with `body_bytes` received so far, must have received more. Each body
// byte received earns 1/min_body_bytes_per_s of time, so only a client
// slower than that on average falls behind.
std::int64_t read_deadline_ms(const ClientPace& pace, ReadPhase phase, std::int64_t phase_start_ms,
                              std::uint64_t body_bytes);

// The monotonic time after which a response begun at `response_start_ms`
// is given up, with `delivered_bytes` of it taken by the client so far
// (acknowledged, not merely queued in the socket, or the kernel's buffers
// would earn a stalled reader megabytes of time): each earns
// 1/min_download_bytes_per_s after the grace. Checked only while a write
// waits for the client, so a response the server paces itself (an event
// stream idle between events) is never cut for its own pauses.
std::int64_t response_deadline_ms(const ClientPace& pace, std::int64_t response_start_ms,
                                  std::uint64_t delivered_bytes);

}  // namespace canopy::server
