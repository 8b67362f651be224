// Logging on spdlog. Quiet by default (warnings and errors only); --verbose
// shows info and debug. Messages are structured as `event key=value ...` so
// they can be grepped and parsed. Thread-safety: spdlog's loggers are
// thread-safe; call init_logging once at start-up before other threads run.
#pragma once

#include <spdlog/spdlog.h>

namespace canopy {

struct LogOptions {
  bool verbose = false;  // debug and info lines too
  bool quiet = false;    // errors only
};

void init_logging(const LogOptions& options);

}  // namespace canopy
