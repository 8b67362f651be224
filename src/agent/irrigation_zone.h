// One irrigation zone on the device: its valve and the rules of
// field/irrigation.h, run once per period on the verdict of its soil sensor. The valve's state is
// kept in DATA/zones/NAME.json and written before the valve opens and after
// it closes, so a crash at any instant leaves either a closed valve or a
// record that says it may be open; opening the zone closes the valve first
// in every case (outputs are OFF at start). The same record keeps the last
// actuations with their reasons.
// Thread-safety: one thread per zone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "common/error.h"
#include "device/actuators.h"
#include "field/irrigation.h"
#include "field/sensor_health.h"

namespace canopy::agent {

struct ZoneSettings {
  std::string name;
  field::ZoneRules rules;
};

// What one period did.
struct Actuation {
  std::int64_t at_ms = 0;
  bool open = false;
  std::string reason;
};

struct ZoneStep {
  field::IrrigationDecision decision;
  bool changed = false;  // the valve was switched
};

class IrrigationZone {
 public:
  // Closes the valve whatever it was, recording a valve left open by a
  // crash as closed now. Fails when the valve cannot be closed.
  static Result<std::unique_ptr<IrrigationZone>> open(ZoneSettings settings,
                                                      std::unique_ptr<device::Valve> valve,
                                                      const std::filesystem::path& data_dir, Clock& clock,
                                                      Env& env = default_env());

  // Decides on the soil sensor's verdict and switches the valve. When it
  // switches, `record` is called with the step before the valve opens (so
  // the opening is recorded before any water runs, whenever the process
  // dies) and after it has closed. An error means the valve could not be
  // switched or its record written; the valve is then closed if at all
  // possible.
  Result<ZoneStep> step(const field::SensorVerdict& soil, bool water_stress_seen,
                        const std::function<void(const ZoneStep&)>& record = {});

  // Closes the valve if it is open, recording `reason`: the controller is
  // stopping. True when it was open.
  Result<bool> close(const std::string& reason);

  const field::ValveState& valve_state() const { return state_; }
  // Newest last, at most kActuationsKept.
  const std::vector<Actuation>& actuations() const { return actuations_; }
  static constexpr std::size_t kActuationsKept = 200;

 private:
  IrrigationZone(ZoneSettings settings, std::unique_ptr<device::Valve> valve, std::filesystem::path dir,
                 Clock& clock, Env& env)
      : settings_(std::move(settings)),
        valve_(std::move(valve)),
        dir_(std::move(dir)),
        clock_(clock),
        env_(env) {}
  std::filesystem::path record_path() const { return dir_ / (settings_.name + ".json"); }
  // Writes the record: `state` and the actuations kept, with `next` appended if given.
  Status save(const field::ValveState& state, const Actuation* next);
  Status switch_valve(const field::IrrigationDecision& decision, std::int64_t now_ms,
                      const std::function<void()>& record = {});

  ZoneSettings settings_;
  std::unique_ptr<device::Valve> valve_;
  std::filesystem::path dir_;
  Clock& clock_;
  Env& env_;
  field::ValveState state_;
  std::vector<Actuation> actuations_;
};

}  // namespace canopy::agent
