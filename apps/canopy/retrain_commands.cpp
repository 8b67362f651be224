// `canopy worker` (claims retrain jobs and runs the retrain pipeline on
// them, docs/loop.md "Workers"), `canopy retrain` (policies and jobs),
// `canopy drift` and `canopy lineage`.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "cli.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "common/text.h"

namespace canopy::cli {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> stop_requested{false};

void request_stop(int) { stop_requested = true; }

struct WorkerArgs {
  std::string pipeline;
  std::string workspace = "canopy-worker";
  std::string name;
  bool once = false;
  double poll_s = 10;
  std::vector<std::string> parameters;  // NAME=VALUE, after the job's own
};

std::string parameter_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return value.dump();
}

std::set<std::string> runs_in(const fs::path& workspace) {
  std::set<std::string> runs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(workspace / "runs", ec))
    runs.insert(entry.path().filename());
  return runs;
}

// The outcome the run record of the pipeline's run tells: which gate or
// step failed, and the run's id.
api::JobOutcome outcome_of(const fs::path& workspace, const std::set<std::string>& before, int exit_code) {
  api::JobOutcome outcome;
  outcome.exit_code = exit_code;
  // Run ids sort by their start; the server reads at most the last 64.
  outcome.earlier_runs.assign(before.size() > 64 ? std::prev(before.end(), 64) : before.begin(),
                              before.end());
  for (const std::string& run : runs_in(workspace)) {
    if (before.count(run)) continue;
    outcome.run_id = run;
    auto text = read_file(workspace / "runs" / run / "run.json");
    auto record = text.ok() ? parse_json(*text, "run record") : Result<Json>(text.error());
    if (!record.ok()) break;
    for (const Json& gate : record->value("gates", Json::array()))
      if (gate.value("status", "") == "failed") {
        outcome.gate_failed = true;
        outcome.message = "gate " + gate.value("gate", "") + " failed: " + gate.value("message", "");
        return outcome;
      }
    for (const Json& step : record->value("steps", Json::array())) {
      const std::string status = step.value("status", "");
      if (status == "failed" || status == "timed-out" || status == "interrupted")
        outcome.message = "step " + step.value("name", "") + " " + status;
    }
  }
  if (exit_code != 0 && outcome.message.empty())
    outcome.message = "the pipeline exited with " + std::to_string(exit_code);
  return outcome;
}

// Runs the pipeline on one leased job, renewing the lease, and reports the
// end. A lease lost to another worker stops the pipeline, reporting nothing.
Status run_job(client::FleetClient& client, const Globals& globals, const WorkerArgs& args,
               const std::string& name, const api::JobLease& lease) {
  const api::RetrainJob& job = lease.job;
  std::printf(
      "job %lld: %s, %s; dataset %s, from %s (attempt %d)\n", static_cast<long long>(job.id),
      job.model.c_str(), job.reason.c_str(), job.dataset.c_str(),
      job.parent_version > 0 ? (job.model + ":" + std::to_string(job.parent_version)).c_str() : "nothing",
      job.attempts);
  std::fflush(stdout);
  // One workspace per job: a worker that takes the job over finds the
  // finished steps in the step cache and the trainer's checkpoint.
  const fs::path workspace = fs::absolute(args.workspace) / ("job-" + std::to_string(job.id));
  const std::set<std::string> before = runs_in(workspace);
  Subprocess::Options options;
  options.argv = {fs::read_symlink("/proc/self/exe").string(),
                  "pipeline",
                  "run",
                  args.pipeline,
                  "--workspace",
                  workspace.string()};
  for (const auto& [key, value] : job.parameters.items()) {
    options.argv.push_back("--param");
    options.argv.push_back(key + "=" + parameter_text(value));
  }
  for (const std::string& parameter : args.parameters) {
    options.argv.push_back("--param");
    options.argv.push_back(parameter);
  }
  const std::string server = globals.config.get("server");
  const std::string key = globals.config.get("api_key");
  options.env = {{"CANOPY_SERVER", server},
                 {"CANOPY_API_KEY", key},
                 {"API_KEY", key},
                 {"MODEL_REPOSITORY", server + "/repository"},
                 {"CANOPY_JOB", std::to_string(job.id)}};
  // The pipeline trusts the server as the worker does; its curl steps read
  // CURL_CA_BUNDLE (docs/security.md).
  const HttpOptions trust = server_http_options(globals);
  if (!trust.ca_file.empty()) {
    options.env["CANOPY_CA_FILE"] = trust.ca_file;
    options.env["CURL_CA_BUNDLE"] = trust.ca_file;
  }
  if (!trust.server_pin.empty()) options.env["CANOPY_SERVER_PIN"] = trust.server_pin;
  // A worker killed with SIGKILL takes its pipeline with it; the job's lease then runs out.
  options.parent_death_signal = SIGTERM;
  CANOPY_ASSIGN_OR_RETURN(Subprocess pipeline, Subprocess::start(options));

  const auto started = std::chrono::steady_clock::now();
  const auto renew_every = std::chrono::milliseconds(std::max<std::int64_t>(lease.lease_s * 1000 / 3, 200));
  auto next_renewal = started + renew_every;
  std::optional<int> exit_code;
  while (!(exit_code = pipeline.try_wait())) {
    if (stop_requested) pipeline.signal(SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() < next_renewal) continue;
    next_renewal += renew_every;
    const auto running_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
    auto renewed =
        client.job_heartbeat(job.id, name, "running the pipeline for " + std::to_string(running_s) + " s");
    if (!renewed.ok() && renewed.error().code == ErrorCode::kConflict) {
      std::fprintf(stderr, "job %lld: %s\n", static_cast<long long>(job.id), renewed.error().message.c_str());
      pipeline.signal(SIGTERM);
      pipeline.wait();
      return {};
    }
    if (!renewed.ok())  // the network: the lease may still be ours; the end's report will tell
      std::fprintf(stderr, "job %lld: lease not renewed: %s\n", static_cast<long long>(job.id),
                   renewed.error().message.c_str());
  }
  if (stop_requested)
    return make_error(ErrorCode::kIo, "stopped; the job returns to the queue when its lease runs out");
  api::JobOutcome outcome = outcome_of(workspace, before, *exit_code);
  outcome.worker = name;
  CANOPY_ASSIGN_OR_RETURN(api::RetrainJob done, client.complete_job(job.id, outcome));
  std::printf(
      "job %lld: %s%s%s%s\n", static_cast<long long>(done.id), done.state.c_str(),
      done.version > 0 ? (", published " + done.model + ":" + std::to_string(done.version)).c_str() : "",
      done.message.empty() ? "" : (": " + done.message).c_str(),
      done.promotion_note.empty() ? "" : ("; " + done.promotion_note).c_str());
  std::fflush(stdout);
  return {};
}

Status run_worker(const Globals& globals, const WorkerArgs& args) {
  if (!fs::is_regular_file(args.pipeline))
    return make_error(ErrorCode::kNotFound, "pipeline file " + args.pipeline + " does not exist");
  CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string name =
      args.name.empty() ? std::string(host) + "-" + std::to_string(::getpid()) : args.name;
  ::signal(SIGTERM, request_stop);
  ::signal(SIGINT, request_stop);
  if (!globals.quiet)
    std::fprintf(stderr, "worker %s: claiming retrain jobs from %s\n", name.c_str(),
                 globals.config.get("server").c_str());
  while (!stop_requested) {
    auto lease = client.claim_job(name);
    if (!lease.ok()) {
      if (args.once) return lease.error();
      std::fprintf(stderr, "worker %s: %s\n", name.c_str(), lease.error().message.c_str());
    } else if (*lease) {
      CANOPY_TRY(run_job(client, globals, args, name, **lease));
      if (args.once) return {};
      continue;
    } else if (args.once) {
      std::printf("no retrain job is waiting\n");
      return {};
    }
    for (double waited = 0; waited < args.poll_s && !stop_requested; waited += 0.1)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {};
}

void print_job(const api::RetrainJob& job) {
  std::printf("%-5lld %-10s %-24s %-22s %s%s\n", static_cast<long long>(job.id), job.state.c_str(),
              job.model.c_str(), job.dataset.c_str(), job.reason.c_str(),
              job.version > 0
                  ? (" -> " + job.model + ":" + std::to_string(job.version) + " " + job.promotion).c_str()
                  : "");
}

Result<std::int64_t> job_number(const std::string& text) {
  const std::optional<std::int64_t> id = parse_int(text);
  if (!id || *id <= 0)
    return make_error(ErrorCode::kInvalidArgument, "'" + text + "' must be a positive number");
  return *id;
}

}  // namespace

void register_retrain_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto args = std::make_shared<WorkerArgs>();
  auto* worker = app.add_subcommand(
      "worker",
      "Claim retrain jobs from the server and run the retrain pipeline on each (needs canopy-train on PATH)");
  worker->add_option("--pipeline", args->pipeline, "the retrain pipeline (examples/agriculture/retrain.yaml)")
      ->required();
  worker->add_option("--workspace", args->workspace,
                     "where jobs run, one folder each (default ./canopy-worker)");
  worker->add_option("--name", args->name, "this worker's name on the server (default HOST-PID)");
  worker->add_flag("--once", args->once, "run at most one job, then exit");
  worker->add_option("--poll-interval", args->poll_s, "seconds between claims while no job waits")
      ->check(CLI::Range(0.1, 3600.0));
  worker->add_option("--param", args->parameters,
                     "a pipeline parameter NAME=VALUE for every job (repeatable)");
  add_server_flags(worker, globals);
  set_action(worker, exit_code, [&globals, args]() -> Status { return run_worker(globals, *args); });

  auto* retrain = app.add_subcommand("retrain", "Retrain policies and the jobs they queue");
  retrain->require_subcommand(1);

  // Each setting given on the command line, as the policy's JSON member.
  struct PolicyEdits {
    std::string model, file;
    std::optional<std::string> promotion, field, group;
    std::optional<std::int64_t> min_new_labels, every_s, min_interval_s;
    std::optional<bool> on_drift, enabled;
    std::vector<std::string> parameters;  // NAME=VALUE
    bool any() const {
      return !file.empty() || promotion || field || group || min_new_labels || every_s || min_interval_s ||
             on_drift || enabled || !parameters.empty();
    }
  };
  auto edits = std::make_shared<PolicyEdits>();
  auto* set = retrain->add_subcommand(
      "policy",
      "Show a model's retrain policy, or set it from a JSON file and the settings given (docs/loop.md)");
  set->add_option("model", edits->model, "the model")->required();
  set->add_option("--file", edits->file,
                  "the policy as JSON (without it, the settings below change the stored one)");
  set->add_option("--promotion", edits->promotion, "automatic, approval or manual");
  set->add_option("--min-new-labels", edits->min_new_labels,
                  "queue a job after this many new labels (0: never)");
  set->add_option("--on-drift", edits->on_drift, "queue a job on a drift alert (true or false)");
  set->add_option("--every", edits->every_s, "queue a job every this many seconds (0: no schedule)");
  set->add_option("--min-interval", edits->min_interval_s, "seconds between jobs at the least");
  set->add_option("--field", edits->field, "train on this field's labeled samples (empty: every field)");
  set->add_option("--group", edits->group, "roll promoted versions out to this device group");
  set->add_option("--enabled", edits->enabled, "whether the triggers queue jobs (true or false)");
  set->add_option("--param", edits->parameters,
                  "a pipeline parameter NAME=VALUE for the worker (repeatable)");
  add_server_flags(set, globals);
  set_action(set, exit_code, [&globals, edits]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    auto current = client.retrain_policy(edits->model);
    if (!edits->any()) {
      if (!current.ok()) return current.error();
      print_json(*current);
      return {};
    }
    Json json = Json::object();
    if (!edits->file.empty()) {
      CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(edits->file));
      CANOPY_ASSIGN_OR_RETURN(json, parse_json(text, edits->file));
    } else if (current.ok()) {
      json = current->at("policy");
    } else if (current.error().code != ErrorCode::kNotFound) {
      return current.error();
    }
    if (!json.is_object())
      return make_error(ErrorCode::kInvalidArgument, edits->file + ": the policy must be a JSON object");
    json["model"] = edits->model;
    if (edits->promotion) json["promotion"] = *edits->promotion;
    if (edits->min_new_labels) json["min_new_labels"] = *edits->min_new_labels;
    if (edits->on_drift) json["on_drift"] = *edits->on_drift;
    if (edits->every_s) json["every_s"] = *edits->every_s;
    if (edits->min_interval_s) json["min_interval_s"] = *edits->min_interval_s;
    if (edits->field) json["field"] = *edits->field;
    if (edits->group) json["target"] = {{"group", *edits->group}};
    if (edits->enabled) json["enabled"] = *edits->enabled;
    for (const std::string& parameter : edits->parameters) {
      const auto equals = parameter.find('=');
      if (equals == std::string::npos || equals == 0)
        return make_error(ErrorCode::kInvalidArgument, "--param " + parameter + ": expected NAME=VALUE");
      const std::string value = parameter.substr(equals + 1);
      auto number = parse_json(value);  // 4, 0.5, true: as JSON; anything else a string
      json["parameters"][parameter.substr(0, equals)] =
          number.ok() && !number->is_object() && !number->is_array() ? *number : Json(value);
    }
    CANOPY_ASSIGN_OR_RETURN(api::RetrainPolicy policy, api::RetrainPolicy::from_json(json));
    CANOPY_ASSIGN_OR_RETURN(api::RetrainPolicy stored, client.set_retrain_policy(policy));
    print_json(stored.to_json());
    return {};
  });

  auto model = std::make_shared<std::string>();
  auto* start = retrain->add_subcommand("start", "Queue a retrain job for a model now");
  start->add_option("model", *model, "the model")->required();
  add_server_flags(start, globals);
  set_action(start, exit_code, [&globals, model]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, client.request_job(*model));
    if (globals.json)
      print_json(job.to_json());
    else
      print_job(job);
    return {};
  });

  auto filter_model = std::make_shared<std::string>();
  auto filter_state = std::make_shared<std::string>();
  auto* list = retrain->add_subcommand("jobs", "List retrain jobs, newest first");
  list->add_option("--model", *filter_model, "only this model's");
  list->add_option("--state", *filter_state,
                   "only jobs in this state (queued, running, succeeded, rejected, failed)");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, filter_model, filter_state]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(std::vector<api::RetrainJob> jobs,
                            client.list_jobs(*filter_model, *filter_state));
    if (globals.json) {
      Json rows = Json::array();
      for (const auto& job : jobs) rows.push_back(job.to_json());
      print_json(rows);
      return {};
    }
    std::printf("%-5s %-10s %-24s %-22s %s\n", "JOB", "STATE", "MODEL", "DATASET", "REASON");
    for (const auto& job : jobs) print_job(job);
    return {};
  });

  auto job_id = std::make_shared<std::string>();
  auto* show = retrain->add_subcommand("show", "Show one retrain job");
  show->add_option("job", *job_id, "the job number")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, job_id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::int64_t id, job_number(*job_id));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, client.job(id));
    print_json(job.to_json());
    return {};
  });
  for (const char* operation : {"approve", "decline", "cancel"}) {
    auto* control = retrain->add_subcommand(
        operation, std::string(operation) == "cancel" ? "Cancel a queued or running job"
                   : std::string(operation) == "approve"
                       ? "Approve a challenger waiting for approval: production moves and its rollout starts"
                       : "Decline a challenger waiting for approval");
    control->add_option("job", *job_id, "the job number")->required();
    add_server_flags(control, globals);
    set_action(control, exit_code, [&globals, job_id, operation]() -> Status {
      CANOPY_ASSIGN_OR_RETURN(std::int64_t id, job_number(*job_id));
      CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
      CANOPY_ASSIGN_OR_RETURN(api::RetrainJob job, client.control_job(id, operation));
      if (globals.json)
        print_json(job.to_json());
      else
        print_job(job);
      return {};
    });
  }

  auto all_alerts = std::make_shared<bool>(false);
  auto* drift =
      app.add_subcommand("drift", "The drift monitor: per model version and field, each measure and alert");
  drift->add_flag("--all", *all_alerts, "cleared alerts too");
  add_server_flags(drift, globals);
  set_action(drift, exit_code, [&globals, all_alerts]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json answer, client.drift(*all_alerts));
    if (globals.json) {
      print_json(answer);
      return {};
    }
    for (const Json& report : answer["reports"]) {
      std::printf("%s in %s:", report.value("model", "").c_str(), report.value("field", "").c_str());
      for (const Json& measure : report["measures"])
        std::printf(" %s=%s%s", measure.value("name", "").c_str(),
                    measure["value"].is_number()
                        ? std::to_string(measure["value"].get<double>()).substr(0, 5).c_str()
                        : "-",
                    measure.value("drifted", false) ? "!" : "");
      std::printf("\n");
    }
    for (const Json& alert : answer["alerts"])
      std::printf("alert %lld %s: %s %s\n", static_cast<long long>(alert.value("id", 0)),
                  alert.value("state", "").c_str(), alert.value("model", "").c_str(),
                  alert.value("description", "").c_str());
    return {};
  });

  auto subject = std::make_shared<std::string>();
  auto is_sample = std::make_shared<bool>(false);
  auto* lineage = app.add_subcommand(
      "lineage",
      "Where a model version came from (job, run, dataset, samples, devices), or where a sample went");
  lineage->add_option("subject", *subject, "MODEL:VERSION, or a sample id with --sample")->required();
  lineage->add_flag("--sample", *is_sample, "the subject is a sample id");
  add_server_flags(lineage, globals);
  set_action(lineage, exit_code, [&globals, subject, is_sample]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    if (*is_sample) {
      CANOPY_ASSIGN_OR_RETURN(Json answer, client.lineage_of_sample(*subject));
      print_json(answer);
      return {};
    }
    const auto colon = subject->rfind(':');
    if (colon == std::string::npos) return make_error(ErrorCode::kInvalidArgument, "expected MODEL:VERSION");
    CANOPY_ASSIGN_OR_RETURN(std::int64_t version, job_number(subject->substr(colon + 1)));
    CANOPY_ASSIGN_OR_RETURN(Json answer, client.lineage_of_version(subject->substr(0, colon), version));
    print_json(answer);
    return {};
  });
}

}  // namespace canopy::cli
