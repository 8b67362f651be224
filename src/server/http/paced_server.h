// cpp-httplib's server with its connection loop replaced by one that paces
// the client (client_pace.h) and bounds the request head. cpp-httplib 0.11
// bounds each read (30 s) but not a request, and reads any number of header
// lines, each in full before it checks its length; its loop is the one
// place that sees a connection from accept to close, so the deadline and
// the bounds live there. The requests themselves (parsing, routing,
// responses) are still httplib's own process_request.
// Thread-safety: as httplib::Server; each connection runs on one worker.
#pragma once

#include <httplib.h>

#include <cstddef>

#include "common/clock.h"
#include "server/http/client_pace.h"

namespace canopy::server {

// A request head reads at most this many header lines: past them the head
// is ended for httplib as though a blank line had come, the request is
// answered 431 (client_header_count tells) and the connection closed.
constexpr std::size_t kMaxRequestHeaders = 100;
// Nor more than this many bytes (request line and headers): past them the
// read fails, httplib answers 400 and the connection is closed.
constexpr std::size_t kMaxRequestHeadBytes = 64 * 1024;

// How many headers the client sent: httplib adds four of its own to every
// request (REMOTE_ADDR, REMOTE_PORT, LOCAL_ADDR, LOCAL_PORT).
std::size_t client_header_count(const httplib::Request& req);

// The workers, and the connections that may wait for one: httplib's own
// pool queues every accepted connection, however many.
struct WorkerLimits {
  std::size_t workers = 128;
  std::size_t max_waiting = 1'024;  // more are closed as soon as accepted
};

// httplib's thread pool, with each connection's accept time handed to the
// worker that serves it (its head deadline counts from the accept, so a
// connection that waited in the queue past it and has sent nothing is let
// go at once), and the connections waiting for a worker bounded.
httplib::TaskQueue* new_paced_task_queue(const WorkerLimits& limits, Clock& clock);

// Base is httplib::Server or httplib::SSLServer; the rest of the arguments
// are Base's. `clock` paces the network, so it is the real clock.
template <class Base>
class PacedServer final : public Base {
 public:
  template <class... Args>
  PacedServer(const ClientPace& pace, const WorkerLimits& workers, Clock& clock, Args&&... args)
      : Base(std::forward<Args>(args)...), pace_(pace), clock_(clock) {
    this->new_task_queue = [workers, &clock] { return new_paced_task_queue(workers, clock); };
  }

 private:
  // Overrides httplib's: the same keep-alive loop over one PacedStream.
  bool process_and_close_socket(socket_t sock) override;

  const ClientPace pace_;
  Clock& clock_;
};

extern template class PacedServer<httplib::Server>;
extern template class PacedServer<httplib::SSLServer>;

}  // namespace canopy::server
