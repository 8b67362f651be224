#include "agent/agent_config.h"

#include <algorithm>
#include <map>

#include "common/text.h"

namespace canopy::agent {

namespace {

// "k=v" items, from repeated --tag flags or the comma-separated `tags` setting.
Result<std::map<std::string, std::string>> parse_tags(const std::vector<std::string>& items) {
  std::map<std::string, std::string> tags;
  for (const std::string& item : items) {
    const size_t equals = item.find('=');
    if (equals == 0 || equals == std::string::npos)
      return make_error(ErrorCode::kInvalidArgument, "tag '" + item + "' must look like key=value");
    tags[item.substr(0, equals)] = item.substr(equals + 1);
  }
  return tags;
}

}  // namespace

Result<AgentOptions> options_from_config(const Config& config, std::vector<std::string> tag_flags,
                                         bool once) {
  AgentOptions options;
  CANOPY_ASSIGN_OR_RETURN(options.server_url, config.require("server"));
  CANOPY_ASSIGN_OR_RETURN(std::string data_dir, config.require("data_dir"));
  options.data_dir = data_dir;
  options.enrollment_token = config.get("enroll_token");
  options.ca_file = config.get("ca_file");
  options.server_pin = config.get("server_pin");
  options.allow_plain_http = config.get("allow_plain_http") == "true";
  CANOPY_ASSIGN_OR_RETURN(options.token_max_age_s, config.get_int("agent.token_max_age_s", 30 * 86'400));
  if (options.token_max_age_s < 0)
    return make_error(ErrorCode::kInvalidArgument, "--token-max-age must not be negative");
  options.name = config.get("name");
  if (tag_flags.empty()) tag_flags = split(config.get("tags"), ',');
  CANOPY_ASSIGN_OR_RETURN(options.tags, parse_tags(tag_flags));
  options.once = once;
  CANOPY_ASSIGN_OR_RETURN(long long attempts, config.get_int("agent.max_attempts", 3));
  if (attempts < 1) return make_error(ErrorCode::kInvalidArgument, "--max-attempts must be at least 1");
  options.max_attempts = static_cast<int>(attempts);
  CANOPY_ASSIGN_OR_RETURN(long long max_slot_bytes, config.get_int("agent.max_slot_bytes", 0));
  if (max_slot_bytes < 0)
    return make_error(ErrorCode::kInvalidArgument, "--max-slot-bytes must not be negative");
  options.max_slot_bytes = static_cast<std::uint64_t>(max_slot_bytes);
  options.crash_at = config.get("agent.crash_at");
  CANOPY_ASSIGN_OR_RETURN(options.engine.backend, infer::parse_backend(config.get("backend", "auto")));
  CANOPY_ASSIGN_OR_RETURN(long long threads, config.get_int("threads", 1));
  options.engine.threads = static_cast<int>(std::max(1LL, threads));
  CANOPY_ASSIGN_OR_RETURN(long long backoff_initial, config.get_int("agent.backoff_initial_ms", 1000));
  CANOPY_ASSIGN_OR_RETURN(long long backoff_max, config.get_int("agent.backoff_max_ms", 300000));
  options.backoff_initial_ms = static_cast<long>(std::max(1LL, backoff_initial));
  options.backoff_max_ms = static_cast<long>(std::max(backoff_initial, backoff_max));
  CANOPY_ASSIGN_OR_RETURN(long long integrity_interval,
                          config.get_int("agent.integrity_check_interval_s", 86400));
  if (integrity_interval < 1)
    return make_error(ErrorCode::kInvalidArgument, "--integrity-check-interval must be at least 1 second");
  options.integrity_check_interval_s = integrity_interval;
  options.field_config = config.get("field_config");
  CANOPY_ASSIGN_OR_RETURN(long long outbox_max_bytes, config.get_int("agent.outbox_max_bytes", 256LL << 20));
  if (outbox_max_bytes < (1 << 20))
    return make_error(ErrorCode::kInvalidArgument, "--outbox-max-bytes must be at least 1048576 (1 MiB)");
  options.outbox_max_bytes = static_cast<std::uint64_t>(outbox_max_bytes);
  CANOPY_ASSIGN_OR_RETURN(long long upload_rate, config.get_int("agent.upload_bytes_per_s", 0));
  if (upload_rate < 0) return make_error(ErrorCode::kInvalidArgument, "--upload-rate must not be negative");
  options.upload_bytes_per_s = upload_rate;
  return options;
}

}  // namespace canopy::agent
