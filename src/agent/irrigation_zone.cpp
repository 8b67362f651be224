#include "agent/irrigation_zone.h"

#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/json.h"
#include "common/text.h"

namespace canopy::agent {

namespace {

Json actuation_json(const Actuation& a) {
  return {{"at_ms", a.at_ms}, {"open", a.open}, {"reason", a.reason}};
}

}  // namespace

Result<std::unique_ptr<IrrigationZone>> IrrigationZone::open(ZoneSettings settings,
                                                             std::unique_ptr<device::Valve> valve,
                                                             const std::filesystem::path& data_dir,
                                                             Clock& clock, Env& env) {
  CANOPY_TRY(field::validate(settings.rules));
  if (!is_plain_name(settings.name, 64))
    return make_error(ErrorCode::kInvalidArgument,
                      "zone name '" + settings.name + "' must be 1-64 letters, digits, '.', '_' or '-'");
  const std::filesystem::path dir = data_dir / "zones";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  std::unique_ptr<IrrigationZone> zone(
      new IrrigationZone(std::move(settings), std::move(valve), dir, clock, env));
  if (std::filesystem::exists(zone->record_path(), ec)) {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(zone->record_path()));
    auto json = parse_json(text, zone->record_path().string());
    // A damaged record loses only history: the valve is closed below anyway.
    if (json.ok() && json->is_object()) {
      const Json valve_json = json->value("valve", Json::object());
      zone->state_.open = valve_json.value("open", true);
      zone->state_.changed_ms = valve_json.value("changed_ms", std::int64_t{0});
      zone->state_.open_today_ms = valve_json.value("open_today_ms", std::int64_t{0});
      zone->state_.day = valve_json.value("day", std::int64_t{0});
      zone->state_.refilling = valve_json.value("refilling", false);
      for (const Json& a : json->value("actuations", Json::array()))
        zone->actuations_.push_back(
            {a.value("at_ms", std::int64_t{0}), a.value("open", false), a.value("reason", "")});
    } else {
      spdlog::warn("agent.zone.record_damaged zone={} path={}", zone->settings_.name,
                   zone->record_path().string());
    }
  }
  // Outputs are OFF at start, whatever the record says: a crash may have left
  // the valve open, and a valve never stays open without a running controller.
  const bool was_open = zone->state_.open;
  CANOPY_TRY(zone->switch_valve(
      {false, was_open ? "closed at start: it was open when the agent stopped" : "closed at start",
       zone->state_.refilling},
      clock.wall_ms()));
  return zone;
}

Status IrrigationZone::save(const field::ValveState& state, const Actuation* next) {
  Json actuations = Json::array();
  const std::size_t total = actuations_.size() + (next ? 1 : 0);
  const std::size_t skip = total > kActuationsKept ? total - kActuationsKept : 0;
  for (std::size_t i = skip; i < actuations_.size(); ++i)
    actuations.push_back(actuation_json(actuations_[i]));
  if (next) actuations.push_back(actuation_json(*next));
  const Json record = {{"zone", settings_.name},
                       {"valve",
                        {{"open", state.open},
                         {"changed_ms", state.changed_ms},
                         {"open_today_ms", state.open_today_ms},
                         {"day", state.day},
                         {"refilling", state.refilling}}},
                       {"actuations", actuations}};
  return write_file_atomic(record_path(), record.dump(1) + "\n", 0644, env_);
}

Status IrrigationZone::switch_valve(const field::IrrigationDecision& decision, std::int64_t now_ms,
                                    const std::function<void()>& record) {
  const field::ValveState next = field::apply_decision(state_, decision, now_ms);
  const Actuation actuation{now_ms, decision.open, decision.reason};
  if (decision.open) {
    // Recorded first: a crash after the valve opened finds "open" and closes it.
    CANOPY_TRY(save(next, &actuation));
    if (record) record();
    Status opened = valve_->set(true);
    if (!opened.ok()) {
      (void)valve_->set(false);  // its state is unknown: make it closed if the hardware lets us
      return opened.error().with_context("zone " + settings_.name);
    }
  } else {
    // Closed first: the record may say "open" a moment longer, never the valve.
    CANOPY_TRY(valve_->set(false));
    CANOPY_TRY(save(next, &actuation));
    if (record) record();
  }
  state_ = next;
  actuations_.push_back(actuation);
  if (actuations_.size() > kActuationsKept) actuations_.erase(actuations_.begin());
  spdlog::info("agent.zone.valve zone={} open={} reason=\"{}\"", settings_.name, decision.open,
               decision.reason);
  return {};
}

Result<bool> IrrigationZone::close(const std::string& reason) {
  if (!state_.open) return false;
  CANOPY_TRY(switch_valve({false, reason, state_.refilling}, clock_.wall_ms()));
  return true;
}

Result<ZoneStep> IrrigationZone::step(const field::SensorVerdict& soil, bool water_stress_seen,
                                      const std::function<void(const ZoneStep&)>& record) {
  const std::int64_t now = clock_.wall_ms();
  ZoneStep out;
  out.decision = field::decide_irrigation(settings_.rules, state_, {soil.value, water_stress_seen}, now);
  if (!soil.value) out.decision.reason += " (" + soil.reason + ")";
  if (out.decision.open == state_.open) {
    // The valve stays as it is; a refill that begins or ends is kept for the next start.
    if (out.decision.refilling != state_.refilling) {
      field::ValveState next = field::apply_decision(state_, out.decision, now);
      CANOPY_TRY(save(next, nullptr));
      state_ = next;
    }
    return out;
  }
  out.changed = true;
  Status switched = switch_valve(out.decision, now, [&] {
    if (record) record(out);
  });
  if (!switched.ok()) {
    spdlog::error("agent.zone.switch_failed zone={} error=\"{}\"", settings_.name, switched.error().message);
    return switched.error();
  }
  return out;
}

}  // namespace canopy::agent
