#include "api/retrain.h"

#include "api/datasets.h"
#include "api/fields.h"
#include "common/enum_names.h"
#include "common/text.h"

namespace canopy::api {

namespace {

constexpr EnumNames<Promotion, 3> kPromotionNames{{
    {Promotion::kAutomatic, "automatic"},
    {Promotion::kApproval, "approval"},
    {Promotion::kManual, "manual"},
}};

Result<std::int64_t> read_count(const Json& json, std::string_view field, std::int64_t fallback) {
  CANOPY_ASSIGN_OR_RETURN(std::int64_t value, json_get_or<std::int64_t>(json, field, fallback));
  if (value < 0) return bad_field(field, "must not be negative");
  return value;
}

}  // namespace

std::string_view promotion_name(Promotion promotion) { return enum_name(kPromotionNames, promotion); }

Json RetrainPolicy::to_json() const {
  Json out = {{"model", model},
              {"enabled", enabled},
              {"min_new_labels", min_new_labels},
              {"reviewed_only", reviewed_only},
              {"on_drift", on_drift},
              {"every_s", every_s},
              {"min_interval_s", min_interval_s},
              {"field", field},
              {"dataset", dataset_name()},
              {"bases", bases},
              {"parameters", parameters},
              {"promotion", promotion_name(promotion)}};
  if (has_target()) out["target"] = target.to_json();
  if (!strategy.stages.empty()) out["strategy"] = strategy.to_json();
  return out;
}

Result<RetrainPolicy> RetrainPolicy::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "retrain policy"));
  RetrainPolicy p;
  CANOPY_ASSIGN_OR_RETURN(p.model, read_string(json, "model", 128));
  if (!is_plain_name(p.model, 128))
    return bad_field("model", "must be 1-128 letters, digits, '.', '_' or '-'");
  CANOPY_ASSIGN_OR_RETURN(p.enabled, json_get_or<bool>(json, "enabled", true));
  CANOPY_ASSIGN_OR_RETURN(p.min_new_labels, read_count(json, "min_new_labels", p.min_new_labels));
  CANOPY_ASSIGN_OR_RETURN(p.reviewed_only, json_get_or<bool>(json, "reviewed_only", false));
  CANOPY_ASSIGN_OR_RETURN(p.on_drift, json_get_or<bool>(json, "on_drift", true));
  CANOPY_ASSIGN_OR_RETURN(p.every_s, read_count(json, "every_s", 0));
  CANOPY_ASSIGN_OR_RETURN(p.min_interval_s, read_count(json, "min_interval_s", p.min_interval_s));
  CANOPY_ASSIGN_OR_RETURN(p.field, read_string(json, "field", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(p.dataset, read_string(json, "dataset", 128, ""));
  if (p.dataset == p.model + "-field") p.dataset.clear();  // the default, as to_json writes it
  if (!p.dataset.empty() && !parse_dataset_ref(p.dataset + ":1").ok())
    return bad_field("dataset", "must be 1-128 letters, digits, '.', '_' or '-'");
  if (const Json* bases = optional_member(json, "bases")) {
    if (!bases->is_array()) return bad_field("bases", "must be a list of NAME:VERSION");
    for (const Json& base : *bases) {
      if (!base.is_string() || !parse_dataset_ref(base.get<std::string>()).ok())
        return bad_field("bases", "must be a list of NAME:VERSION");
      p.bases.push_back(base.get<std::string>());
    }
  }
  if (const Json* parameters = optional_member(json, "parameters")) {
    if (!parameters->is_object()) return bad_field("parameters", "must be an object of NAME: value");
    for (const auto& [name, value] : parameters->items())
      if (!is_plain_name(name, 64, "_") || !(value.is_number() || value.is_string() || value.is_boolean()))
        return bad_field("parameters",
                         "'" + name + "' must be a plain name with a number, string or boolean");
    p.parameters = *parameters;
  }
  CANOPY_ASSIGN_OR_RETURN(std::string promotion, read_string(json, "promotion", 16, "automatic"));
  auto parsed = enum_value(kPromotionNames, promotion);
  if (!parsed) return bad_field("promotion", "must be automatic, approval or manual");
  p.promotion = *parsed;
  if (const Json* target = optional_member(json, "target")) {
    CANOPY_ASSIGN_OR_RETURN(p.target, DeploymentTarget::from_json(*target));
  }
  if (p.promotion != Promotion::kManual && !p.has_target())
    return bad_field("target",
                     "must name the devices a promoted version rolls out to (group, tags or devices)");
  CANOPY_ASSIGN_OR_RETURN(p.strategy, RolloutStrategy::from_json(json.value("strategy", Json())));
  return p;
}

Json RetrainJob::to_json() const {
  return {{"id", id},
          {"model", model},
          {"reason", reason},
          {"state", state},
          {"dataset", dataset},
          {"parent_version", parent_version},
          {"parameters", parameters},
          {"worker", worker},
          {"lease_expires_ms", lease_expires_ms},
          {"attempts", attempts},
          {"progress", progress},
          {"created_at", created_at},
          {"started_at", started_at},
          {"finished_at", finished_at},
          {"run_id", run_id},
          {"version", version},
          {"message", message},
          {"promotion", promotion},
          {"deployment", deployment},
          {"promotion_note", promotion_note}};
}

Result<RetrainJob> RetrainJob::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "retrain job"));
  RetrainJob j;
  CANOPY_ASSIGN_OR_RETURN(j.id, json_get<std::int64_t>(json, "id"));
  CANOPY_ASSIGN_OR_RETURN(j.model, read_string(json, "model", 128));
  CANOPY_ASSIGN_OR_RETURN(j.reason, read_string(json, "reason", 1024, ""));
  CANOPY_ASSIGN_OR_RETURN(j.state, read_string(json, "state", 16));
  CANOPY_ASSIGN_OR_RETURN(j.dataset, read_string(json, "dataset", 160, ""));
  CANOPY_ASSIGN_OR_RETURN(j.parent_version, read_count(json, "parent_version", 0));
  j.parameters = json.value("parameters", Json::object());
  if (!j.parameters.is_object()) return bad_field("parameters", "must be an object");
  CANOPY_ASSIGN_OR_RETURN(j.worker, read_string(json, "worker", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(j.lease_expires_ms, read_count(json, "lease_expires_ms", 0));
  CANOPY_ASSIGN_OR_RETURN(j.attempts, json_get_or<int>(json, "attempts", 0));
  CANOPY_ASSIGN_OR_RETURN(j.progress, read_string(json, "progress", 1024, ""));
  CANOPY_ASSIGN_OR_RETURN(j.created_at, read_string(json, "created_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(j.started_at, read_string(json, "started_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(j.finished_at, read_string(json, "finished_at", 64, ""));
  CANOPY_ASSIGN_OR_RETURN(j.run_id, read_string(json, "run_id", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(j.version, read_count(json, "version", 0));
  CANOPY_ASSIGN_OR_RETURN(j.message, read_string(json, "message", 4096, ""));
  CANOPY_ASSIGN_OR_RETURN(j.promotion, read_string(json, "promotion", 16, ""));
  CANOPY_ASSIGN_OR_RETURN(j.deployment, read_count(json, "deployment", 0));
  CANOPY_ASSIGN_OR_RETURN(j.promotion_note, read_string(json, "promotion_note", 1024, ""));
  return j;
}

Json JobLease::to_json() const { return {{"job", job.to_json()}, {"lease_s", lease_s}}; }

Result<JobLease> JobLease::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "job lease"));
  JobLease lease;
  const Json* job = optional_member(json, "job");
  if (!job) return bad_field("job", "is missing");
  CANOPY_ASSIGN_OR_RETURN(lease.job, RetrainJob::from_json(*job));
  CANOPY_ASSIGN_OR_RETURN(lease.lease_s, json_get<std::int64_t>(json, "lease_s"));
  if (lease.lease_s <= 0) return bad_field("lease_s", "must be positive");
  return lease;
}

Json JobOutcome::to_json() const {
  return {{"worker", worker},       {"run_id", run_id},           {"earlier_runs", earlier_runs},
          {"exit_code", exit_code}, {"gate_failed", gate_failed}, {"message", message}};
}

Result<JobOutcome> JobOutcome::from_json(const Json& json) {
  CANOPY_TRY(require_object(json, "job outcome"));
  JobOutcome o;
  CANOPY_ASSIGN_OR_RETURN(o.worker, read_string(json, "worker", 128));
  CANOPY_ASSIGN_OR_RETURN(o.run_id, read_string(json, "run_id", 128, ""));
  CANOPY_ASSIGN_OR_RETURN(o.earlier_runs, read_strings(json, "earlier_runs"));
  if (o.earlier_runs.size() > 64) return bad_field("earlier_runs", "must hold at most 64 run ids");
  CANOPY_ASSIGN_OR_RETURN(o.exit_code, json_get<int>(json, "exit_code"));
  CANOPY_ASSIGN_OR_RETURN(o.gate_failed, json_get_or<bool>(json, "gate_failed", false));
  CANOPY_ASSIGN_OR_RETURN(o.message, read_string(json, "message", 4096, ""));
  return o;
}

}  // namespace canopy::api
