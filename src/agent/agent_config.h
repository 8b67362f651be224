// The agent's settings: flags, CANOPY_* variables and the --config file,
// resolved by common/config.h, mapped onto AgentOptions with their checks.
// docs/configuration.md lists every key. Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "agent/agent.h"
#include "common/config.h"
#include "common/error.h"

namespace canopy::agent {

// `tag_flags` are the repeated --tag values ("key=value"); when empty, the
// comma-separated `tags` setting is used. An out-of-range or malformed value
// is an kInvalidArgument error naming the flag.
Result<AgentOptions> options_from_config(const Config& config, std::vector<std::string> tag_flags, bool once);

}  // namespace canopy::agent
