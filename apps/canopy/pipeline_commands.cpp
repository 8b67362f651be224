// `canopy pipeline run|validate|runs|show` (src/pipeline) and `canopy run
// show|list` (run records on the registry server).
#include <cstdio>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "pipeline/pipeline.h"
#include "pipeline/runner.h"
#include "pipeline/workspace.h"

namespace canopy::cli {

namespace {

struct RunArgs {
  std::string file;
  std::vector<std::string> parameters;
  std::vector<std::string> only;
  std::string from;
  bool force = false;
  int jobs = 1;
  bool dry_run = false;
  std::string workspace;
  bool containers = false;
};

struct WorkspaceArgs {
  std::string workspace;
  std::string file;
  std::string run;
};

// --workspace, else .canopy next to --file, else the `pipeline.workspace`
// setting, else .canopy in the current directory.
std::filesystem::path workspace_dir(const Globals& globals, const WorkspaceArgs& args) {
  if (!args.workspace.empty()) return args.workspace;
  if (!args.file.empty()) return pipeline::default_workspace(args.file);
  return globals.config.get("pipeline.workspace", ".canopy");
}

void add_workspace_flags(CLI::App* command, WorkspaceArgs& args) {
  command->add_option("--workspace", args.workspace,
                      "workspace directory (default: .canopy, or setting pipeline.workspace)");
  command->add_option("-f,--file", args.file, "pipeline file whose workspace to read (.canopy next to it)");
}

Result<pipeline::Workspace> open_workspace(const Globals& globals, const WorkspaceArgs& args) {
  const auto dir = workspace_dir(globals, args);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir / "runs", ec))
    return make_error(ErrorCode::kNotFound, "no pipeline workspace at " + dir.string() +
                                                " (run a pipeline first, or pass --workspace or --file)");
  CANOPY_ASSIGN_OR_RETURN(pipeline::Workspace workspace, pipeline::Workspace::open(dir));
  // Runs left "running" by a runner that died are shown as what they are;
  // when a runner is active it holds the lock and does this itself.
  if (auto lock = workspace.lock(); lock.ok()) (void)workspace.recover_stale_runs();
  return workspace;
}

std::string step_counts(const Json& run) {
  int done = 0, total = 0;
  for (const auto& step : run.value("steps", Json::array())) {
    ++total;
    const std::string status = step.value("status", "");
    if (status == "succeeded" || status == "cached") ++done;
  }
  return std::to_string(done) + "/" + std::to_string(total);
}

void print_run_details(const Json& run) {
  std::printf("run:        %s\n", run.value("id", "").c_str());
  std::printf("status:     %s\n", run.value("status", "").c_str());
  const Json pipeline = run.value("pipeline", Json::object());
  std::printf("pipeline:   %s (sha256 %s)\n", pipeline.value("file", "").c_str(),
              pipeline.value("sha256", "").substr(0, 16).c_str());
  const Json commit = run.value("git_commit", Json());
  std::printf("git commit: %s\n", commit.is_string() ? commit.get<std::string>().c_str() : "-");
  std::printf("started:    %s\n", run.value("started_at", "").c_str());
  std::printf("parameters: %s\n", run.value("parameters", Json::object()).dump().c_str());
  if (run.contains("model_versions")) {
    std::string versions;
    for (const auto& v : run["model_versions"])
      versions +=
          (versions.empty() ? "" : ", ") + v.value("model", "") + ":" + std::to_string(v.value("version", 0));
    std::printf("models:     %s\n", versions.empty() ? "-" : versions.c_str());
  }
  std::printf("\n%s\n", pipeline::format_summary(run).c_str());
}

void register_run_command(CLI::App* pipeline_cmd, Globals& globals, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  auto* run = pipeline_cmd->add_subcommand("run", "Run a pipeline: steps in DAG order, cached, recorded");
  run->add_option("FILE", args->file, "pipeline.yaml")->required()->check(CLI::ExistingFile);
  run->add_option("--param", args->parameters, "set a parameter: NAME=VALUE (repeatable)");
  run->add_option("--only", args->only, "run only this step (repeatable)")->delimiter(',');
  run->add_option("--from", args->from, "run this step and every step that depends on it");
  run->add_flag("--force", args->force, "ignore the cache: run every selected step");
  run->add_option("-j,--jobs", args->jobs, "independent steps to run at once")
      ->check(cli_support::integer_at_least(1));
  run->add_flag("--dry-run", args->dry_run, "print what would run and what is cached; run nothing");
  run->add_option("--workspace", args->workspace, "run records and cache (default: .canopy next to FILE)");
  run->add_flag("--containers", args->containers, "run each step in its image with docker or podman");
  add_server_flags(run, globals);
  run->callback([&globals, &exit_code, args] {
    pipeline::RunOptions options;
    options.pipeline_file = args->file;
    options.parameters = args->parameters;
    options.only = args->only;
    options.from = args->from;
    options.force = args->force;
    options.jobs = args->jobs;
    options.dry_run = args->dry_run;
    options.workspace = args->workspace.empty() ? globals.config.get("pipeline.workspace") : args->workspace;
    options.containers = args->containers;
    if (auto server = globals.config.find("server")) {
      auto key = globals.config.require("api_key");
      if (!key.ok()) {
        exit_code = report(key.error());
        return;
      }
      options.server_url = *server;
      options.api_key = *key;
      const HttpOptions trust = server_http_options(globals);
      options.ca_file = trust.ca_file;
      options.server_pin = trust.server_pin;
    }
    // With --json, stdout carries only the record; the live output goes to stderr.
    options.out = globals.json ? stderr : stdout;
    auto outcome = pipeline::run_pipeline(options);
    if (!outcome.ok()) {
      exit_code = report(outcome.error());
      return;
    }
    if (globals.json) print_json(outcome->record);
    exit_code = outcome->exit_code;
  });
}

}  // namespace

void register_pipeline_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* pipeline_cmd = app.add_subcommand("pipeline", "Run pipeline.yaml files and inspect their runs");
  pipeline_cmd->require_subcommand(1);
  register_run_command(pipeline_cmd, globals, exit_code);

  auto validate_file = std::make_shared<std::string>();
  auto* validate =
      pipeline_cmd->add_subcommand("validate", "Check a pipeline file: keys, types, depends, gates");
  validate->add_option("FILE", *validate_file, "pipeline.yaml")->required();
  set_action(validate, exit_code, [&globals, validate_file]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(pipeline::Pipeline parsed, pipeline::load_pipeline(*validate_file));
    Json steps = Json::array();
    for (const auto& name : parsed.topological_order()) {
      const pipeline::Step& step = *parsed.find_step(name);
      Json parameters = Json::array();
      for (const auto& p : step.parameters) parameters.push_back(p.name);
      Json variables = Json::array();
      for (const auto& v : step.environment) variables.push_back(v.name);
      steps.push_back({{"name", name},
                       {"depends", step.depends},
                       {"image", step.image},
                       {"commands", step.commands.size()},
                       {"parameters", parameters},
                       {"environment", variables}});
    }
    Json gates = Json::array();
    for (const auto& gate : parsed.gates) gates.push_back(gate.expression);
    if (globals.json) {
      print_json({{"file", *validate_file}, {"valid", true}, {"steps", steps}, {"gates", gates}});
      return {};
    }
    std::printf("%s: valid, %zu steps, %zu gates\n", validate_file->c_str(), parsed.steps.size(),
                parsed.gates.size());
    for (const auto& step : steps) {
      std::string after;
      for (const auto& d : step["depends"]) after += (after.empty() ? "" : ", ") + d.get<std::string>();
      std::printf("  %-24s after: %s\n", step["name"].get<std::string>().c_str(),
                  after.empty() ? "-" : after.c_str());
    }
    for (const auto& gate : parsed.gates) std::printf("  gate %s\n", gate.expression.c_str());
    return {};
  });

  auto runs_args = std::make_shared<WorkspaceArgs>();
  auto* runs = pipeline_cmd->add_subcommand("runs", "List the runs recorded in a workspace");
  add_workspace_flags(runs, *runs_args);
  set_action(runs, exit_code, [&globals, runs_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(pipeline::Workspace workspace, open_workspace(globals, *runs_args));
    CANOPY_ASSIGN_OR_RETURN(std::vector<Json> list, workspace.list_runs());
    if (globals.json) {
      print_json(list);
      return {};
    }
    std::printf("%-26s %-12s %-21s %9s %6s  %s\n", "RUN", "STATUS", "STARTED", "DURATION", "STEPS", "GIT");
    for (const auto& run : list) {
      char duration[32] = "-";
      if (run.contains("duration_s"))
        std::snprintf(duration, sizeof duration, "%.1fs", run.value("duration_s", 0.0));
      const Json commit = run.value("git_commit", Json());
      std::printf("%-26s %-12s %-21s %9s %6s  %s\n", run.value("id", "").c_str(),
                  run.value("status", "").c_str(), run.value("started_at", "").c_str(), duration,
                  step_counts(run).c_str(),
                  commit.is_string() ? commit.get<std::string>().substr(0, 12).c_str() : "-");
    }
    return {};
  });

  auto show_args = std::make_shared<WorkspaceArgs>();
  auto* show =
      pipeline_cmd->add_subcommand("show", "Show a run recorded in a workspace (id or unique prefix)");
  show->add_option("RUN", show_args->run, "run id")->required();
  add_workspace_flags(show, *show_args);
  set_action(show, exit_code, [&globals, show_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(pipeline::Workspace workspace, open_workspace(globals, *show_args));
    CANOPY_ASSIGN_OR_RETURN(Json run, workspace.load_run(show_args->run));
    if (globals.json)
      print_json(run);
    else
      print_run_details(run);
    return {};
  });
}

void register_run_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* run = app.add_subcommand("run", "Pipeline runs recorded on the registry server");
  run->require_subcommand(1);

  auto id = std::make_shared<std::string>();
  auto* show = run->add_subcommand("show", "Show a run and the model versions it produced");
  show->add_option("RUN", *id, "run id")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json record, client.get_run(*id));
    if (globals.json)
      print_json(record);
    else
      print_run_details(record);
    return {};
  });

  auto limit = std::make_shared<int>(50);
  auto* list = run->add_subcommand("list", "List the newest runs on the server");
  list->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000));
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, limit]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json runs, client.list_runs(*limit));
    if (globals.json) {
      print_json(runs);
      return {};
    }
    std::printf("%-26s %-12s %-21s %5s  %s\n", "RUN", "STATUS", "STARTED", "STEPS", "PIPELINE");
    for (const auto& r : runs["runs"])
      std::printf("%-26s %-12s %-21s %5lld  %s\n", r.value("id", "").c_str(), r.value("status", "").c_str(),
                  r.value("started_at", "").c_str(), static_cast<long long>(r.value("steps", 0)),
                  r.value("pipeline", "").c_str());
    return {};
  });
}

}  // namespace canopy::cli
