#include "agent/field_loop.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <opencv2/imgproc.hpp>

#include "agent/irrigation_zone.h"
#include "agent/sample_collector.h"
#include "agent/sensor_channel.h"
#include "common/backoff.h"
#include "common/files.h"
#include "common/keys.h"
#include "device/actuators.h"
#include "device/cameras.h"
#include "field/evapotranspiration.h"
#include "field/plants.h"
#include "infer/detector.h"
#include "vision/image_codec.h"

namespace canopy::agent {

namespace {

constexpr std::int64_t kDayMs = 86'400'000;
// A frame larger than this is refused before decoding: no field camera sends
// one, and decoding it would cost the device its memory.
constexpr std::int64_t kMaxFramePixels = 40'000'000;
// Failures in a row before a camera is reported: one lost frame is not news.
constexpr int kCameraFailuresReported = 3;
// Evidence frames are sent at most this wide, to keep them cheap to keep and upload.
constexpr int kEvidenceWidth = 640;
// DATA/field-alerts.json: which alerts are raised and not cleared, so that
// the loop that sees a condition end clears it even when an earlier run
// (before a crash, a reboot or a new configuration) raised it.
constexpr const char* kAlertMemoryFile = "field-alerts.json";

// When a task due at `due_ms` that ran at `now` is due next: a period after
// it was due, so a loop woken a little late (a busy device, a simulated
// clock that moves in steps) keeps its cadence instead of drifting by the
// lateness every period; a period after `now` when it fell a whole period
// behind, so it skips what it missed rather than catching up in a burst.
std::int64_t next_due(std::int64_t due_ms, std::int64_t now, std::int64_t period_ms) {
  const std::int64_t next = due_ms + period_ms;
  return next > now ? next : now + period_ms;
}

struct CameraSlot {
  CameraConfig config;
  std::unique_ptr<device::Camera> camera;
  std::string zone;  // the configured zone, or the camera's own id
  field::PlantField plants;
  Backoff backoff;
  std::int64_t next_ms = 0;
  int failures_in_a_row = 0;
  bool reported = false;
  // Frames judged since the loop started: its plants' states are known
  // once it has judged a tracking window of them.
  int passes = 0;
  // Counted over the current telemetry period.
  int captured = 0, processed = 0, skipped = 0, failed = 0;
};

struct SensorSlot {
  SensorConfig config;
  SensorChannel channel;
  std::int64_t next_ms = 0;
  bool reported = false;
  // Valid values over the current telemetry period.
  double sum = 0, min = 0, max = 0;
  int count = 0;
};

struct ZoneSlot {
  ZoneConfig config;
  std::unique_ptr<IrrigationZone> zone;
  std::size_t soil = 0;  // index into the sensors
  std::int64_t next_ms = 0;
};

std::unique_ptr<device::Camera> make_camera(const CameraConfig& c) {
  switch (c.kind) {
    case CameraKind::kSpool:
      return device::spool_camera(c.spool);
    case CameraKind::kCommand:
      return device::command_camera(c.command);
    case CameraKind::kHttp:
      return device::http_camera(c.url);
    case CameraKind::kV4l2:
      return device::v4l2_camera(c.device, c.width, c.height);
  }
  return nullptr;
}

std::unique_ptr<device::SensorInput> make_sensor(const SensorConfig& s) {
  switch (s.source) {
    case SensorSource::kHwmon:
      return device::hwmon_input(s.path);
    case SensorSource::kW1:
      return device::w1_therm_input(s.path);
    case SensorSource::kIio:
      return device::iio_soil_input(s.path, s.scale_path, s.calibration);
    case SensorSource::kSenml:
      return device::senml_command_input(s.command, s.senml_name);
    case SensorSource::kFile:
      return device::file_input(s.path);
  }
  return nullptr;
}

std::unique_ptr<device::Valve> make_valve(const ZoneConfig& z) {
  switch (z.valve) {
    case ValveKind::kGpio:
      return device::gpio_valve(z.gpio_chip, z.gpio_line, z.gpio_active_low);
    case ValveKind::kCommand:
      return device::command_valve(z.valve_command);
    case ValveKind::kFile:
      return device::file_valve(z.valve_file);
  }
  return nullptr;
}

int day_of_year(std::int64_t day_number) {
  const std::time_t seconds = static_cast<std::time_t>(day_number * 86'400);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  return utc.tm_yday + 1;
}

std::optional<double> resident_bytes() {
  auto statm = read_file("/proc/self/statm");
  if (!statm.ok()) return std::nullopt;
  long long size = 0, resident = 0;
  if (std::sscanf(statm->c_str(), "%lld %lld", &size, &resident) != 2) return std::nullopt;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

struct FieldLoop::Impl {
  Impl(FieldLoopOptions o, ActiveModel& a, RecordEmitter e)
      : options(std::move(o)), active(a), emit(std::move(e)), clock(*options.clock) {}

  void run_camera(CameraSlot& slot, std::int64_t now);
  void judge_frame(CameraSlot& slot, const device::Frame& frame, std::int64_t now);
  void consider_sample(const CameraSlot& slot, const device::Frame& frame, cv::Size size,
                       const cv::Mat& image, std::vector<vision::Detection> detections, std::int64_t now);
  void raise_zone_alerts(const std::string& zone, std::string_view frame, cv::Size frame_size,
                         const std::string& camera, std::int64_t now);
  void run_sensor(SensorSlot& slot, std::int64_t now);
  void run_zone(ZoneSlot& slot, std::int64_t now);
  void send_telemetry(std::int64_t now);
  void record_air_temperature(double celsius, std::int64_t now);
  void report_source(const std::string& subject, bool failing, const std::string& message, std::int64_t now);
  void load_alert_memory();
  void save_alert_memory();
  infer::Detector* detector();
  std::optional<collect::SoilContext> soil_under(const std::string& zone, std::int64_t now);
  std::map<std::string, double> valid_readings(std::int64_t now);
  void send(api::Stream stream, std::int64_t now, Json body) {
    Status sent = emit(stream, now, std::move(body));
    if (sent.ok()) return;
    // A sample finds no room when the outbox is full of the field's own
    // records, which it may not displace: that is the outbox working.
    if (stream == api::Stream::kSamples && sent.error().code == ErrorCode::kTooLarge)
      spdlog::info("samples.no_room error=\"{}\"", sent.error().message);
    else
      spdlog::error("field.record_lost stream={} error=\"{}\"", api::stream_name(stream),
                    sent.error().message);
  }

  FieldLoopOptions options;
  ActiveModel& active;
  RecordEmitter emit;
  Clock& clock;
  std::vector<CameraSlot> cameras;
  std::vector<SensorSlot> sensors;
  std::vector<ZoneSlot> zones;
  std::map<std::string, field::ZoneAlerts> alert_memory;

  // Frames are decoded into its buffer: one a frame, none allocated while
  // their size stays the same.
  vision::ImageDecoder decoder;
  std::shared_ptr<const LoadedModel> model;  // the model `detector_` runs
  std::unique_ptr<infer::Detector> detector_;

  std::unique_ptr<SampleCollector> samples;
  std::map<std::string, std::int64_t>
      zone_dry_since_ms;  // zones whose soil is at or below the start threshold

  std::int64_t next_telemetry_ms = 0;
  std::int64_t telemetry_started_ms = 0;
  double inference_ms_sum = 0;
  int inferences = 0;
  std::array<std::int64_t, 10> confidences{};
  std::string confidences_model;  // the detector the histogram counts, NAME:VERSION
  double cpu_at_start = 0;
  std::chrono::steady_clock::time_point real_at_start;
  // Today's air temperature range, for Hargreaves' ET0 of the day when it ends.
  std::int64_t temperature_day = -1;
  double day_min = 0, day_max = 0;
  std::optional<double> last_et0_mm;
};

infer::Detector* FieldLoop::Impl::detector() {
  std::shared_ptr<const LoadedModel> loaded = active.get();
  if (loaded != model) {
    model = loaded;
    detector_.reset();
    if (loaded) {
      infer::DetectorOptions detector_options;
      // Boxes down to the floor come back with their raw scores; the model's
      // own threshold is applied here, after they have been counted.
      detector_options.score_threshold = static_cast<float>(options.config.raw_score_floor);
      // The detector shares the loaded engine and keeps the model alive while it runs.
      std::shared_ptr<const infer::Engine> engine(loaded, loaded->engine.get());
      auto made = infer::Detector::over(std::move(engine), loaded->manifest, detector_options);
      if (made.ok()) {
        detector_ = std::move(*made);
        // A histogram is of one model: what the replaced one scored this period is dropped.
        confidences = {};
        confidences_model = loaded->ref.model.label();
        spdlog::info("field.model model={}", loaded->ref.model.label());
      } else {
        spdlog::error("field.model_unusable model={} error=\"{}\"", loaded->ref.model.label(),
                      made.error().message);
      }
    }
  }
  return detector_.get();
}

void FieldLoop::Impl::report_source(const std::string& subject, bool failing, const std::string& message,
                                    std::int64_t now) {
  api::AlertEvent alert;
  alert.condition = "sensor";
  alert.subject = subject;
  alert.raised = failing;
  alert.severity = failing ? "warning" : "info";
  alert.message = message.substr(0, 512);
  send(api::Stream::kAlerts, now, alert.to_json());
}

void FieldLoop::Impl::load_alert_memory() {
  if (options.data_dir.empty()) return;  // nothing to keep it in: alerts are remembered for this run only
  const std::filesystem::path path = options.data_dir / kAlertMemoryFile;
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (!std::filesystem::exists(path, ec)) return;
  auto text = read_file(path);
  auto json = text.ok() ? parse_json(*text, path.string()) : Result<Json>(text.error());
  // A damaged record forgets which alerts are raised: they clear when raised again and over.
  if (!json.ok() || !json->is_object()) {
    spdlog::warn("field.alert_memory_damaged path={}", path.string());
    return;
  }
  const Json remembered_zones = json->value("zones", Json::object());
  for (const auto& [zone, conditions] : remembered_zones.items()) {
    if (!conditions.is_object()) continue;
    for (const auto& [name, remembered] : conditions.items()) {
      const auto condition = field::plant_state_of_label(name);
      if (!condition || !remembered.is_object()) continue;
      alert_memory[zone].active[*condition] = remembered.value("active", false);
      if (remembered.contains("raised_ms"))
        alert_memory[zone].last_raised_ms[*condition] = remembered.value("raised_ms", std::int64_t{0});
    }
  }
  const Json sources = json->value("sources", Json::object());
  for (SensorSlot& slot : sensors) slot.reported = sources.value(slot.config.name, false);
  for (CameraSlot& slot : cameras) slot.reported = sources.value(slot.config.id, false);
}

void FieldLoop::Impl::save_alert_memory() {
  if (options.data_dir.empty()) return;
  Json zone_alerts = Json::object();
  for (const auto& [zone, memory] : alert_memory) {
    Json conditions = Json::object();
    for (const auto& [condition, raised] : memory.active) {
      Json remembered = {{"active", raised}};
      if (auto last = memory.last_raised_ms.find(condition); last != memory.last_raised_ms.end())
        remembered["raised_ms"] = last->second;
      conditions[std::string(field::plant_state_name(condition))] = remembered;
    }
    zone_alerts[zone] = conditions;
  }
  Json sources = Json::object();
  for (const SensorSlot& slot : sensors)
    if (slot.reported) sources[slot.config.name] = true;
  for (const CameraSlot& slot : cameras)
    if (slot.reported) sources[slot.config.id] = true;
  const Json record = {{"zones", zone_alerts}, {"sources", sources}};
  Status saved = write_file_atomic(options.data_dir / kAlertMemoryFile, record.dump(1) + "\n");
  if (!saved.ok()) spdlog::error("field.alert_memory_not_saved error=\"{}\"", saved.error().message);
}

void FieldLoop::Impl::run_camera(CameraSlot& slot, std::int64_t now) {
  auto captured = slot.camera->capture(now);
  if (!captured.ok()) {
    ++slot.failed;
    ++slot.failures_in_a_row;
    const auto wait = slot.backoff.next_failure();
    slot.next_ms = now + wait.count();
    if (slot.failures_in_a_row == 1 || slot.failures_in_a_row == kCameraFailuresReported)
      spdlog::warn("field.camera_failed camera={} failures={} retry_in_ms={} error=\"{}\"", slot.config.id,
                   slot.failures_in_a_row, wait.count(), captured.error().message);
    if (slot.failures_in_a_row == kCameraFailuresReported && !slot.reported) {
      slot.reported = true;
      save_alert_memory();
      report_source(slot.config.id, true, "camera " + slot.config.id + ": " + captured.error().message, now);
    }
    return;
  }
  if (slot.failures_in_a_row > 0) spdlog::info("field.camera_recovered camera={}", slot.config.id);
  if (slot.reported) {
    slot.reported = false;
    save_alert_memory();
    report_source(slot.config.id, false, "camera " + slot.config.id + " works again", now);
  }
  slot.failures_in_a_row = 0;
  slot.backoff.reset();
  slot.next_ms = next_due(slot.next_ms, now, slot.config.interval_ms);
  if (!captured->has_value()) return;
  const device::Frame& frame = **captured;
  ++slot.captured;
  slot.skipped += frame.skipped;
  if (now - frame.captured_ms > slot.config.max_frame_age_ms) {
    ++slot.skipped;  // what the field looked like too long ago
    return;
  }
  judge_frame(slot, frame, now);
}

void FieldLoop::Impl::judge_frame(CameraSlot& slot, const device::Frame& frame, std::int64_t now) {
  auto bad_frame = [&](const std::string& why) {
    ++slot.failed;
    spdlog::warn("field.frame_refused camera={} reason=\"{}\"", slot.config.id, why);
  };
  if (vision::is_truncated_image(frame.encoded)) return bad_frame("the frame is truncated");
  auto size = decoder.size(frame.encoded);
  if (!size.ok()) return bad_frame(size.error().message);
  if (static_cast<std::int64_t>(size->width) * size->height > kMaxFramePixels)
    return bad_frame(std::to_string(size->width) + "x" + std::to_string(size->height) +
                     " is larger than a frame may be");
  infer::Detector* found_detector = detector();
  // Decoded only as large as the model sees it (a 640x480 JPEG for a
  // 320x320 letterbox: at 320x240). Without a model it is still decoded, as
  // small as it goes, so that a corrupt frame counts as failed.
  auto image =
      decoder.decode(frame.encoded, found_detector ? found_detector->input_footprint(*size) : cv::Size(1, 1));
  if (!image.ok()) return bad_frame(image.error().message);
  if (!found_detector) {
    ++slot.skipped;  // no usable model yet
    return;
  }
  // Inference time is real work, measured in real time like CPU use below.
  const auto started = std::chrono::steady_clock::now();
  auto detections = found_detector->detect(*image);
  inference_ms_sum +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ++inferences;
  if (!detections.ok()) return bad_frame(detections.error().message);
  ++slot.processed;
  ++slot.passes;

  const package::Manifest& manifest = found_detector->manifest();
  const double threshold = manifest.thresholds.score;
  std::vector<field::PlantDetection> pass;
  for (const vision::Detection& d : *detections) {
    confidences[std::clamp(static_cast<int>(d.score * 10), 0, 9)] += 1;
    if (d.score < threshold || d.label < 0 || d.label >= static_cast<int>(manifest.labels.size())) continue;
    auto state = field::plant_state_of_label(manifest.labels[d.label]);
    if (!state) continue;
    pass.push_back({(d.box.x1 + d.box.x2) / 2.0 / image->cols, (d.box.y1 + d.box.y2) / 2.0 / image->rows,
                    *state, d.score});
  }
  const std::vector<field::PlantChange> changes =
      field::track_pass(slot.plants, pass, options.config.tracking);
  consider_sample(slot, frame, *size, *image, std::move(*detections), now);
  for (const field::PlantChange& change : changes) {
    const auto plant = std::find_if(slot.plants.plants.begin(), slot.plants.plants.end(),
                                    [&](const field::Plant& p) { return p.id == change.plant_id; });
    api::PlantChangeEvent event;
    event.camera = slot.config.id;
    event.zone = slot.zone;
    event.plant_id = change.plant_id;
    if (plant != slot.plants.plants.end()) {
      event.cx = plant->cx;
      event.cy = plant->cy;
    }
    event.from = field::plant_state_name(change.from);
    event.to = field::plant_state_name(change.to);
    send(api::Stream::kPlants, now, event.to_json());
  }
  raise_zone_alerts(slot.zone, frame.encoded, *size, slot.config.id, now);
}

// Hard-case selection sees every judged frame with the boxes down to the
// raw floor, the camera's plants, the soil under them and the sensors.
void FieldLoop::Impl::consider_sample(const CameraSlot& slot, const device::Frame& frame, cv::Size size,
                                      const cv::Mat& image, std::vector<vision::Detection> detections,
                                      std::int64_t now) {
  if (!samples) return;
  JudgedFrame judged;
  judged.camera = slot.config.id;
  judged.zone = slot.config.zone;
  judged.captured_ms = frame.captured_ms;
  judged.encoded = frame.encoded;
  judged.size = size;
  judged.image = image;
  judged.detections = std::move(detections);
  for (const field::Plant& plant : slot.plants.plants) {
    collect::PassHistory& history = judged.plants.emplace_back();
    history.agreed = field::plant_state_name(plant.state);
    for (const auto& state : plant.recent)
      history.recent.push_back(state ? std::optional<std::string>(field::plant_state_name(*state))
                                     : std::nullopt);
  }
  judged.window = options.config.tracking.window;
  judged.soil = soil_under(slot.config.zone, now);
  judged.sensors = valid_readings(now);
  if (auto sample = samples->consider(judged, model, now))
    send(api::Stream::kSamples, now, sample->to_json());
}

std::optional<collect::SoilContext> FieldLoop::Impl::soil_under(const std::string& zone, std::int64_t now) {
  for (const ZoneSlot& slot : zones) {
    if (slot.config.name != zone) continue;
    const field::SensorVerdict soil = sensors[slot.soil].channel.verdict(now);
    if (!soil.value) return std::nullopt;
    collect::SoilContext context;
    context.wet = *soil.value > field::start_threshold(slot.config.rules);
    if (context.wet) {
      zone_dry_since_ms.erase(zone);
    } else {
      const std::int64_t since = zone_dry_since_ms.try_emplace(zone, now).first->second;
      context.dry_for_ms = now - since;
    }
    return context;
  }
  return std::nullopt;
}

std::map<std::string, double> FieldLoop::Impl::valid_readings(std::int64_t now) {
  std::map<std::string, double> values;
  for (const SensorSlot& slot : sensors)
    if (const field::SensorVerdict verdict = slot.channel.verdict(now); verdict.value)
      values[slot.config.name] = *verdict.value;
  return values;
}

void FieldLoop::Impl::raise_zone_alerts(const std::string& zone, std::string_view frame, cv::Size frame_size,
                                        const std::string& camera, std::int64_t now) {
  std::map<field::PlantState, int> by_state;
  for (const CameraSlot& slot : cameras) {
    if (slot.zone != zone) continue;
    // A plant the tracker has just found counts as healthy until its passes
    // agree: after a start, judging the zone before then would clear what
    // is still true.
    if (slot.passes < options.config.tracking.window) return;
    for (const field::Plant& plant : slot.plants.plants) ++by_state[plant.state];
  }
  // Water stress is raised only when the zone's soil agrees: below the start
  // threshold the root zone has used its readily available water (FAO-56's
  // Ks < 1), above it the plants transpire unstressed, and plants that look
  // stressed are the light of dawn or dusk, a shadow, or the model's error.
  // A zone without a valid soil reading cannot tell, and raises it.
  for (const ZoneSlot& slot : zones) {
    if (slot.config.name != zone || by_state[field::PlantState::kWaterStressed] == 0) continue;
    const field::SensorVerdict soil = sensors[slot.soil].channel.verdict(now);
    if (soil.value && *soil.value > field::start_threshold(slot.config.rules)) {
      by_state[field::PlantState::kHealthy] += by_state[field::PlantState::kWaterStressed];
      by_state[field::PlantState::kWaterStressed] = 0;
    }
  }
  const std::vector<field::ZoneAlert> alerts =
      field::zone_alerts(alert_memory[zone], zone, by_state, options.config.alerts, now);
  // Remembered before it is sent: a crash in between at worst clears an
  // alert the server never opened.
  if (!alerts.empty()) save_alert_memory();
  for (const field::ZoneAlert& alert : alerts) {
    api::AlertEvent event;
    event.zone = alert.zone;
    event.condition = field::plant_state_name(alert.condition);
    event.raised = alert.kind == field::AlertKind::kRaised;
    event.severity = alert.severity;
    event.plants = alert.plants;
    event.message = event.raised
                        ? std::to_string(alert.plants) + " plant(s) " + event.condition + " in zone " + zone
                        : "no plant " + event.condition + " in zone " + zone + " any more";
    spdlog::info("field.alert zone={} condition={} raised={} plants={}", zone, event.condition, event.raised,
                 alert.plants);
    send(api::Stream::kAlerts, now, event.to_json());
    if (!event.raised) continue;
    // The frame that raised it, so a person can see what the device saw:
    // decoded again, at kEvidenceWidth or just above where the JPEG can be
    // (the model's copy is only as large as the model's input).
    auto decoded = decoder.decode(frame, {std::min(kEvidenceWidth, frame_size.width), 1});
    if (!decoded.ok()) continue;
    cv::Mat evidence = *decoded;
    if (evidence.cols > kEvidenceWidth)
      cv::resize(*decoded, evidence, cv::Size(kEvidenceWidth, decoded->rows * kEvidenceWidth / decoded->cols),
                 0, 0, cv::INTER_AREA);
    auto jpeg = vision::encode_image(evidence, vision::ImageFormat::kJpeg, 80);
    if (!jpeg.ok()) continue;
    api::FrameImage image;
    image.camera = camera;
    image.reason = "alert: " + event.condition + " in zone " + zone;
    image.width = evidence.cols;
    image.height = evidence.rows;
    image.jpeg_base64 = base64_encode(*jpeg);
    send(api::Stream::kImages, now, image.to_json());
  }
}

void FieldLoop::Impl::record_air_temperature(double celsius, std::int64_t now) {
  const std::int64_t day = now / kDayMs;
  if (day != temperature_day) {
    if (temperature_day >= 0) {
      last_et0_mm =
          field::hargreaves_et0(day_min, day_max, options.config.latitude_deg, day_of_year(temperature_day));
      spdlog::info("field.et0 day_of_year={} t_min={:.1f} t_max={:.1f} et0_mm={:.2f}",
                   day_of_year(temperature_day), day_min, day_max, *last_et0_mm);
    }
    temperature_day = day;
    day_min = day_max = celsius;
  }
  day_min = std::min(day_min, celsius);
  day_max = std::max(day_max, celsius);
}

void FieldLoop::Impl::run_sensor(SensorSlot& slot, std::int64_t now) {
  slot.next_ms = next_due(slot.next_ms, now, slot.config.period_ms);
  const field::SensorVerdict verdict = slot.channel.read(now);
  api::Reading reading;
  reading.sensor = slot.config.name;
  reading.kind = slot.config.measures;
  reading.unit = slot.config.unit;
  reading.value = verdict.value;
  reading.status = field::sensor_status_name(verdict.status);
  reading.reason = verdict.reason.substr(0, 512);
  send(api::Stream::kReadings, now, reading.to_json());
  if (!verdict.value && !slot.reported) {
    slot.reported = true;
    save_alert_memory();
    spdlog::warn("field.sensor_invalid sensor={} status={} reason=\"{}\"", slot.config.name, reading.status,
                 verdict.reason);
    report_source(slot.config.name, true, "sensor " + slot.config.name + ": " + verdict.reason, now);
  } else if (verdict.value && slot.reported) {
    slot.reported = false;
    save_alert_memory();
    spdlog::info("field.sensor_valid sensor={}", slot.config.name);
    report_source(slot.config.name, false, "sensor " + slot.config.name + " reads valid values again", now);
  }
  if (!verdict.value) return;
  const double value = *verdict.value;
  slot.min = slot.count == 0 ? value : std::min(slot.min, value);
  slot.max = slot.count == 0 ? value : std::max(slot.max, value);
  slot.sum += value;
  ++slot.count;
  if (slot.config.measures == "air_temperature") record_air_temperature(value, now);
}

void FieldLoop::Impl::run_zone(ZoneSlot& slot, std::int64_t now) {
  slot.next_ms = next_due(slot.next_ms, now, slot.config.period_ms);
  const field::SensorVerdict soil = sensors[slot.soil].channel.verdict(now);
  bool stressed = false;
  for (const CameraSlot& camera : cameras)
    if (camera.zone == slot.config.name)
      for (const field::Plant& plant : camera.plants.plants)
        stressed = stressed || plant.state == field::PlantState::kWaterStressed;
  auto send_actuation = [&](bool open, const std::string& reason) {
    api::ActuationEvent actuation;
    actuation.zone = slot.config.name;
    actuation.open = open;
    actuation.reason = reason.substr(0, 512);
    actuation.theta = soil.value;
    send(api::Stream::kActuations, now, actuation.to_json());
  };
  // Sent before the valve opens: an actuation record is durable when append
  // returns, so a crash at any instant after the water runs leaves it behind.
  bool sent_open = false;
  auto step = slot.zone->step(soil, stressed, [&](const ZoneStep& decided) {
    sent_open = decided.decision.open;
    send_actuation(decided.decision.open, decided.decision.reason);
  });
  // The opening was sent but the valve refused it (the zone closed it again).
  if (!step.ok() && sent_open) send_actuation(false, "the valve failed to open: " + step.error().message);
}

void FieldLoop::Impl::send_telemetry(std::int64_t now) {
  const double period_s = std::max<double>(1, (now - telemetry_started_ms) / 1000.0);
  api::Telemetry telemetry;
  telemetry.period_s = static_cast<std::int64_t>(std::llround(period_s));
  auto& values = telemetry.values;
  for (CameraSlot& slot : cameras) {
    const std::string prefix = "camera." + slot.config.id + ".";
    values[prefix + "fps"] = slot.captured / period_s;
    values[prefix + "processed_fps"] = slot.processed / period_s;
    values[prefix + "skipped_fps"] = slot.skipped / period_s;
    values[prefix + "failures"] = slot.failed;
    values[prefix + "plants"] = static_cast<double>(slot.plants.plants.size());
    slot.captured = slot.processed = slot.skipped = slot.failed = 0;
  }
  if (inferences > 0) values["inference_ms"] = inference_ms_sum / inferences;
  for (SensorSlot& slot : sensors) {
    if (slot.count == 0) continue;
    const std::string prefix = "sensor." + slot.config.name + ".";
    values[prefix + "mean"] = slot.sum / slot.count;
    values[prefix + "min"] = slot.min;
    values[prefix + "max"] = slot.max;
    slot.sum = 0;
    slot.count = 0;
  }
  for (const ZoneSlot& slot : zones)
    values["zone." + slot.config.name + ".open_today_s"] =
        field::open_today_ms(slot.zone->valve_state(), now) / 1000.0;
  if (last_et0_mm) values["et0_mm"] = *last_et0_mm;
  // CPU is real work, so it is measured in real time even under a test clock.
  const auto real_now = std::chrono::steady_clock::now();
  const double real_s = std::chrono::duration<double>(real_now - real_at_start).count();
  const double cpu = cpu_seconds();
  if (real_s > 0) values["cpu_percent"] = 100 * (cpu - cpu_at_start) / real_s;
  cpu_at_start = cpu;
  real_at_start = real_now;
  if (auto rss = resident_bytes()) values["rss_bytes"] = *rss;
  struct statvfs disk {};
  if (::statvfs(options.data_dir.c_str(), &disk) == 0)
    values["disk_free_bytes"] = static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize);
  if (samples)
    for (const auto& [name, value] : samples->take_telemetry()) values[name] = value;
  if (options.extra_telemetry)
    for (const auto& [name, value] : options.extra_telemetry()) values[name] = value;
  telemetry.confidence_histogram = confidences;
  telemetry.model = confidences_model;
  telemetry.field = options.config.field;
  confidences = {};
  inference_ms_sum = 0;
  inferences = 0;
  telemetry_started_ms = now;
  next_telemetry_ms = next_due(next_telemetry_ms, now, options.config.telemetry_period_ms);
  send(api::Stream::kTelemetry, now, telemetry.to_json());
}

Result<std::unique_ptr<FieldLoop>> FieldLoop::open(FieldLoopOptions options, ActiveModel& active,
                                                   RecordEmitter emit) {
  auto impl = std::make_unique<Impl>(std::move(options), active, std::move(emit));
  const FieldConfig& config = impl->options.config;
  Clock& clock = impl->clock;
  const std::int64_t now = clock.wall_ms();
  for (const SensorConfig& s : config.sensors)
    impl->sensors.push_back({s, SensorChannel(s.name, make_sensor(s), s.rules)});
  for (const CameraConfig& c : config.cameras) {
    if (c.kind == CameraKind::kSpool) {
      std::error_code ec;
      std::filesystem::create_directories(c.spool, ec);  // the camera or script may start after the agent
    }
    const std::chrono::milliseconds interval(c.interval_ms);
    impl->cameras.push_back(
        {c,
         make_camera(c),
         c.zone.empty() ? c.id : c.zone,
         {},
         Backoff(interval, std::max<std::chrono::milliseconds>(interval, std::chrono::minutes(15)))});
  }
  for (const ZoneConfig& z : config.zones) {
    std::unique_ptr<device::Valve> valve = make_valve(z);
    auto zone = IrrigationZone::open({z.name, z.rules}, std::move(valve), impl->options.data_dir, clock);
    if (!zone.ok()) return zone.error().with_context("zone " + z.name);
    std::size_t soil = 0;
    while (impl->sensors[soil].config.name != z.soil_sensor) ++soil;  // the configuration resolved it
    // The valve was closed at start; the server hears of it, above all when
    // a crash had left it open.
    const Actuation& closed = (*zone)->actuations().back();
    api::ActuationEvent event;
    event.zone = z.name;
    event.reason = closed.reason;
    impl->send(api::Stream::kActuations, closed.at_ms, event.to_json());
    impl->zones.push_back({z, std::move(*zone), soil});
  }
  impl->load_alert_memory();
  if (config.selection.enabled)
    impl->samples = std::make_unique<SampleCollector>(
        impl->options.device_id, impl->options.config,
        impl->options.data_dir.empty() ? std::filesystem::path() : impl->options.data_dir / "selection.json",
        static_cast<std::uint64_t>(now));
  for (SensorSlot& s : impl->sensors) s.next_ms = now;
  for (CameraSlot& c : impl->cameras) c.next_ms = now;
  for (ZoneSlot& z : impl->zones) z.next_ms = now;
  impl->telemetry_started_ms = now;
  impl->next_telemetry_ms = now + config.telemetry_period_ms;
  impl->cpu_at_start = cpu_seconds();
  impl->real_at_start = std::chrono::steady_clock::now();
  spdlog::info("field.started cameras={} sensors={} zones={}", impl->cameras.size(), impl->sensors.size(),
               impl->zones.size());
  return std::unique_ptr<FieldLoop>(new FieldLoop(std::move(impl)));
}

FieldLoop::FieldLoop(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FieldLoop::~FieldLoop() {
  for (ZoneSlot& slot : impl_->zones) {
    const std::string reason = "closed: the field loop stopped";
    auto closed = slot.zone->close(reason);
    if (!closed.ok()) {
      spdlog::error("field.valve_not_closed zone={} error=\"{}\"", slot.config.name, closed.error().message);
    } else if (*closed) {
      api::ActuationEvent event;
      event.zone = slot.config.name;
      event.reason = reason;
      impl_->send(api::Stream::kActuations, impl_->clock.wall_ms(), event.to_json());
    }
  }
}

std::int64_t FieldLoop::run_due() {
  Impl& loop = *impl_;
  const std::int64_t now = loop.clock.wall_ms();
  // Sensors first, so a zone decides on this period's reading.
  for (SensorSlot& s : loop.sensors)
    if (now >= s.next_ms) loop.run_sensor(s, now);
  for (CameraSlot& c : loop.cameras)
    if (now >= c.next_ms) loop.run_camera(c, now);
  for (ZoneSlot& z : loop.zones)
    if (now >= z.next_ms) loop.run_zone(z, now);
  if (now >= loop.next_telemetry_ms) loop.send_telemetry(now);
  std::int64_t next = loop.next_telemetry_ms;
  for (const SensorSlot& s : loop.sensors) next = std::min(next, s.next_ms);
  for (const CameraSlot& c : loop.cameras) next = std::min(next, c.next_ms);
  for (const ZoneSlot& z : loop.zones) next = std::min(next, z.next_ms);
  return next;
}

void FieldLoop::run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    const std::int64_t next = run_due();
    impl_->clock.sleep_for_ms_unless(next - impl_->clock.wall_ms(), stop);
  }
}

}  // namespace canopy::agent
