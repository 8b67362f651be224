#include "cli.h"

#include <algorithm>
#include <cstdio>

namespace canopy::cli {

int report(const Error& error) {
  std::fprintf(stderr, "error: %s\n", error.message.c_str());
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return 2;
    default:
      return 1;
  }
}

void set_action(CLI::App* command, int& exit_code, std::function<Status()> body) {
  command->callback([&exit_code, body = std::move(body)] {
    Status status = body();
    if (!status.ok()) exit_code = report(status.error());
  });
}

void add_server_flags(CLI::App* command, Globals& globals) {
  command->add_option_function<std::string>(
      "--server", [&globals](const std::string& v) { globals.flags["server"] = v; },
      "registry URL, e.g. http://127.0.0.1:8080 (also CANOPY_SERVER)");
  command->add_option_function<std::string>(
      "--api-key", [&globals](const std::string& v) { globals.flags["api_key"] = v; },
      "API key (also CANOPY_API_KEY)");
  command->add_option_function<std::string>(
      "--ca-file", [&globals](const std::string& v) { globals.flags["ca_file"] = v; },
      "trust an https server only if a CA in this PEM file signed its certificate (also CANOPY_CA_FILE; "
      "default: the system's CA store)");
  command->add_option_function<std::string>(
      "--server-pin", [&globals](const std::string& v) { globals.flags["server_pin"] = v; },
      "trust an https server only if it holds this key: the sha256//... pin `canopy server` prints "
      "(also CANOPY_SERVER_PIN)");
}

HttpOptions server_http_options(const Globals& globals) {
  HttpOptions options;
  options.ca_file = globals.config.get("ca_file");
  options.server_pin = globals.config.get("server_pin");
  return options;
}

void print_json(const Json& value) { std::printf("%s\n", value.dump(2).c_str()); }

std::string sample_file_stem(const std::string& sample_id) {
  std::string stem = sample_id;
  std::replace(stem.begin(), stem.end(), '/', '-');
  return stem;
}

std::string summarize_json(const Json& object) {
  constexpr size_t kShownKeys = 6;
  constexpr size_t kShownChars = 48;
  if (!object.is_object() || object.empty()) return "-";
  std::string text;
  size_t shown = 0;
  for (const auto& [key, value] : object.items()) {
    if (shown == kShownKeys) break;
    std::string item;
    if (value.is_number_float()) {
      char number[32];
      std::snprintf(number, sizeof number, "%.4g", value.get<double>());
      item = number;
    } else if (value.is_string()) {
      item = value.get<std::string>();
      if (item.size() > kShownChars) item = item.substr(0, kShownChars - 3) + "...";
    } else if (value.is_object() || value.is_array()) {
      item = "(" + std::to_string(value.size()) + (value.is_object() ? " keys)" : " items)");
    } else {
      item = value.dump();
    }
    text += (text.empty() ? "" : ", ") + key + "=" + item;
    ++shown;
  }
  if (object.size() > shown)
    text += ", ... " + std::to_string(object.size() - shown) + " more (--json shows all)";
  return text;
}

Result<client::RegistryClient> connect_to_registry(const Globals& globals) {
  CANOPY_ASSIGN_OR_RETURN(std::string server, globals.config.require("server"));
  CANOPY_ASSIGN_OR_RETURN(std::string api_key, globals.config.require("api_key"));
  return client::RegistryClient(server, api_key, server_http_options(globals));
}

Result<client::FleetClient> connect_to_fleet(const Globals& globals) {
  CANOPY_ASSIGN_OR_RETURN(std::string server, globals.config.require("server"));
  CANOPY_ASSIGN_OR_RETURN(std::string api_key, globals.config.require("api_key"));
  return client::FleetClient(server, api_key, server_http_options(globals));
}

}  // namespace canopy::cli
