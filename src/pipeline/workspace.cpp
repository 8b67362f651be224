#include "pipeline/workspace.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "common/files.h"
#include "common/hash.h"
#include "common/text.h"
#include "common/time.h"

namespace canopy::pipeline {

namespace {

// Field 22 of /proc/PID/stat: the process's start time in clock ticks after boot.
std::optional<unsigned long long> start_ticks_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  // After ")": field 3 (state) is the first; the start time is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(fields >> field)) return std::nullopt;
  try {
    return std::stoull(field);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// True when process `pid` runs with CANOPY_RUN_ID=<run_id> in its environment:
// proof that it is a step of that run and not a recycled pid.
bool belongs_to_run(long pid, const std::string& run_id) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  const std::string wanted = "CANOPY_RUN_ID=" + run_id;
  while (std::getline(in, entry, '\0'))
    if (entry == wanted) return true;
  return false;
}

}  // namespace

ProcessIdentity ProcessIdentity::self() {
  ProcessIdentity identity;
  identity.pid = ::getpid();
  identity.start_ticks = start_ticks_of(identity.pid).value_or(0);
  return identity;
}

bool ProcessIdentity::alive() const {
  if (pid <= 0) return false;
  auto ticks = start_ticks_of(pid);
  return ticks && *ticks == start_ticks;
}

Result<Workspace> Workspace::open(const fs::path& dir) {
  std::error_code ec;
  for (const char* sub : {"runs", "cache"}) {
    fs::create_directories(dir / sub, ec);
    if (ec)
      return make_error(ErrorCode::kIo,
                        "cannot create workspace " + (dir / sub).string() + ": " + ec.message());
  }
  return Workspace(fs::absolute(dir).lexically_normal());
}

Result<WorkspaceLock> Workspace::lock() const {
  auto lock = FileLock::try_acquire(dir_ / "lock");
  if (!lock.ok() && lock.error().code == ErrorCode::kConflict)
    return make_error(ErrorCode::kConflict, "workspace " + dir_.string() +
                                                " is in use by another pipeline run; wait for it to finish or pass "
                                                "--workspace DIR");
  return lock;
}

Status Workspace::save_run(const Json& record, bool durable) const {
  const std::string id = record.value("id", "");
  if (!is_valid_run_id(id)) return make_error(ErrorCode::kInternal, "run record without a valid id");
  std::error_code ec;
  fs::create_directories(run_dir(id) / "logs", ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + run_dir(id).string() + ": " + ec.message());
  const fs::path file = run_dir(id) / "run.json";
  return durable ? write_file_atomic(file, record.dump(2) + "\n")
                 : replace_file_atomic(file, record.dump(2) + "\n");
}

Result<Json> Workspace::load_run(const std::string& id_or_prefix) const {
  if (!is_valid_run_id(id_or_prefix))
    return make_error(ErrorCode::kInvalidArgument, "'" + id_or_prefix + "' is not a run id");
  std::vector<std::string> matches;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "runs", ec)) {
    const std::string name = entry.path().filename().string();
    if (name == id_or_prefix) {
      matches = {name};
      break;
    }
    if (name.rfind(id_or_prefix, 0) == 0) matches.push_back(name);
  }
  if (matches.empty())
    return make_error(ErrorCode::kNotFound, "no run '" + id_or_prefix + "' in workspace " + dir_.string());
  if (matches.size() > 1)
    return make_error(
        ErrorCode::kInvalidArgument,
        "'" + id_or_prefix + "' names " + std::to_string(matches.size()) + " runs; give more of the id");
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(run_dir(matches[0]) / "run.json"));
  return parse_json(text, run_dir(matches[0]).string() + "/run.json");
}

Result<std::vector<Json>> Workspace::list_runs() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_ / "runs", ec))
    if (is_valid_run_id(entry.path().filename().string())) ids.push_back(entry.path().filename().string());
  if (ec) return make_error(ErrorCode::kIo, "cannot list " + (dir_ / "runs").string() + ": " + ec.message());
  std::sort(ids.begin(), ids.end());
  std::vector<Json> runs;
  for (const auto& id : ids) {
    auto text = read_file(run_dir(id) / "run.json");
    if (!text.ok()) continue;  // a run directory whose record was never written
    auto json = parse_json(*text);
    if (json.ok() && json->is_object()) runs.push_back(std::move(*json));
  }
  return runs;
}

Result<std::vector<Json>> Workspace::recover_stale_runs() const {
  CANOPY_ASSIGN_OR_RETURN(std::vector<Json> runs, list_runs());
  std::vector<Json> changed;
  for (Json& run : runs) {
    if (run.value("status", "") != "running") continue;
    ProcessIdentity runner;
    const Json owner = run.value("runner", Json::object());
    runner.pid = owner.value("pid", 0L);
    runner.start_ticks = owner.value("start_ticks", 0ULL);
    if (runner.alive()) continue;
    const std::string id = run.value("id", "");
    for (Json& step : run["steps"]) {
      if (step.value("status", "") != "running") continue;
      // The runner died without stopping this step; end what is left of it,
      // but only a process that provably belongs to this run.
      const long pid = step.value("pid", 0L);
      if (pid > 0 && belongs_to_run(pid, id)) ::kill(static_cast<pid_t>(-pid), SIGKILL);
      step["status"] = "interrupted";
      step["error"] =
          "the runner stopped (pid " + std::to_string(runner.pid) + " is gone) while this step ran";
      step.erase("pid");
    }
    for (Json& step : run["steps"])
      if (step.value("status", "") == "pending") step["status"] = "not-run";
    run["status"] = "interrupted";
    run["error"] = "the runner (pid " + std::to_string(runner.pid) + ") ended without finishing the run";
    run["recovered_at"] = now_rfc3339();
    CANOPY_TRY(save_run(run, true));
    changed.push_back(run);
  }
  return changed;
}

Result<std::optional<Json>> Workspace::load_cache(const std::string& key) const {
  const fs::path path = dir_ / "cache" / (key + ".json");
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Json>();
  CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto json = parse_json(text, path.string());
  if (!json.ok() || !json->is_object()) return std::optional<Json>();  // a damaged entry is a miss
  return std::optional<Json>(std::move(*json));
}

Status Workspace::save_cache(const std::string& key, const Json& entry) const {
  return replace_file_atomic(dir_ / "cache" / (key + ".json"), entry.dump(2) + "\n");
}

std::string new_run_id() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  char millis_text[8];
  std::snprintf(millis_text, sizeof millis_text, ".%03d-", static_cast<int>(millis));
  return std::string(stamp) + millis_text + random_hex(3);
}

bool is_valid_run_id(const std::string& id) { return is_plain_name(id, 64); }

}  // namespace canopy::pipeline
