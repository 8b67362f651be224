#include "agent/field_work.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "agent/device_record_sink.h"
#include "agent/field_loop.h"
#include "agent/identity.h"
#include "common/files.h"
#include "common/json.h"
#include "outbox/outbox.h"
#include "outbox/uploader.h"

namespace canopy::agent {

namespace {

constexpr const char* kAppliedFile = "field-config.json";
constexpr const char* kServerConfigFile = "field.yaml";
constexpr const char* kLastGoodFile = "field.last-good.yaml";
constexpr const char* kConfigSubject = "field-config";

}  // namespace

// The loop, its outbox and the uploader, each loop on a thread of its own;
// stopped and joined when this goes away.
struct FieldWork::Running {
  // The uploader's own client (clients are per thread), without retries of
  // its own: the uploader backs off on its clock.
  explicit Running(const DeviceClient& device_client)
      : client(device_client.with_attempts(1)), sink(client) {}
  ~Running() {
    stop.store(true);
    if (loop_thread.joinable()) loop_thread.join();
    if (upload_thread.joinable()) upload_thread.join();
    loop.reset();  // closes its valves, recording it in the outbox, which outlives it
  }

  Status emit(api::Stream stream, std::int64_t at_ms, const Json& body) {
    auto appended = outbox->append(stream, at_ms, body);
    if (!appended.ok()) return appended.error();
    return {};
  }

  DeviceClient client;
  DeviceRecordSink sink;
  std::unique_ptr<outbox::Outbox> outbox;
  std::unique_ptr<FieldLoop> loop;
  std::unique_ptr<outbox::Uploader> uploader;
  std::atomic<bool> stop{false};
  std::thread loop_thread, upload_thread;
};

FieldWork::FieldWork(const AgentOptions& options, ActiveModel& active, const DeviceClient& client)
    : options_(options), active_(active), client_(client), applied_(load_applied()) {}

FieldWork::~FieldWork() = default;

FieldWork::Applied FieldWork::load_applied() const {
  Applied applied;
  auto text = read_file(options_.data_dir / kAppliedFile);
  if (!text.ok()) return applied;
  auto json = parse_json(*text, kAppliedFile);
  // A damaged record only forgets which server version ran: the next poll offers it again.
  if (!json.ok() || !json->is_object()) return applied;
  applied.version = json->value("version", std::int64_t{0});
  applied.refused = json->value("refused", std::int64_t{0});
  return applied;
}

void FieldWork::save_applied() const {
  const Json record = {{"version", applied_.version}, {"refused", applied_.refused}};
  Status saved = write_file_atomic(options_.data_dir / kAppliedFile, record.dump() + "\n");
  if (!saved.ok()) spdlog::error("field.config_state_not_saved error=\"{}\"", saved.error().message);
}

std::optional<FieldConfig> FieldWork::own_config() {
  const std::filesystem::path last_good = options_.data_dir / kLastGoodFile;
  if (applied_.version > 0) {
    auto server = load_field_config(options_.data_dir / kServerConfigFile);
    if (server.ok()) return *server;
    spdlog::error("field.config_invalid error=\"{}\"", server.error().message);
  } else if (!options_.field_config.empty()) {
    auto text = read_file(options_.field_config);
    auto config = text.ok() ? parse_field_config(*text, options_.field_config.string())
                            : Result<FieldConfig>(text.error());
    if (config.ok()) {
      Status kept = write_file_atomic(last_good, *text);
      if (!kept.ok()) spdlog::warn("field.config_not_kept error=\"{}\"", kept.error().message);
      return *config;
    }
    spdlog::error("field.config_invalid error=\"{}\"", config.error().message);
  } else {
    return std::nullopt;  // the agent has no field to look after
  }
  std::error_code ec;
  if (!std::filesystem::exists(last_good, ec)) return std::nullopt;
  auto fallback = load_field_config(last_good);
  if (!fallback.ok()) {
    spdlog::error("field.config_invalid error=\"{}\"", fallback.error().message);
    return std::nullopt;
  }
  spdlog::warn("field.config_last_good path={}", last_good.string());
  return *fallback;
}

void FieldWork::start() {
  if (std::optional<FieldConfig> config = own_config()) run(std::move(*config));
}

void FieldWork::offer(const api::FieldConfigVersion& config) {
  if (config.version == applied_.version || config.version == applied_.refused) return;
  const std::string name = "field configuration version " + std::to_string(config.version);
  auto parsed = parse_field_config(config.text, name);
  if (!parsed.ok()) {
    spdlog::error("field.config_refused version={} error=\"{}\"", config.version, parsed.error().message);
    applied_.refused = config.version;
    save_applied();
    report_config(true, "refused: " + parsed.error().message);
    return;
  }
  // The text first: a crash between the two writes runs the new text as the old version, then applies it
  // again.
  Status written = write_file_atomic(options_.data_dir / kServerConfigFile, config.text);
  if (written.ok()) written = write_file_atomic(options_.data_dir / kLastGoodFile, config.text);
  if (!written.ok()) {
    spdlog::error("field.config_not_kept version={} error=\"{}\"", config.version, written.error().message);
    return;  // offered again at the next poll
  }
  const bool was_refused = applied_.refused != 0;
  applied_.version = config.version;
  applied_.refused = 0;
  save_applied();
  spdlog::info("field.config_applied version={}", config.version);
  run(std::move(*parsed));
  if (was_refused) report_config(false, name + " applied");
}

void FieldWork::report_config(bool refused, const std::string& message) {
  if (!running_) return;  // nothing runs that could carry it; the log has it
  api::AlertEvent alert;
  alert.condition = "config";
  alert.subject = kConfigSubject;
  alert.raised = refused;
  alert.severity = refused ? "warning" : "info";
  alert.message = message.substr(0, 512);
  Status sent = running_->emit(api::Stream::kAlerts, options_.clock->wall_ms(), alert.to_json());
  if (!sent.ok()) spdlog::error("field.record_lost stream=alerts error=\"{}\"", sent.error().message);
}

void FieldWork::run(FieldConfig config) {
  // One loop at a time owns the valves and the outbox.
  running_.reset();
  auto running = std::make_unique<Running>(client_);
  outbox::OutboxOptions outbox_options;
  outbox_options.max_bytes = options_.outbox_max_bytes;
  auto outbox = outbox::Outbox::open(options_.data_dir / "outbox", outbox_options);
  if (!outbox.ok()) {
    spdlog::error("field.not_started error=\"{}\"", outbox.error().message);
    return;
  }
  running->outbox = std::move(*outbox);
  outbox::Outbox& box = *running->outbox;
  FieldLoopOptions loop_options;
  loop_options.config = std::move(config);
  loop_options.data_dir = options_.data_dir;
  if (auto enrollment = load_enrollment(options_.data_dir); enrollment.ok() && *enrollment)
    loop_options.device_id = (*enrollment)->device_id;
  loop_options.clock = options_.clock;
  loop_options.extra_telemetry = [&box] {
    std::map<std::string, double> values;
    const outbox::OutboxStats stats = box.stats();
    for (const auto& [stream, s] : stats.streams) {
      const std::string prefix = "outbox." + std::string(api::stream_name(stream)) + ".";
      values[prefix + "records"] = static_cast<double>(s.pending_records);
      values[prefix + "evicted"] = static_cast<double>(s.evicted_records);
    }
    values["outbox.bytes"] = static_cast<double>(stats.total_bytes);
    return values;
  };
  Running* r = running.get();
  auto loop = FieldLoop::open(
      std::move(loop_options), active_,
      [r](api::Stream stream, std::int64_t at_ms, Json body) { return r->emit(stream, at_ms, body); });
  if (!loop.ok()) {
    spdlog::error("field.not_started error=\"{}\"", loop.error().message);
    return;
  }
  running->loop = std::move(*loop);
  outbox::UploaderOptions uploader_options;
  uploader_options.bandwidth_bytes_per_s = options_.upload_bytes_per_s;
  uploader_options.backoff_initial_ms = options_.backoff_initial_ms;
  uploader_options.backoff_max_ms = options_.backoff_max_ms;
  running->uploader =
      std::make_unique<outbox::Uploader>(box, running->sink, *options_.clock, uploader_options);
  running->loop_thread = std::thread([r] {
    // Inference is the heavy work; the updater must stay responsive beside it.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    r->loop->run(r->stop);
  });
  running->upload_thread = std::thread([r] { r->uploader->run(r->stop); });
  running_ = std::move(running);
}

}  // namespace canopy::agent
