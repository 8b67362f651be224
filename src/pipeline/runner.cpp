#include "pipeline/runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "client/registry_client.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/time.h"
#include "pipeline/file_set.h"
#include "pipeline/gates.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline.h"
#include "pipeline/redact.h"
#include "pipeline/step_process.h"
#include "pipeline/workspace.h"

extern char** environ;

namespace canopy::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

// A step's log tail in its run record: some forty lines, enough for the
// error and what led to it; a record of a hundred steps stays small.
constexpr std::size_t kLogTailBytes = 4096;

// Set by SIGINT/SIGTERM while a run is in progress; read by every step's process loop.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the stop flag is written from a signal handler");

extern "C" void request_stop(int) { g_stop_requested.store(true); }

// Installs the stop handlers (and ignores SIGPIPE, so a closed terminal or
// pager cannot kill the runner and leave its run "running") for one run.
class SignalScope {
 public:
  SignalScope() {
    g_stop_requested.store(false);
    struct sigaction action {};
    action.sa_handler = request_stop;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &old_int_);
    ::sigaction(SIGTERM, &action, &old_term_);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~SignalScope() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGPIPE, &old_pipe_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  struct sigaction old_int_ {
  }, old_term_{}, old_pipe_{};
};

std::string format_seconds(double seconds) {
  char buf[32];
  if (seconds < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  return buf;
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

std::optional<fs::path> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    fs::path candidate = fs::path(dirs.substr(start, colon - start)) / program;
    if (!candidate.parent_path().empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = colon + 1;
  }
  return std::nullopt;
}

std::map<std::string, std::string> inherited_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

// The last `max_bytes` of a step's log, from the first whole line: what the
// run record carries to the server, so a failure can be read where the
// worker's workspace cannot. Empty when there is no log (a cached step).
std::string log_tail(const fs::path& log, std::size_t max_bytes) {
  std::ifstream in(log, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(start);
  std::string tail(static_cast<std::size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<std::size_t>(in.gcount()));
  if (start > 0) {
    const auto newline = tail.find('\n');
    tail.erase(0, newline == std::string::npos ? tail.size() : newline + 1);
  }
  return tail;
}

// `git rev-parse HEAD` in the pipeline's directory; nullopt outside a repository or without git.
std::optional<std::string> git_commit(const fs::path& dir) {
  auto git = find_on_path("git");
  if (!git) return std::nullopt;
  ProcessSpec spec;
  spec.argv = {git->string(), "-C", dir.string(), "rev-parse", "HEAD"};
  spec.env = inherited_environment();
  spec.timeout = std::chrono::seconds(10);
  std::atomic<bool> never{false};
  std::string first;
  auto outcome = run_step_process(spec, never, {}, [&](std::string_view line) {
    if (first.empty()) first = line;
  });
  if (!outcome.ok() || outcome->exit_code != 0 || first.size() != 40) return std::nullopt;
  return first;
}

Json redact_json(const Json& value, const Redactor& redactor) {
  if (value.is_string()) return redactor.redact(value.get<std::string>());
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [key, item] : value.items()) out[redactor.redact(key)] = redact_json(item, redactor);
    return out;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& item : value) out.push_back(redact_json(item, redactor));
    return out;
  }
  return value;
}

// The bash script for a step: the commands in order; `set -e` stops at the
// first failing command, and the check after each line also catches a
// failure that `set -e` lets through (the left side of `a && b`).
std::string step_script(const std::vector<std::string>& commands) {
  std::string script = "set -e\n";
  for (const auto& command : commands)
    script += command +
              "\n__canopy_status=$?; if [ \"$__canopy_status\" -ne 0 ]; then exit \"$__canopy_status\"; fi\n";
  return script;
}

bool finished_ok(StepStatus status) {
  return status == StepStatus::kSucceeded || status == StepStatus::kCached;
}

struct StepRun {
  const Step* step = nullptr;
  bool selected = true;
  StepStatus status = StepStatus::kPending;
  Json record = Json::object();
  std::vector<FileSetDigest> outputs;  // once succeeded or cached
  Json metrics = Json::object();       // flattened
  int exit_code = 0;
};

// A step with every placeholder replaced and its environment built.
struct PreparedStep {
  std::vector<std::string> commands;
  std::vector<std::string> inputs, outputs;
  std::string metrics;
  std::map<std::string, std::string> env;
  Json declared_env = Json::object();  // for the record: secrets as "***"
  Json key_env = Json::object();       // non-secret declared variables, for the cache key
};

class Runner {
 public:
  Runner(const RunOptions& options, Pipeline pipeline, fs::path pipeline_dir)
      : options_(options), pipeline_(std::move(pipeline)), dir_(std::move(pipeline_dir)) {}

  Result<RunOutcome> run();

 private:
  Status select_steps();
  Status check_environment();
  Status check_containers();
  void build_redactor();
  PreparedStep prepare(const StepRun& run) const;
  Result<std::pair<std::string, std::vector<FileSetDigest>>> cache_key(const StepRun& run,
                                                                       const PreparedStep& prepared) const;
  // A cache entry for `key` whose outputs all still hash as recorded.
  std::optional<Json> valid_cache_entry(const std::string& key, std::string& why_not) const;
  RunOutcome dry_run();
  void execute(StepRun& run);
  struct AttemptsResult {
    bool ok = false;
    bool stopped = false;    // a stop signal ended it
    bool timed_out = false;  // the last attempt ran out of time
    int exit_code = 0;
    std::string error;  // the process could not be started
  };
  // Runs the step, retrying a failure up to its `retries`.
  AttemptsResult run_attempts(StepRun& run, const PreparedStep& prepared, std::ofstream& log);
  void finish_step(StepRun& run, StepStatus status, const std::string& error, Clock::time_point started);
  void evaluate_ready_gates();
  Json build_record() const;
  // Writes run.json (see Workspace::save_run) and marks the record for the server.
  void save_locked(bool durable = false);
  void post(const Json& record);
  void print(const std::string& line);
  void print_step(const std::string& step, std::string_view line);
  std::vector<std::string> steps_after(const std::string& name) const;

  const RunOptions& options_;
  Pipeline pipeline_;
  fs::path dir_;
  std::optional<Workspace> workspace_;
  std::optional<client::RegistryClient> registry_;
  bool server_warned_ = false;
  Redactor redactor_;
  std::map<std::string, std::string> base_env_;
  std::map<std::string, ParameterValues> parameters_;
  std::vector<std::string> order_;
  std::map<std::string, StepRun> steps_;
  std::optional<fs::path> container_engine_;
  std::string run_id_;
  std::optional<std::string> git_commit_;
  std::string started_at_;
  Clock::time_point started_;
  ProcessIdentity runner_ = ProcessIdentity::self();

  // Guards everything below and the StepRun records while steps run.
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int running_ = 0;
  bool halted_ = false;  // a step or gate failed: start nothing new
  bool server_dirty_ = false;
  RunStatus status_ = RunStatus::kRunning;
  std::string error_;
  std::map<size_t, Json> gate_results_;  // by index in pipeline_.gates
  std::mutex output_mutex_;
};

Status Runner::select_steps() {
  order_ = pipeline_.topological_order();
  for (const auto& step : pipeline_.steps) steps_[step.name].step = &step;
  if (!options_.only.empty() && !options_.from.empty())
    return make_error(ErrorCode::kInvalidArgument, "give --only or --from, not both");
  std::set<std::string> selected;
  if (!options_.only.empty()) {
    for (const auto& name : options_.only) {
      if (!pipeline_.find_step(name))
        return make_error(ErrorCode::kInvalidArgument, "--only " + name + ": the pipeline has no such step");
      selected.insert(name);
    }
  } else if (!options_.from.empty()) {
    if (!pipeline_.find_step(options_.from))
      return make_error(ErrorCode::kInvalidArgument,
                        "--from " + options_.from + ": the pipeline has no such step");
    for (const auto& name : steps_after(options_.from)) selected.insert(name);
  } else {
    for (const auto& name : order_) selected.insert(name);
  }
  for (auto& [name, run] : steps_) {
    run.selected = selected.count(name) > 0;
    if (!run.selected) run.status = StepStatus::kSkipped;
  }
  return {};
}

// `name` and every step that depends on it, directly or not.
std::vector<std::string> Runner::steps_after(const std::string& name) const {
  std::set<std::string> reached{name};
  for (const auto& step_name : order_) {  // topological: dependencies are seen first
    const Step* step = pipeline_.find_step(step_name);
    for (const auto& dependency : step->depends)
      if (reached.count(dependency)) reached.insert(step_name);
  }
  return {reached.begin(), reached.end()};
}

Status Runner::check_environment() {
  std::string missing;
  for (const auto& name : order_) {
    const StepRun& run = steps_.at(name);
    if (!run.selected) continue;
    for (const auto& variable : run.step->environment) {
      if (variable.optional || variable.default_value || base_env_.count(variable.name)) continue;
      missing += std::string(missing.empty() ? "" : "; ") + "step '" + name +
                 "' needs environment variable " + variable.name + " (" +
                 variable.location.to_string(pipeline_.file.string()) + ")";
    }
  }
  if (!missing.empty())
    return make_error(ErrorCode::kInvalidArgument, missing + ", which is not set; nothing was run");
  for (const auto& gate : pipeline_.gates)
    if (gate.kind == Gate::Kind::kRegistry && options_.server_url.empty() && steps_.at(gate.step).selected)
      return make_error(ErrorCode::kInvalidArgument,
                        "gate '" + gate.expression +
                            "' compares with the registry: set CANOPY_SERVER and "
                            "CANOPY_API_KEY, or pass --server and --api-key");
  return {};
}

Status Runner::check_containers() {
  if (!options_.containers) return {};
  for (const char* engine : {"docker", "podman"}) {
    if (auto path = find_on_path(engine)) {
      container_engine_ = *path;
      break;
    }
  }
  if (!container_engine_)
    return make_error(ErrorCode::kNotFound,
                      "--containers needs docker or podman on PATH, and neither was found");
  for (const auto& [name, run] : steps_)
    if (run.selected && run.step->image.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "step '" + name + "' names no 'image', which --containers needs");
  return {};
}

void Runner::build_redactor() {
  // Every secret-looking variable the runner was given reaches the steps (they
  // inherit the environment), so all of them are masked, declared or not.
  for (const auto& [name, value] : base_env_)
    if (looks_secret(name)) redactor_.add(value);
  for (const auto& step : pipeline_.steps)
    for (const auto& variable : step.environment) {
      if (!variable.secret) continue;
      auto it = base_env_.find(variable.name);
      if (it != base_env_.end())
        redactor_.add(it->second);
      else if (variable.default_value)
        redactor_.add(*variable.default_value);
    }
}

PreparedStep Runner::prepare(const StepRun& run) const {
  const Step& step = *run.step;
  const ParameterValues& values = parameters_.at(step.name);
  const fs::path workspace = workspace_->dir();
  PreparedStep prepared;
  for (const auto& command : step.commands)
    prepared.commands.push_back(render_command(command, step, values, workspace));
  for (const auto& input : step.inputs)
    prepared.inputs.push_back(render_path(input, step, values, workspace));
  for (const auto& output : step.outputs)
    prepared.outputs.push_back(render_path(output, step, values, workspace));
  if (!step.metrics.empty()) prepared.metrics = render_path(step.metrics, step, values, workspace);
  prepared.env = base_env_;
  for (const auto& variable : step.environment) {
    auto it = prepared.env.find(variable.name);
    if (it == prepared.env.end() && variable.default_value)
      it = prepared.env.emplace(variable.name, *variable.default_value).first;
    if (it == prepared.env.end()) {
      prepared.declared_env[variable.name] = nullptr;
    } else if (variable.secret) {
      prepared.declared_env[variable.name] = Redactor::kMask;
    } else {
      prepared.declared_env[variable.name] = it->second;
      prepared.key_env[variable.name] = it->second;
    }
  }
  for (const auto& [name, value] : parameter_environment(step, values)) prepared.env[name] = value;
  prepared.env["CANOPY_RUN_ID"] = run_id_;
  prepared.env["CANOPY_STEP"] = step.name;
  prepared.env["CANOPY_WORKSPACE"] = workspace.string();
  prepared.env["CANOPY_RUN_DIR"] = workspace_->run_dir(run_id_).string();
  prepared.env["CANOPY_PIPELINE_DIR"] = dir_.string();
  return prepared;
}

Result<std::pair<std::string, std::vector<FileSetDigest>>> Runner::cache_key(
    const StepRun& run, const PreparedStep& prepared) const {
  std::vector<FileSetDigest> inputs;
  Json input_json = Json::array();
  for (const auto& pattern : prepared.inputs) {
    auto digest = digest_pattern(pattern, dir_);
    if (!digest.ok()) return digest.error().with_context("input of step '" + run.step->name + "'");
    input_json.push_back({{"pattern", pattern}, {"sha256", digest->sha256}});
    inputs.push_back(std::move(*digest));
  }
  Json upstream = Json::object();
  for (const auto& dependency : run.step->depends) {
    const StepRun& dep = steps_.at(dependency);
    Json digests = Json::array();
    if (!dep.outputs.empty()) {
      for (const auto& d : dep.outputs) digests.push_back(d.sha256);
    } else {
      // A dependency that did not run in this run (--only, --from): its outputs as they are on disk.
      for (const auto& pattern : prepare(dep).outputs) {
        auto digest = digest_pattern(pattern, dir_);
        digests.push_back(digest.ok() ? digest->sha256 : "missing");
      }
    }
    upstream[dependency] = digests;
  }
  Json key = {{"format", 1},
              {"commands", prepared.commands},
              {"image", run.step->image},
              {"parameters", parameters_.at(run.step->name)},
              {"environment", prepared.key_env},
              {"inputs", input_json},
              {"upstream", upstream},
              {"outputs", prepared.outputs},
              {"metrics", prepared.metrics},
              {"containers", options_.containers}};
  return std::make_pair(sha256_hex(key.dump()), std::move(inputs));
}

std::optional<Json> Runner::valid_cache_entry(const std::string& key, std::string& why_not) const {
  auto entry = workspace_->load_cache(key);
  if (!entry.ok() || !*entry) {
    why_not = "no cache entry for this command, parameters, environment and inputs";
    return std::nullopt;
  }
  for (const auto& recorded : (**entry).value("outputs", Json::array())) {
    auto expected = FileSetDigest::from_json(recorded);
    if (!expected.ok()) {
      why_not = "the cache entry is damaged";
      return std::nullopt;
    }
    auto now = digest_pattern(expected->pattern, dir_);
    if (!now.ok()) {
      why_not = "output '" + expected->pattern + "' is missing";
      return std::nullopt;
    }
    if (now->sha256 != expected->sha256) {
      why_not = "output '" + expected->pattern + "' changed since it was produced";
      return std::nullopt;
    }
  }
  return **entry;
}

void Runner::print(const std::string& line) {
  std::lock_guard<std::mutex> guard(output_mutex_);
  std::fprintf(options_.out, "%s\n", redactor_.redact(line).c_str());
  std::fflush(options_.out);
}

void Runner::print_step(const std::string& step, std::string_view line) {
  print("[" + step + "] " + std::string(line));
}

Json Runner::build_record() const {
  Json steps = Json::array();
  for (const auto& name : order_) {
    const StepRun& run = steps_.at(name);
    Json record = run.record;
    record["name"] = name;
    record["status"] = step_status_name(run.status);
    record["image"] = run.step->image;
    record["depends"] = run.step->depends;
    if (!record.contains("metrics")) record["metrics"] = run.metrics;
    steps.push_back(std::move(record));
  }
  Json gates = Json::array();
  for (size_t i = 0; i < pipeline_.gates.size(); ++i) {
    auto it = gate_results_.find(i);
    gates.push_back(it != gate_results_.end()
                        ? it->second
                        : Json{{"gate", pipeline_.gates[i].expression}, {"status", "not-evaluated"}});
  }
  Json parameters = Json::object();
  for (const auto& [step, values] : parameters_)
    if (!values.empty()) parameters[step] = values;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  Json record = {{"id", run_id_},
                 {"status", run_status_name(status_)},
                 {"pipeline",
                  {{"file", fs::absolute(pipeline_.file).lexically_normal().string()},
                   {"sha256", pipeline_.file_sha256}}},
                 {"git_commit", git_commit_ ? Json(*git_commit_) : Json(nullptr)},
                 {"workspace", workspace_->dir().string()},
                 {"host", host},
                 {"runner", runner_.to_json()},
                 {"started_at", started_at_},
                 {"options",
                  {{"only", options_.only},
                   {"from", options_.from},
                   {"force", options_.force},
                   {"jobs", options_.jobs},
                   {"containers", options_.containers}}},
                 {"parameters", parameters},
                 {"steps", steps},
                 {"gates", gates}};
  if (status_ != RunStatus::kRunning) {
    record["finished_at"] = now_rfc3339();
    record["duration_s"] = seconds_between(started_, Clock::now());
  }
  if (!error_.empty()) record["error"] = error_;
  return redact_json(record, redactor_);
}

void Runner::save_locked(bool durable) {
  Status saved = workspace_->save_run(build_record(), durable);
  if (!saved.ok()) print("warning: cannot write the run record: " + saved.error().message);
  server_dirty_ = true;
}

void Runner::post(const Json& record) {
  if (!registry_) return;
  auto sent = registry_->post_run(record);
  if (!sent.ok() && !server_warned_) {
    server_warned_ = true;
    print("warning: cannot record the run on the server " + options_.server_url + ": " +
          sent.error().message);
  }
}

void Runner::finish_step(StepRun& run, StepStatus status, const std::string& error,
                         Clock::time_point started) {
  const double seconds = seconds_between(started, Clock::now());
  // Printed before the scheduler can see the new status, so the step's own
  // line comes before any gate line it triggers.
  if (status == StepStatus::kSucceeded) {
    print_step(run.step->name, "succeeded in " + format_seconds(seconds));
  } else if (status == StepStatus::kCached) {
    print_step(run.step->name, "cached: unchanged since run " +
                                   run.record.value("cached_from", std::string("?")) +
                                   ", outputs intact; not run (--force runs it)");
  } else {
    print_step(run.step->name, std::string(step_status_name(status)) + " after " + format_seconds(seconds) +
                                   (error.empty() ? "" : ": " + error) +
                                   "; log: " + workspace_->log_file(run_id_, run.step->name).string());
  }
  {
    std::lock_guard<std::mutex> guard(mutex_);
    run.status = status;
    run.record["finished_at"] = now_rfc3339();
    run.record["duration_s"] = seconds;
    run.record.erase("pid");
    if (!error.empty()) run.record["error"] = redactor_.redact(error);
    // The log's lines were redacted as they were written.
    if (status != StepStatus::kCached)
      run.record["log_tail"] = log_tail(workspace_->log_file(run_id_, run.step->name), kLogTailBytes);
    if (!finished_ok(status)) halted_ = true;
    --running_;
    save_locked();
  }
  changed_.notify_all();
}

Runner::AttemptsResult Runner::run_attempts(StepRun& run, const PreparedStep& prepared, std::ofstream& log) {
  const Step& step = *run.step;
  ProcessSpec spec;
  const std::string script = step_script(prepared.commands);
  const fs::path bash = find_on_path("bash").value_or("/bin/bash");
  if (container_engine_) {
    // Variables go by name only (-e NAME): their values, secrets included,
    // never appear on a command line.
    spec.argv = {container_engine_->string(),
                 "run",
                 "--rm",
                 "--init",
                 "-v",
                 dir_.string() + ":" + dir_.string(),
                 "-v",
                 workspace_->dir().string() + ":" + workspace_->dir().string(),
                 "-w",
                 dir_.string()};
    for (const auto& variable : step.environment)
      if (prepared.env.count(variable.name)) spec.argv.insert(spec.argv.end(), {"-e", variable.name});
    for (const auto& [name, value] : prepared.env)
      if (name.rfind("PARAM_", 0) == 0 || name.rfind("CANOPY_", 0) == 0)
        spec.argv.insert(spec.argv.end(), {"-e", name});
    spec.argv.insert(spec.argv.end(), {step.image, "bash", "-c", script});
  } else {
    spec.argv = {bash.string(), "-c", script};
  }
  spec.env = prepared.env;
  spec.working_dir = dir_;
  spec.timeout = std::chrono::milliseconds(static_cast<long long>(step.timeout_seconds * 1000));
  const int attempts = 1 + step.retries;
  AttemptsResult result;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1)
      print_step(step.name,
                 "retrying (attempt " + std::to_string(attempt) + " of " + std::to_string(attempts) + ")");
    log << "== attempt " << attempt << " at " << now_rfc3339() << "\n";
    for (const auto& command : prepared.commands) log << "$ " << redactor_.redact(command) << "\n";
    log.flush();
    auto outcome = run_step_process(
        spec, g_stop_requested,
        [&](pid_t pid) {
          std::lock_guard<std::mutex> guard(mutex_);
          run.record["pid"] = pid;
          run.record["attempts"] = attempt;
          save_locked();
        },
        [&](std::string_view line) {
          const std::string clean = redactor_.redact(line);
          log << clean << "\n";
          log.flush();
          print_step(step.name, clean);
        });
    if (!outcome.ok()) {
      result.exit_code = 127;
      result.error = outcome.error().message;
      log << "error: " << result.error << "\n";
      return result;
    }
    result.exit_code = outcome->exit_code;
    result.timed_out = outcome->timed_out;
    result.stopped = outcome->stopped;
    log << "== exit code " << outcome->exit_code << (outcome->timed_out ? " (timed out)" : "") << "\n";
    log.flush();
    if (outcome->stopped) return result;
    if (outcome->exit_code == 0 && !outcome->timed_out) {
      result.ok = true;
      return result;
    }
  }
  return result;
}

void Runner::execute(StepRun& run) {
  const Step& step = *run.step;
  const auto started = Clock::now();
  PreparedStep prepared = prepare(run);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    run.record["started_at"] = now_rfc3339();
    run.record["commands"] = prepared.commands;
    run.record["environment"] = prepared.declared_env;
    run.record["parameters"] = parameters_.at(step.name);
    run.record["log"] =
        fs::relative(workspace_->log_file(run_id_, step.name), workspace_->run_dir(run_id_)).string();
    run.record["cached"] = false;
    // Saved when the process starts (with its pid) or the step ends: a
    // record write here would only cost an fsync per step.
  }
  print_step(step.name, "started" + (step.image.empty() ? std::string() : " (image " + step.image + ")"));

  auto key = cache_key(run, prepared);
  if (!key.ok()) return finish_step(run, StepStatus::kFailed, key.error().message, started);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    run.record["cache_key"] = key->first;
    Json inputs = Json::array();
    for (const auto& d : key->second) inputs.push_back(d.to_json());
    run.record["inputs"] = inputs;
  }
  if (!step.outputs.empty() && !options_.force) {
    std::string why_not;
    bool hit = false;
    if (auto entry = valid_cache_entry(key->first, why_not)) {
      hit = true;
      std::lock_guard<std::mutex> guard(mutex_);
      for (const auto& d : entry->value("outputs", Json::array()))
        run.outputs.push_back(*FileSetDigest::from_json(d));
      run.metrics = entry->value("metrics", Json::object());
      run.record["cached"] = true;
      run.record["cached_from"] = entry->value("run_id", "");
      run.record["outputs"] = entry->value("outputs", Json::array());
      run.record["exit_code"] = 0;
      run.record["metrics"] = run.metrics;
    }
    if (hit) return finish_step(run, StepStatus::kCached, "", started);
    print_step(step.name, "not cached: " + why_not);
  }

  std::ofstream log(workspace_->log_file(run_id_, step.name), std::ios::app);
  const AttemptsResult attempts = run_attempts(run, prepared, log);
  {
    std::lock_guard<std::mutex> guard(mutex_);
    run.exit_code = attempts.exit_code;
    run.record["exit_code"] = attempts.exit_code;
    if (attempts.timed_out) run.record["timed_out"] = true;
  }
  if (!attempts.ok) {
    if (attempts.stopped) return finish_step(run, StepStatus::kInterrupted, "stopped by a signal", started);
    if (!attempts.error.empty()) return finish_step(run, StepStatus::kFailed, attempts.error, started);
    if (attempts.timed_out)
      return finish_step(run, StepStatus::kTimedOut,
                         "no exit within the step's timeout of " + format_seconds(step.timeout_seconds),
                         started);
    return finish_step(run, StepStatus::kFailed, "exit code " + std::to_string(attempts.exit_code), started);
  }
  Json metrics = Json::object();
  if (!prepared.metrics.empty()) {
    const fs::path file =
        fs::path(prepared.metrics).is_absolute() ? fs::path(prepared.metrics) : dir_ / prepared.metrics;
    auto text = read_file(file);
    if (!text.ok())
      return finish_step(run, StepStatus::kFailed, "the step wrote no metrics file " + prepared.metrics,
                         started);
    auto json = parse_json(*text, prepared.metrics);
    if (!json.ok() || !json->is_object())
      return finish_step(run, StepStatus::kFailed,
                         "metrics file " + prepared.metrics + " is not a JSON object", started);
    metrics = flatten_metrics(*json);
  }
  std::vector<FileSetDigest> outputs;
  Json output_json = Json::array();
  for (const auto& pattern : prepared.outputs) {
    auto digest = digest_pattern(pattern, dir_);
    if (!digest.ok())
      return finish_step(run, StepStatus::kFailed, "declared output " + digest.error().message, started);
    output_json.push_back(digest->to_json());
    outputs.push_back(std::move(*digest));
  }
  if (!outputs.empty()) {
    Json entry = {{"step", step.name},           {"key", key->first},      {"run_id", run_id_},
                  {"created_at", now_rfc3339()}, {"outputs", output_json}, {"metrics", metrics}};
    Status saved = workspace_->save_cache(key->first, entry);
    if (!saved.ok()) print_step(step.name, "warning: cannot write its cache entry: " + saved.error().message);
  }
  {
    std::lock_guard<std::mutex> guard(mutex_);
    run.outputs = std::move(outputs);
    run.metrics = metrics;
    run.record["outputs"] = output_json;
    run.record["metrics"] = metrics;
  }
  finish_step(run, StepStatus::kSucceeded, "", started);
}

void Runner::evaluate_ready_gates() {
  // Called with mutex_ held, from the scheduling thread.
  for (size_t i = 0; i < pipeline_.gates.size(); ++i) {
    if (gate_results_.count(i)) continue;
    const Gate& gate = pipeline_.gates[i];
    bool ready = true, skipped = false, blocked = false;
    for (const auto& name : gate.steps()) {
      const StepStatus status = steps_.at(name).status;
      if (status == StepStatus::kSkipped)
        skipped = true;
      else if (status == StepStatus::kPending || status == StepStatus::kRunning)
        ready = false;
      else if (!finished_ok(status))
        blocked = true;
    }
    if (!ready) continue;
    if (skipped || blocked) {
      gate_results_[i] = {{"gate", gate.expression},
                          {"status", skipped ? "skipped" : "not-evaluated"},
                          {"message", skipped ? "a step it reads was not selected for this run"
                                              : "a step it reads did not succeed"}};
      continue;
    }
    std::map<std::string, Json> metrics;
    for (const auto& [name, run] : steps_) metrics[name] = run.metrics;
    RegistryLookup lookup;
    if (registry_) {
      lookup = [this](const std::string& model, const std::string& alias) -> Result<std::optional<Json>> {
        auto version = registry_->show_version(api::ModelSelector::of_alias(model, alias));
        if (!version.ok()) {
          if (version.error().code == ErrorCode::kNotFound) return std::optional<Json>();
          return version.error();
        }
        return std::optional<Json>(std::move(*version));
      };
    }
    GateResult result = evaluate_gate(gate, metrics, parameters_, lookup);
    gate_results_[i] = result.to_json(gate);
    print(std::string("gate ") + gate.expression + ": " + (result.passed ? "passed" : "FAILED") + " (" +
          result.message + ")");
    if (!result.passed) {
      halted_ = true;
      if (error_.empty()) error_ = "gate '" + gate.expression + "' failed: " + result.message;
    }
    save_locked();
  }
}

RunOutcome Runner::dry_run() {
  Json plan = Json::array();
  print("plan for " + pipeline_.file.string() + " (dry run: nothing is run or recorded)");
  std::set<std::string> will_run;
  for (const auto& name : order_) {
    StepRun& run = steps_.at(name);
    std::string what;
    if (!run.selected) {
      what = "skipped (not selected)";
    } else {
      std::string after;
      for (const auto& dependency : run.step->depends)
        if (will_run.count(dependency)) after = dependency;
      PreparedStep prepared = prepare(run);
      if (!after.empty()) {
        what = "will run (after " + after + ", which will run)";
      } else if (auto key = cache_key(run, prepared); !key.ok()) {
        what = "will run (" + key.error().message + ")";
      } else if (run.step->outputs.empty()) {
        what = "will run (declares no outputs, so it is never cached)";
      } else if (options_.force) {
        what = "will run (--force)";
      } else {
        std::string why_not;
        if (auto entry = valid_cache_entry(key->first, why_not)) {
          what = "cached (from run " + entry->value("run_id", std::string("?")) + ")";
          for (const auto& d : entry->value("outputs", Json::array()))
            run.outputs.push_back(*FileSetDigest::from_json(d));
        } else {
          what = "will run (" + why_not + ")";
        }
      }
      if (what.rfind("will run", 0) == 0) will_run.insert(name);
      for (const auto& command : prepared.commands) what += "\n    $ " + command;
    }
    print("  " + name + ": " + what);
    plan.push_back({{"step", name}, {"plan", redactor_.redact(what)}});
  }
  for (const auto& gate : pipeline_.gates) print("  gate " + gate.expression);
  return RunOutcome{Json{{"dry_run", true}, {"steps", plan}}, 0};
}

Result<RunOutcome> Runner::run() {
  base_env_ = inherited_environment();
  CANOPY_TRY(select_steps());
  std::vector<std::string> selected;
  for (const auto& name : order_)
    if (steps_.at(name).selected) selected.push_back(name);
  CANOPY_ASSIGN_OR_RETURN(parameters_, resolve_parameters(pipeline_, options_.parameters, selected));
  CANOPY_TRY(check_environment());
  CANOPY_TRY(check_containers());
  build_redactor();
  if (options_.jobs < 1) return make_error(ErrorCode::kInvalidArgument, "--jobs must be at least 1");
  const fs::path workspace_dir =
      options_.workspace.empty() ? default_workspace(pipeline_.file) : options_.workspace;
  CANOPY_ASSIGN_OR_RETURN(Workspace workspace, Workspace::open(workspace_dir));
  workspace_ = std::move(workspace);
  if (!options_.server_url.empty()) {
    HttpOptions http;
    http.max_attempts = 2;
    http.connect_timeout_ms = 3000;
    http.request_timeout_ms = 15000;
    http.ca_file = options_.ca_file;
    http.server_pin = options_.server_pin;
    registry_.emplace(options_.server_url, options_.api_key, http);
  }
  run_id_ = new_run_id();
  if (options_.dry_run) return dry_run();

  CANOPY_ASSIGN_OR_RETURN(WorkspaceLock lock, workspace_->lock());
  CANOPY_ASSIGN_OR_RETURN(std::vector<Json> recovered, workspace_->recover_stale_runs());
  for (const auto& stale : recovered) {
    print("run " + stale.value("id", std::string("?")) +
          " was left running by a runner that is gone: marked interrupted");
    post(stale);
  }
  git_commit_ = git_commit(dir_);
  started_ = Clock::now();
  started_at_ = now_rfc3339();
  SignalScope signals;
  print("run " + run_id_ + ": " + std::to_string(selected.size()) + " of " + std::to_string(order_.size()) +
        " steps, workspace " + workspace_->dir().string());
  std::vector<std::thread> threads;
  std::unique_lock<std::mutex> guard(mutex_);
  save_locked(true);  // the run exists from here on, whatever happens to this machine
  while (true) {
    const bool stopping = g_stop_requested.load();
    // Gates first: a step that just finished may fail a gate, and then the
    // steps after it must not start.
    evaluate_ready_gates();
    for (const auto& name : order_) {
      StepRun& run = steps_.at(name);
      if (run.status != StepStatus::kPending) continue;
      bool waiting = false, blocked = false;
      for (const auto& dependency : run.step->depends) {
        const StepStatus status = steps_.at(dependency).status;
        if (status == StepStatus::kPending || status == StepStatus::kRunning)
          waiting = true;
        else if (!finished_ok(status) && status != StepStatus::kSkipped)
          blocked = true;
      }
      if (blocked) {
        run.status = StepStatus::kNotRun;
        run.record["error"] = "a step it depends on did not succeed";
        continue;
      }
      if (waiting || halted_ || stopping || running_ >= options_.jobs) continue;
      run.status = StepStatus::kRunning;
      ++running_;
      threads.emplace_back([this, &run] { execute(run); });
    }
    if (running_ == 0) {
      evaluate_ready_gates();  // gates of steps that did not run (skipped, blocked)
      break;
    }
    changed_.wait_for(guard, std::chrono::milliseconds(100));
    if (server_dirty_ && registry_) {
      server_dirty_ = false;
      Json record = build_record();
      guard.unlock();
      post(record);
      guard.lock();
    }
  }
  guard.unlock();
  for (auto& thread : threads) thread.join();
  guard.lock();

  // The outcome: interrupted beats failed beats succeeded.
  RunOutcome outcome;
  bool interrupted = g_stop_requested.load();
  int failed_code = 0;
  std::string failed_step;
  for (auto& name : order_) {
    StepRun& run = steps_.at(name);
    if (run.status == StepStatus::kPending) run.status = StepStatus::kNotRun;
    if (run.status == StepStatus::kInterrupted) interrupted = true;
    if ((run.status == StepStatus::kFailed || run.status == StepStatus::kTimedOut) && failed_step.empty()) {
      failed_step = name;
      failed_code = run.status == StepStatus::kTimedOut
                        ? 124
                        : (run.exit_code > 0 && run.exit_code < 256 ? run.exit_code : 1);
    }
  }
  bool gate_failed = false;
  for (const auto& [i, result] : gate_results_)
    gate_failed = gate_failed || result.value("status", "") == "failed";
  if (interrupted) {
    status_ = RunStatus::kInterrupted;
    error_ = "stopped by a signal";
    outcome.exit_code = 130;
  } else if (!failed_step.empty()) {
    status_ = RunStatus::kFailed;
    error_ =
        "step '" + failed_step + "' " + std::string(step_status_name(steps_.at(failed_step).status)) + ": " +
        steps_.at(failed_step).record.value("error", std::string("exit code ") + std::to_string(failed_code));
    outcome.exit_code = failed_code;
  } else if (gate_failed) {
    status_ = RunStatus::kFailed;
    outcome.exit_code = 1;
  } else {
    status_ = RunStatus::kSucceeded;
  }
  save_locked(true);
  outcome.record = build_record();
  guard.unlock();
  post(outcome.record);
  print("");
  print(format_summary(outcome.record));
  return outcome;
}

}  // namespace

fs::path default_workspace(const fs::path& pipeline_file) {
  return fs::absolute(pipeline_file).parent_path() / ".canopy";
}

std::string format_summary(const Json& record) {
  size_t width = 4;
  for (const auto& step : record.value("steps", Json::array()))
    width = std::max(width, step.value("name", "").size());
  auto pad = [](std::string text, size_t to) {
    if (text.size() < to) text.append(to - text.size(), ' ');
    return text;
  };
  std::string out =
      pad("STEP", width) + "  " + pad("STATUS", 12) + pad("DURATION", 10) + pad("CACHED", 8) + "METRICS\n";
  for (const auto& step : record.value("steps", Json::array())) {
    // Up to four top-level metrics, mAP-like ones first (they are what a detector is judged by).
    std::string metrics;
    int shown = 0;
    const Json step_metrics = step.value("metrics", Json::object());
    for (bool map_pass : {true, false}) {
      for (const auto& [key, value] : step_metrics.items()) {
        const bool is_map = key.find("map") != std::string::npos;
        if (is_map != map_pass || key.find('.') != std::string::npos || !value.is_number() || shown == 4)
          continue;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s=%.4g", key.c_str(), value.get<double>());
        metrics += (metrics.empty() ? "" : " ") + std::string(buf);
        ++shown;
      }
    }
    const bool timed = step.contains("duration_s");
    out += pad(step.value("name", ""), width) + "  " + pad(step.value("status", ""), 12) +
           pad(timed ? format_seconds(step.value("duration_s", 0.0)) : "-", 10) +
           pad(step.value("cached", false) ? "yes" : "no", 8) + (metrics.empty() ? "-" : metrics) + "\n";
  }
  for (const auto& gate : record.value("gates", Json::array()))
    out += "gate " + gate.value("gate", "") + ": " + gate.value("status", "") + "\n";
  out += "run " + record.value("id", "") + " " + record.value("status", "");
  if (record.contains("duration_s")) out += " in " + format_seconds(record.value("duration_s", 0.0));
  if (record.contains("error")) out += ": " + record.value("error", "");
  out += "\nrecord: " +
         (fs::path(record.value("workspace", "")) / "runs" / record.value("id", "") / "run.json").string();
  return out;
}

Result<RunOutcome> run_pipeline(const RunOptions& options) {
  CANOPY_ASSIGN_OR_RETURN(Pipeline pipeline, load_pipeline(options.pipeline_file));
  const fs::path dir = fs::absolute(options.pipeline_file).parent_path().lexically_normal();
  Runner runner(options, std::move(pipeline), dir);
  return runner.run();
}

std::string_view step_status_name(StepStatus status) {
  switch (status) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kRunning:
      return "running";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kCached:
      return "cached";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kTimedOut:
      return "timed-out";
    case StepStatus::kInterrupted:
      return "interrupted";
    case StepStatus::kSkipped:
      return "skipped";
    case StepStatus::kNotRun:
      return "not-run";
  }
  return "unknown";
}

std::string_view run_status_name(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

}  // namespace canopy::pipeline
