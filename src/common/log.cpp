#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace canopy {

void init_logging(const LogOptions& options) {
  // Logs go to stderr so that stdout stays clean for command output (JSON, tables).
  auto logger = spdlog::stderr_color_mt("canopy");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::level::level_enum level = spdlog::level::warn;
  if (options.verbose) level = spdlog::level::debug;
  if (options.quiet) level = spdlog::level::err;
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace canopy
