// canopy enroll-token / device / deploy: the fleet's admin and operator
// commands (docs/fleet.md). Each parses its flags into a request, calls the
// server through client::FleetClient and prints the answer.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli.h"

namespace canopy::cli {

namespace {

// "90", "90s", "15m", "24h", "7d" -> seconds.
Result<std::int64_t> parse_duration_s(const std::string& text, const std::string& flag) {
  static const std::map<char, std::int64_t> units = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  std::string number = text;
  std::int64_t unit = 1;
  if (!text.empty() && units.count(text.back())) {
    unit = units.at(text.back());
    number.pop_back();
  }
  try {
    std::size_t used = 0;
    long long value = std::stoll(number, &used);
    if (used == number.size() && value >= 0) return value * unit;
  } catch (const std::exception&) {
  }
  return make_error(ErrorCode::kInvalidArgument,
                    flag + " '" + text + "' must be a duration such as 90s, 15m, 24h or 7d");
}

// "50%" or "50" -> 50.
Result<double> parse_percent(const std::string& text, const std::string& flag) {
  std::string number = text;
  if (!number.empty() && number.back() == '%') number.pop_back();
  try {
    std::size_t used = 0;
    double value = std::stod(number, &used);
    if (used == number.size() && value > 0 && value <= 100) return value;
  } catch (const std::exception&) {
  }
  return make_error(ErrorCode::kInvalidArgument,
                    flag + " '" + text + "' must be a percentage in (0, 100], e.g. 50%");
}

Result<std::int64_t> parse_deployment_id(const std::string& text) {
  try {
    std::size_t used = 0;
    long long value = std::stoll(text, &used);
    if (used == text.size() && value > 0) return static_cast<std::int64_t>(value);
  } catch (const std::exception&) {
  }
  return make_error(ErrorCode::kInvalidArgument, "deployment id '" + text + "' must be a positive number");
}

std::string model_text(const std::optional<api::ModelRef>& model) { return model ? model->label() : "-"; }

// ---- enroll-token ----

struct TokenArgs {
  std::string group;
  std::string expires = "24h";
  std::int64_t uses = 1;
  std::string approval = "auto";
};

void register_enroll_token_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* tokens =
      app.add_subcommand("enroll-token", "Enrollment tokens devices join the fleet with (operator or admin)");
  tokens->require_subcommand(1);

  auto args = std::make_shared<TokenArgs>();
  auto* create =
      tokens->add_subcommand("create", "Create an enrollment token for one group; it is shown once");
  create->add_option("--group", args->group, "the group devices enrolling with this token join")->required();
  create->add_option("--expires", args->expires, "how long the token is valid, e.g. 90m, 24h, 7d");
  create->add_option("--uses", args->uses, "how many devices may enroll with it");
  create
      ->add_option("--approval", args->approval,
                   "auto: devices are active at once; manual: an operator approves each")
      ->check(CLI::IsMember({"auto", "manual"}));
  add_server_flags(create, globals);
  set_action(create, exit_code, [&globals, args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::int64_t expires_s, parse_duration_s(args->expires, "--expires"));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(
        Json token,
        client.create_enrollment_token({args->group, args->approval == "manual", expires_s, args->uses}));
    if (globals.json) {
      print_json(token);
    } else {
      std::printf("%s\n", token.value("token", "").c_str());
      std::fprintf(stderr,
                   "enrollment token %s for group %s: %lld use(s), %s approval, expires %s; shown only now\n",
                   token.value("id", "").c_str(), args->group.c_str(), static_cast<long long>(args->uses),
                   args->approval.c_str(), token.value("expires_at", "").c_str());
    }
    return {};
  });

  auto* list = tokens->add_subcommand("list", "List enrollment tokens (never their secrets)");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json list_json, client.list_enrollment_tokens());
    if (globals.json) {
      print_json(list_json);
      return {};
    }
    std::printf("%-14s %-16s %-8s %-9s %s\n", "ID", "GROUP", "USES", "APPROVAL", "EXPIRES");
    for (const auto& t : list_json["enrollment_tokens"]) {
      std::string uses = std::to_string(t.value("uses", 0)) + "/" + std::to_string(t.value("max_uses", 0));
      std::printf("%-14s %-16s %-8s %-9s %s\n", t.value("id", "").c_str(), t.value("group", "").c_str(),
                  uses.c_str(), t.value("approval", "").c_str(), t.value("expires_at", "").c_str());
    }
    return {};
  });
}

// ---- device ----

struct DeviceListArgs {
  std::string group, tag, status;
};

void print_device_row_header() {
  std::printf("%-16s %-20s %-14s %-10s %-26s %-16s %s\n", "ID", "NAME", "GROUP", "STATUS", "CURRENT", "STATE",
              "LAST SEEN");
}

void print_device_row(const api::DeviceInfo& d) {
  std::printf("%-16s %-20s %-14s %-10s %-26s %-16s %s\n", d.id.c_str(), d.name.c_str(), d.group.c_str(),
              std::string(api::device_status_name(d.status)).c_str(), model_text(d.current).c_str(),
              std::string(api::report_state_name(d.state)).c_str(),
              d.last_seen.empty() ? "-" : d.last_seen.c_str());
}

void register_device_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* device = app.add_subcommand(
      "device",
      "List, inspect, approve, revoke and decommission devices, set their field configuration, and read what "
      "they sent from the field");
  device->require_subcommand(1);

  auto list_args = std::make_shared<DeviceListArgs>();
  auto* list = device->add_subcommand("list", "List devices");
  list->add_option("--group", list_args->group, "only devices of this group");
  list->add_option("--tag", list_args->tag, "only devices with this tag, as key=value (or just key)");
  list->add_option("--status", list_args->status, "only devices with this status")
      ->check(CLI::IsMember({"pending", "active", "revoked", "decommissioned"}));
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, list_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    std::string tag = list_args->tag;
    if (auto eq = tag.find('='); eq != std::string::npos) tag[eq] = ':';
    CANOPY_ASSIGN_OR_RETURN(auto devices, client.list_devices(list_args->group, tag,
                                                              api::parse_device_status(list_args->status)));
    if (globals.json) {
      Json rows = Json::array();
      for (const auto& d : devices) rows.push_back(d.to_json());
      print_json({{"devices", rows}});
      return {};
    }
    print_device_row_header();
    for (const auto& d : devices) print_device_row(d);
    return {};
  });

  auto id = std::make_shared<std::string>();
  auto* show = device->add_subcommand("show", "Show one device and its recent status reports");
  show->add_option("ID", *id, "device id from 'canopy device list'")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::DeviceInfo d, client.show_device(*id));
    if (globals.json) {
      print_json(d.to_json());
      return {};
    }
    std::string tags;
    for (const auto& [key, value] : d.tags) tags += (tags.empty() ? "" : ", ") + key + "=" + value;
    std::printf("id:          %s\n", d.id.c_str());
    std::printf("name:        %s\n", d.name.c_str());
    std::printf("group:       %s\n", d.group.c_str());
    std::printf("status:      %s\n", std::string(api::device_status_name(d.status)).c_str());
    std::printf("tags:        %s\n", tags.empty() ? "-" : tags.c_str());
    std::printf("agent:       %s\n", d.agent_version.c_str());
    std::printf("current:     %s\n", model_text(d.current).c_str());
    std::printf("previous:    %s\n", model_text(d.previous).c_str());
    std::printf("state:       %s (health %s)\n", std::string(api::report_state_name(d.state)).c_str(),
                d.health.c_str());
    std::printf("last error:  %s\n", d.last_error.c_str());
    std::printf("last seen:   %s\n", d.last_seen.empty() ? "-" : d.last_seen.c_str());
    std::printf("enrolled:    %s\n", d.enrolled_at.c_str());
    std::printf("reports:\n");
    for (const auto& [r, received_at] :
         d.reports ? *d.reports : std::vector<api::DeviceInfo::ReceivedReport>{}) {
      std::string deployment =
          r.deployment_id ? "deployment " + std::to_string(*r.deployment_id) : std::string("no deployment");
      std::printf("  %s  %-16s %-16s %s\n", received_at.c_str(),
                  std::string(api::report_state_name(r.state)).c_str(), deployment.c_str(), r.error.c_str());
    }
    return {};
  });

  for (const char* operation : {"approve", "revoke", "decommission"}) {
    const std::string op = operation;
    const std::string help = op == "approve" ? "Approve a pending device (operator or admin)"
                             : op == "revoke"
                                 ? "Revoke a device: its token stops working at once (operator or admin)"
                                 : "Decommission a device for good (operator or admin)";
    auto target = std::make_shared<std::string>();
    auto* command = device->add_subcommand(op, help);
    command->add_option("ID", *target, "device id from 'canopy device list'")->required();
    add_server_flags(command, globals);
    set_action(command, exit_code, [&globals, target, op]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
      CANOPY_ASSIGN_OR_RETURN(api::DeviceInfo d, client.change_device(*target, op));
      if (globals.json)
        print_json(d.to_json());
      else
        std::printf("device %s (%s) is %s\n", d.id.c_str(), d.name.c_str(),
                    std::string(api::device_status_name(d.status)).c_str());
      return {};
    });
  }
}

// ---- deploy ----

struct DeployArgs {
  std::string model, alias, group, devices, canary, waves = "100%", soak = "0s";
  std::int64_t version = 0;
  std::vector<std::string> tags;
  double success_ratio = 0.9, max_failure_ratio = 0.2;
  std::int64_t min_failures = 2;
  bool no_auto_rollback = false;
  bool allow_empty = false;
};

Result<api::DeploymentRequest> deployment_request(const DeployArgs& args) {
  api::DeploymentRequest request;
  if ((args.version > 0) == !args.alias.empty())
    return make_error(ErrorCode::kInvalidArgument, "give exactly one of --version or --alias");
  request.model = args.version > 0 ? api::ModelSelector::of_version(args.model, args.version)
                                   : api::ModelSelector::of_alias(args.model, args.alias);
  request.allow_empty = args.allow_empty;

  const int targets = !args.group.empty() + !args.tags.empty() + !args.devices.empty();
  if (targets != 1)
    return make_error(ErrorCode::kInvalidArgument, "give exactly one of --group, --tag or --devices");
  if (!args.group.empty()) {
    request.target.group = args.group;
  } else if (!args.tags.empty()) {
    for (const auto& tag : args.tags) {
      auto eq = tag.find('=');
      if (eq == std::string::npos || eq == 0)
        return make_error(ErrorCode::kInvalidArgument, "--tag '" + tag + "' must be key=value");
      request.target.tags[tag.substr(0, eq)] = tag.substr(eq + 1);
    }
  } else {
    for (const auto& id : split(args.devices, ',')) request.target.devices.insert(id);
  }

  CANOPY_ASSIGN_OR_RETURN(std::int64_t soak_s, parse_duration_s(args.soak, "--soak"));
  api::RolloutStrategy& strategy = request.strategy;
  strategy.max_failure_ratio = args.max_failure_ratio;
  strategy.min_failures = args.min_failures;
  strategy.auto_rollback = !args.no_auto_rollback;
  if (!args.canary.empty()) {
    api::RolloutStage canary{"canary", std::nullopt, 0, soak_s, args.success_ratio};
    if (args.canary.back() == '%') {
      CANOPY_ASSIGN_OR_RETURN(canary.percent, parse_percent(args.canary, "--canary"));
    } else {
      const std::optional<std::int64_t> count = parse_int(args.canary);
      if (!count || *count < 1)
        return make_error(ErrorCode::kInvalidArgument,
                          "--canary '" + args.canary + "' must be a count (2) or a share (10%)");
      canary.count = count;
    }
    strategy.stages.push_back(canary);
  }
  for (const auto& wave : split(args.waves, ',')) {
    CANOPY_ASSIGN_OR_RETURN(double percent, parse_percent(wave, "--waves"));
    const std::string name = "wave " + std::to_string(strategy.stages.size() + (args.canary.empty() ? 1 : 0));
    strategy.stages.push_back({name, std::nullopt, percent, soak_s, args.success_ratio});
  }
  return request;
}

// The server names request fields; the person typed flags. Its messages say
// "field 'strategy.waves' ...": say the flag instead.
Error in_flag_terms(Error error) {
  static const std::pair<const char*, const char*> kFlags[] = {
      {"'strategy.waves'", "--waves"},
      {"'strategy.canary.count'", "--canary"},
      {"'strategy.canary.percent'", "--canary"},
      {"'strategy.canary'", "--canary"},
      {"'soak_s'", "--soak"},
      {"'success_ratio'", "--success-ratio"},
      {"'max_failure_ratio'", "--max-failure-ratio"},
      {"'min_failures'", "--min-failures"},
      {"'target.devices'", "--devices"},
      {"'target.tags'", "--tag"},
      {"'target.group'", "--group"},
      {"'alias'", "--alias"},
      {"'version'", "--version"},
      {"'model'", "--model"},
  };
  for (const auto& [field, flag] : kFlags) {
    const std::string quoted = std::string("field ") + field;
    for (auto at = error.message.find(quoted); at != std::string::npos; at = error.message.find(quoted))
      error.message.replace(at, quoted.size(), flag);
  }
  return error;
}

void print_deployment_row(const api::DeploymentStatus& d) {
  const std::string progress = std::to_string(d.successes) + "/" + std::to_string(d.targeted);
  std::printf("%-5lld %-30s %-12s %-8s %-9s %-7zu %s\n", static_cast<long long>(d.id),
              d.package.model.label().c_str(), std::string(api::deployment_state_name(d.state)).c_str(),
              d.stage_name.c_str(), progress.c_str(), d.failures, d.created_at.c_str());
}

// What a rollback did: which devices return, and why the others stay.
std::string rollback_text(const api::RollbackSummary& r) {
  std::string out = std::to_string(r.returning) + " device(s) return to their previous model";
  if (r.returning > 0) out += " (" + std::to_string(r.reverted) + " back already)";
  if (r.no_previous > 0)
    out += "; " + std::to_string(r.no_previous) + " keep this model: they had none before it";
  if (r.not_installed > 0)
    out += "; " + std::to_string(r.not_installed) + " never installed it: nothing to undo";
  return out;
}

// The progress view: one block per refresh, everything `deploy status` knows.
void print_deployment_status(const api::DeploymentStatus& d) {
  const bool finished = d.state != api::DeploymentState::kRunning && d.state != api::DeploymentState::kPaused;
  std::printf("deployment %lld: %s  %s", static_cast<long long>(d.id), d.package.model.label().c_str(),
              std::string(api::deployment_state_name(d.state)).c_str());
  if (finished)
    std::printf("  since %s\n", d.updated_at.c_str());
  else
    std::printf("  stage %s since %s\n", d.stage_name.c_str(), d.stage_started_at.c_str());
  if (!d.reason.empty()) std::printf("reason: %s\n", d.reason.c_str());
  if (d.rollback) std::printf("rollback: %s\n", rollback_text(*d.rollback).c_str());
  std::printf("target %s: %zu devices, %zu admitted, %zu succeeded, %zu failed\n",
              d.target.describe().c_str(), d.targeted, d.admitted, d.successes, d.failures);
  if (d.detail) {
    std::printf("  %-8s %-8s %-10s %-9s %-8s %s\n", "STAGE", "STATUS", "ADMITTED", "SUCCESS", "FAILED",
                "RULE");
    for (const auto& s : d.detail->stages) {
      const std::string admitted = std::to_string(s.admitted) + "/" + std::to_string(s.size);
      const char* status = s.status == api::StageStatus::kDone      ? "done"
                           : s.status == api::StageStatus::kCurrent ? "current"
                                                                    : "waiting";
      char rule[64];
      std::snprintf(rule, sizeof rule, "soak %llds, success >= %.0f%%", static_cast<long long>(s.soak_s),
                    s.success_ratio * 100);
      std::printf("  %-8s %-8s %-10s %-9zu %-8zu %s\n", s.name.c_str(), status, admitted.c_str(), s.successes,
                  s.failures, rule);
    }
  }
  std::string counts;
  for (const auto& [state, count] : d.counts)
    counts += (counts.empty() ? "" : ", ") + state + " " + std::to_string(count);
  std::printf("devices by state: %s\n", counts.empty() ? "none" : counts.c_str());
  if (d.detail && !d.detail->failure_reports.empty()) {
    std::printf("failures:\n");
    for (const auto& f : d.detail->failure_reports)
      std::printf("  %s %-20s %-12s %s\n", f.device_id.c_str(), f.name.c_str(), f.state.c_str(),
                  f.error.c_str());
  }
}

bool is_settled(api::DeploymentState state) { return state != api::DeploymentState::kRunning; }

// Refreshes until the deployment settles; the exit code says whether it completed.
Status watch_deployment(client::FleetClient& client, std::int64_t id, std::int64_t interval_s,
                        const Globals& globals) {
  const bool terminal = ::isatty(STDOUT_FILENO) != 0 && !globals.json;
  std::string last;
  while (true) {
    CANOPY_ASSIGN_OR_RETURN(api::DeploymentStatus d, client.deployment_status(id));
    const std::string shown = d.to_json().dump();
    if (shown != last) {
      if (terminal) std::printf("\033[H\033[2J");  // redraw in place
      if (globals.json)
        std::printf("%s\n", shown.c_str());
      else
        print_deployment_status(d);
      if (!terminal && !globals.json) std::printf("\n");
      std::fflush(stdout);
      last = shown;
    }
    if (is_settled(d.state)) {
      if (d.state == api::DeploymentState::kCompleted) return {};
      return make_error(ErrorCode::kConflict, "deployment " + std::to_string(id) + " is " +
                                                  std::string(api::deployment_state_name(d.state)) +
                                                  (d.reason.empty() ? "" : ": " + d.reason));
    }
    std::this_thread::sleep_for(std::chrono::seconds(interval_s));
  }
}

struct StatusArgs {
  std::string id;
  bool watch = false;
  std::string interval = "2s";
};

void register_deploy_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* deploy = app.add_subcommand("deploy", "Roll a model version out to devices: canary, waves, rollback");
  deploy->require_subcommand(1);

  auto args = std::make_shared<DeployArgs>();
  auto* create = deploy->add_subcommand(
      "create",
      "Start a deployment; it supersedes any active one for the devices it targets (publisher role)");
  create->add_option("--model", args->model, "model name")->required();
  create->add_option("--version", args->version, "version number to roll out");
  create->add_option("--alias", args->alias, "roll out the version this alias points at now");
  create->add_option("--group", args->group, "target every device of this group");
  create->add_option("--tag", args->tags, "target devices with this tag, key=value (repeat: all must match)");
  create->add_option("--devices", args->devices, "target these device ids, comma-separated");
  create->add_option("--canary", args->canary, "canary stage first: a device count (2) or a share (10%)");
  create->add_option("--waves", args->waves, "cumulative wave shares, ending at 100%");
  create->add_option("--soak", args->soak, "time each stage runs before the next may start, e.g. 60s");
  create->add_option("--success-ratio", args->success_ratio, "share of admitted devices that must succeed")
      ->check(CLI::Range(0.0, 1.0));
  create
      ->add_option("--max-failure-ratio", args->max_failure_ratio,
                   "failure share above which the deployment stops")
      ->check(CLI::Range(0.0, 1.0));
  create->add_option("--min-failures", args->min_failures, "failures needed before the ratio is applied")
      ->check(CLI::PositiveNumber);
  create->add_flag("--no-auto-rollback", args->no_auto_rollback,
                   "on too many failures only pause; by default succeeded devices are rolled back");
  create->add_flag(
      "--allow-empty", args->allow_empty,
      "accept a target no device matches yet: the deployment waits for devices that enroll later");
  add_server_flags(create, globals);
  set_action(create, exit_code, [&globals, args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(api::DeploymentRequest request, deployment_request(*args));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    auto created = client.create_deployment(request);
    if (!created.ok()) return in_flag_terms(created.error());
    const api::DeploymentStatus& d = *created;
    if (globals.json)
      print_json(d.to_json());
    else
      std::printf("deployment %lld: %s to %zu devices, %zu admitted (%s)\n", static_cast<long long>(d.id),
                  d.package.model.label().c_str(), d.targeted, d.admitted, d.stage_name.c_str());
    return {};
  });

  auto* list = deploy->add_subcommand("list", "List deployments, newest first");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(auto deployments, client.list_deployments());
    if (globals.json) {
      Json rows = Json::array();
      for (const auto& d : deployments) rows.push_back(d.to_json());
      print_json({{"deployments", rows}});
      return {};
    }
    std::printf("%-5s %-30s %-12s %-8s %-9s %-7s %s\n", "ID", "MODEL", "STATE", "STAGE", "SUCCESS", "FAILED",
                "CREATED");
    for (const auto& d : deployments) print_deployment_row(d);
    return {};
  });

  auto status_args = std::make_shared<StatusArgs>();
  auto* status = deploy->add_subcommand(
      "status",
      "Show a deployment's waves, device states and failures; --watch refreshes until it completes, "
      "is rolled back, aborted or paused (exit 0 only when completed)");
  status->add_option("ID", status_args->id, "deployment id")->required();
  status->add_flag("--watch,-w", status_args->watch, "refresh until the deployment settles");
  status->add_option("--interval", status_args->interval, "refresh interval with --watch");
  add_server_flags(status, globals);
  set_action(status, exit_code, [&globals, status_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::int64_t id, parse_deployment_id(status_args->id));
    CANOPY_ASSIGN_OR_RETURN(std::int64_t interval_s, parse_duration_s(status_args->interval, "--interval"));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    if (status_args->watch)
      return watch_deployment(client, id, std::max<std::int64_t>(interval_s, 1), globals);
    CANOPY_ASSIGN_OR_RETURN(api::DeploymentStatus d, client.deployment_status(id));
    if (globals.json)
      print_json(d.to_json());
    else
      print_deployment_status(d);
    return {};
  });

  for (const char* operation : {"pause", "resume", "abort", "rollback"}) {
    const std::string op = operation;
    const std::string help =
        op == "pause"    ? "Pause: no more devices are admitted (publisher role)"
        : op == "resume" ? "Resume a paused deployment; earlier failures are acknowledged"
        : op == "abort"  ? "Abort: devices keep what they run, nothing more is sent"
                         : "Roll back: devices that installed it return to their previous model";
    auto target = std::make_shared<std::string>();
    auto* command = deploy->add_subcommand(op, help);
    command->add_option("ID", *target, "deployment id")->required();
    add_server_flags(command, globals);
    set_action(command, exit_code, [&globals, target, op]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(std::int64_t id, parse_deployment_id(*target));
      CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
      CANOPY_ASSIGN_OR_RETURN(api::DeploymentStatus d, client.control_deployment(id, op));
      if (globals.json)
        print_json(d.to_json());
      else if (d.rollback)
        std::printf("deployment %lld is %s: %s\n", static_cast<long long>(id),
                    std::string(api::deployment_state_name(d.state)).c_str(),
                    rollback_text(*d.rollback).c_str());
      else
        std::printf("deployment %lld is %s\n", static_cast<long long>(id),
                    std::string(api::deployment_state_name(d.state)).c_str());
      return {};
    });
  }
}

}  // namespace

void register_fleet_commands(CLI::App& app, Globals& globals, int& exit_code) {
  register_enroll_token_commands(app, globals, exit_code);
  register_device_commands(app, globals, exit_code);
  register_deploy_commands(app, globals, exit_code);
}

}  // namespace canopy::cli
