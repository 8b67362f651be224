// canopy device readings / telemetry / irrigation / plants, canopy alerts:
// what devices sent from the field, as stored by the server (docs/field.md);
// canopy device field-config: the field configuration an operator sets for a
// device. Each command calls the server through client::FleetClient and
// prints a table or text, or the server's JSON with --json.
#include <cstdio>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/files.h"
#include "common/time.h"

namespace canopy::cli {

namespace {

std::string time_text(std::int64_t at_ms) { return format_utc(at_ms); }

std::string number_text(const std::optional<double>& value) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", *value);
  return text;
}

void print_records(const std::vector<api::StoredReading>& records) {
  std::printf("%-20s %-16s %-18s %10s %-8s %s\n", "AT", "SENSOR", "KIND", "VALUE", "UNIT", "STATUS");
  for (const auto& [seq, at_ms, received_at, r] : records) {
    const std::string status = r.reason.empty() ? r.status : r.status + " (" + r.reason + ")";
    std::printf("%-20s %-16s %-18s %10s %-8s %s\n", time_text(at_ms).c_str(), r.sensor.c_str(),
                r.kind.c_str(), number_text(r.value).c_str(), r.unit.c_str(), status.c_str());
  }
}

void print_records(const std::vector<api::StoredTelemetry>& records) {
  std::printf("%-20s %-8s %s\n", "AT", "PERIOD", "VALUES");
  for (const auto& [seq, at_ms, received_at, t] : records)
    std::printf("%-20s %-8s %s\n", time_text(at_ms).c_str(), (std::to_string(t.period_s) + "s").c_str(),
                summarize_json(Json(t.values)).c_str());
}

void print_records(const std::vector<api::StoredActuation>& records) {
  std::printf("%-20s %-16s %-7s %8s %s\n", "AT", "ZONE", "VALVE", "THETA", "REASON");
  for (const auto& [seq, at_ms, received_at, a] : records)
    std::printf("%-20s %-16s %-7s %8s %s\n", time_text(at_ms).c_str(), a.zone.c_str(),
                a.open ? "open" : "closed", number_text(a.theta).c_str(), a.reason.c_str());
}

void print_records(const std::vector<api::StoredPlantChange>& records) {
  std::printf("%-20s %-12s %-16s %-6s %s\n", "AT", "CAMERA", "ZONE", "PLANT", "CHANGE");
  for (const auto& [seq, at_ms, received_at, p] : records)
    std::printf("%-20s %-12s %-16s %-6d %s -> %s\n", time_text(at_ms).c_str(), p.camera.c_str(),
                p.zone.c_str(), p.plant_id, p.from.c_str(), p.to.c_str());
}

void add_limit_option(CLI::App* command, int& limit) {
  command
      ->add_option("--limit", limit,
                   "how many, newest first (at most " + std::to_string(api::kMaxRowsPerRead) + ")")
      ->check(cli_support::integer_at_least(1));
}

struct RecordsArgs {
  std::string device_id;
  std::string subject;
  int limit = api::kDefaultRowsPerRead;
};

// `canopy device PATH ID [--SUBJECT S] [--limit N]` for Body's records (api::record_kind).
template <typename Body>
void add_records_command(CLI::App& device, Globals& globals, int& exit_code, const std::string& help,
                         const std::string& subject_help) {
  static constexpr api::RecordKind kind = api::record_kind<Body>();
  auto args = std::make_shared<RecordsArgs>();
  auto* command = device.add_subcommand(std::string(kind.path), help);
  command->add_option("ID", args->device_id, "device id from 'canopy device list'")->required();
  if (!kind.subject.empty())
    command->add_option("--" + std::string(kind.subject), args->subject, subject_help);
  add_limit_option(command, args->limit);
  add_server_flags(command, globals);
  set_action(command, exit_code, [&globals, args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(auto records,
                            client.device_records<Body>(args->device_id, args->subject, args->limit));
    if (globals.json) {
      Json rows = Json::array();
      for (const auto& record : records) rows.push_back(record.to_json());
      print_json({{std::string(kind.path), rows}});
    } else {
      print_records(records);
    }
    return {};
  });
}

struct FieldConfigArgs {
  std::string device_id;
  std::string file;
  std::int64_t version = 0;
};

// canopy device field-config set ID FILE / show ID [--version N].
void register_field_config_commands(CLI::App& device, Globals& globals, int& exit_code) {
  auto* field_config = device.add_subcommand(
      "field-config", "Set a device's field configuration on the server, or show a version of it");
  field_config->require_subcommand(1);

  auto set_args = std::make_shared<FieldConfigArgs>();
  auto* set = field_config->add_subcommand(
      "set",
      "Send a YAML file as the device's next field configuration (publisher role); the device checks it");
  set->add_option("ID", set_args->device_id, "device id from 'canopy device list'")->required();
  set->add_option("FILE", set_args->file,
                  "the field configuration (YAML, at most " +
                      std::to_string(api::kMaxFieldConfigBytes >> 10) + " KiB)")
      ->required();
  add_server_flags(set, globals);
  set_action(set, exit_code, [&globals, set_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(set_args->file));
    if (Status usable = api::check_field_config_text(text); !usable.ok())
      return usable.error().with_context(set_args->file);
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::FieldConfigRecord record,
                            client.set_field_config(set_args->device_id, text));
    if (globals.json)
      print_json(record.to_json());
    else
      std::printf("field configuration version %lld set for device %s\n",
                  static_cast<long long>(record.version), record.device_id.c_str());
    return {};
  });

  auto show_args = std::make_shared<FieldConfigArgs>();
  auto* show = field_config->add_subcommand(
      "show",
      "Print a device's field configuration as set on the server (--json: with its version and who set it)");
  show->add_option("ID", show_args->device_id, "device id from 'canopy device list'")->required();
  show->add_option("--version", show_args->version, "this version instead of the newest (0: the newest)")
      ->check(cli_support::integer_at_least(0));
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, show_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(
        api::FieldConfigRecord record,
        client.field_config(show_args->device_id,
                            show_args->version > 0 ? std::optional(show_args->version) : std::nullopt));
    if (globals.json) {
      print_json(record.to_json());
      return {};
    }
    const std::string text = record.text.value_or("");
    std::fwrite(text.data(), 1, text.size(), stdout);
    if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
    return {};
  });
}

void print_alert_row(const api::Alert& a) {
  std::printf("%-6lld %-16s %-8s %-8s %-12s %-15s %-12s %-20s %s\n", static_cast<long long>(a.id),
              a.device_id.c_str(), std::string(api::alert_state_name(a.state)).c_str(), a.severity.c_str(),
              a.zone.empty() ? "-" : a.zone.c_str(), a.condition.c_str(),
              a.subject.empty() ? "-" : a.subject.c_str(), time_text(a.raised_at_ms).c_str(),
              a.message.c_str());
}

struct AlertListArgs {
  std::string device_id;
  std::string state = "all";
  int limit = api::kDefaultRowsPerRead;
};

void register_alert_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* alerts =
      app.add_subcommand("alerts", "Alerts devices raised in the field: list and acknowledge them");
  alerts->require_subcommand(1);

  auto list_args = std::make_shared<AlertListArgs>();
  auto* list = alerts->add_subcommand("list", "List alerts, newest first");
  list->add_option("--device", list_args->device_id, "only the alerts of this device");
  list->add_option("--state", list_args->state, "only alerts in this state")
      ->check(CLI::IsMember({"open", "acked", "cleared", "all"}));
  add_limit_option(list, list_args->limit);
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, list_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(auto found,
                            client.list_alerts(list_args->device_id, list_args->state, list_args->limit));
    if (globals.json) {
      Json rows = Json::array();
      for (const api::Alert& a : found) rows.push_back(a.to_json());
      print_json({{"alerts", rows}});
      return {};
    }
    std::printf("%-6s %-16s %-8s %-8s %-12s %-15s %-12s %-20s %s\n", "ID", "DEVICE", "STATE", "SEVERITY",
                "ZONE", "CONDITION", "SUBJECT", "RAISED", "MESSAGE");
    for (const api::Alert& a : found) print_alert_row(a);
    return {};
  });

  auto id = std::make_shared<std::int64_t>(0);
  auto* ack = alerts->add_subcommand("ack", "Acknowledge an open alert (publisher role)");
  ack->add_option("ID", *id, "alert id from 'canopy alerts list'")
      ->required()
      ->check(cli_support::integer_at_least(1));
  add_server_flags(ack, globals);
  set_action(ack, exit_code, [&globals, id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::Alert a, client.ack_alert(*id));
    if (globals.json)
      print_json(a.to_json());
    else
      std::printf("alert %lld is acked by %s at %s\n", static_cast<long long>(a.id), a.acked_by.c_str(),
                  a.acked_at.c_str());
    return {};
  });
}

}  // namespace

void register_field_commands(CLI::App& app, Globals& globals, int& exit_code) {
  CLI::App& device = *app.get_subcommand("device");
  add_records_command<api::Reading>(device, globals, exit_code,
                                    "Show a device's sensor readings, newest first",
                                    "only the readings of this sensor");
  add_records_command<api::Telemetry>(device, globals, exit_code, "Show a device's telemetry, newest first",
                                      "");
  add_records_command<api::ActuationEvent>(
      device, globals, exit_code, "Show a device's irrigation: valves opened and closed, newest first",
      "only this irrigation zone");
  add_records_command<api::PlantChangeEvent>(
      device, globals, exit_code, "Show a device's plant changes (healthy, diseased, water-stressed)",
      "only plants in this zone");
  register_field_config_commands(device, globals, exit_code);
  register_alert_commands(app, globals, exit_code);
}

}  // namespace canopy::cli
