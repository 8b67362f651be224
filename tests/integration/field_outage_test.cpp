// Three days in a field without a network, with crashes, against the real
// server. The device (the field loop, its durable outbox and the uploader,
// wired as the agent wires them) runs in forked child processes,
// "incarnations", on a manual clock that carries on from one to the next,
// in a small simulated world: soil that dries by day and is watered by the
// zone's valve, a daily air temperature, and four plants of which one falls
// ill on day 1 and heals on day 2. Each child reports every record its
// outbox accepted (after append returned). The parent kills the children
// with SIGKILL at random instants, once while the valve is open, then
// starts the server and lets a last incarnation drain the outbox. The server
// must hold every alert, actuation, reading and plant change reported, each
// once; the outbox must have stayed under its cap by evicting images and
// telemetry only.
//
// A second test does the valve's part with the real canopy-agent binary.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "agent/device_client.h"
#include "agent/device_record_sink.h"
#include "agent/field_loop.h"
#include "agent_fixture.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "field_scene.h"
#include "outbox/outbox.h"
#include "outbox/uploader.h"

namespace canopy::testing {
namespace {

using api::Stream;

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kDay = 24 * 60 * kMinute;
constexpr std::int64_t kStartMs = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
constexpr std::int64_t kOfflineEndMs = kStartMs + 3 * kDay;
// The sick plant: ill from day 1, 08:00 to day 2, 08:00.
constexpr std::int64_t kIllFromMs = kStartMs + kDay + 8 * 60 * kMinute;
constexpr std::int64_t kHealedAtMs = kIllFromMs + kDay;
constexpr int kFrameEveryMinutes = 10;
constexpr int kUploadEveryMinutesOffline = 30;
constexpr const char* kClosedAfterCrash = "closed at start: it was open when the agent stopped";

// Three days make about 1.10 MB of readings (two sensors read every
// minute), 0.42 MB of telemetry (every 10 minutes) and one evidence image:
// they do not fit in 1.25 MiB, while readings, plant changes, alerts and
// actuations fit with room to spare, so only images and telemetry can go.
outbox::OutboxOptions outbox_options() {
  outbox::OutboxOptions options;
  options.max_bytes = 1280u << 10;
  options.segment_bytes = 64u << 10;
  return options;
}

// Where the device and the world it lives in keep their files.
struct Field {
  fs::path root;
  fs::path model() const { return root / "model"; }
  fs::path data() const { return root / "data"; }
  fs::path outbox() const { return data() / "outbox"; }
  fs::path zone_record() const { return data() / "zones" / "north.json"; }
  fs::path spool() const { return root / "spool"; }
  fs::path soil() const { return root / "soil"; }
  fs::path air() const { return root / "air"; }
  fs::path valve() const { return root / "valve"; }
  fs::path world() const { return root / "world"; }    // virtual time and soil moisture
  fs::path report() const { return root / "report"; }  // what the children did, line by line

  std::string config() const {
    return "location: {latitude: 41.6}\n"
           "cameras:\n"
           "  - {id: row-1, spool: " +
           spool().string() +
           ", interval: 10m, zone: north}\n"
           "sensors:\n"
           "  - {name: soil-north, measures: soil_moisture, file: " +
           soil().string() +
           ", period: 1m, range: [0, 0.6]}\n"
           "  - {name: air, measures: air_temperature, hwmon: " +
           air().string() +
           ", period: 1m}\n"
           "zones:\n"
           "  - {name: north, soil: loam, soil_sensor: soil-north, max_on: 30m, min_off: 10m, daily_cap: "
           "3h,\n"
           "     valve: {file: " +
           valve().string() +
           "}}\n"
           "telemetry: {period: 10m}\n"
           // Hard-case selection is another test's subject (field_loop_test,
           // selection_bench); here the outbox holds the field's own records.
           "samples: {enabled: false}\n";
  }
};

// What carries on across incarnations: the virtual time and the soil.
struct World {
  std::int64_t wall_ms = kStartMs;
  double theta = 0.24;  // m³/m³; loam opens the valve at 0.195 and closes it at 0.2565
};

World read_world(const Field& field) {
  World world;
  std::istringstream(read_bytes(field.world())) >> world.wall_ms >> world.theta;
  return world;
}

// Replaced atomically every simulated minute (no fsync: it survives kill -9,
// which is all this test does to the device).
void save_world(const Field& field, const World& world) {
  std::ostringstream text;
  text.precision(17);
  text << world.wall_ms << " " << world.theta << "\n";
  if (!replace_file_atomic(field.world(), text.str()).ok()) ::_exit(20);
}

double air_celsius(std::int64_t wall_ms) {
  const double hour = static_cast<double>((wall_ms - kStartMs) % kDay) / (60.0 * kMinute);
  return 20 - 8 * std::cos((hour - 3) / 24 * 2 * M_PI);  // 12 °C before dawn, 28 °C mid-afternoon
}

// One minute of soil: watered while the valve is open, else drying faster when warm.
double next_theta(double theta, bool watered, double celsius) {
  return watered ? theta + 0.003 : theta - 0.0001 * (1 + (celsius - 12) / 16);
}

std::map<std::pair<int, int>, Leaf> plants_at(std::int64_t wall_ms) {
  std::map<std::pair<int, int>, Leaf> plants = {
      {{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kHealthy}, {{2, 1}, Leaf::kHealthy}, {{3, 3}, Leaf::kHealthy}};
  if (wall_ms >= kIllFromMs && wall_ms < kHealedAtMs) plants[{1, 2}] = Leaf::kDiseased;
  return plants;
}

void write_line(int fd, const std::string& line) {
  // One write per line on an O_APPEND file: a kill never leaves half a line.
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(21);
}

std::uint64_t segment_bytes_on_disk(const fs::path& outbox) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(outbox, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && it->path().extension() == ".seg") total += it->file_size(ec);
  return total;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// One incarnation of the device.
struct Incarnation {
  int number = 0;
  std::string server_url;
  std::string device_token;
  std::int64_t until_ms = 0;  // it stops by itself here (if not killed before)
  bool drain = false;         // then uploads until its outbox is empty
};

// Drops a frame of the field into the spool as a camera does: under a hidden
// name, stamped with the clock's time, renamed in.
void drop_frame(const Field& field, std::int64_t wall_ms) {
  const double hour = static_cast<double>((wall_ms - kStartMs) % kDay) / (60.0 * kMinute);
  const double light = 1.0 + 0.08 * std::sin(hour / 24 * 2 * M_PI);
  const unsigned seed = static_cast<unsigned>((wall_ms - kStartMs) / kMinute);
  auto jpeg =
      vision::encode_image(render_scene(plants_at(wall_ms), light, 6, seed), vision::ImageFormat::kJpeg, 80);
  if (!jpeg.ok()) ::_exit(22);
  const fs::path hidden = field.spool() / ".frame.jpg";
  write_bytes(hidden, *jpeg);
  std::error_code ec;
  fs::last_write_time(hidden,
                      std::chrono::file_clock::from_sys(std::chrono::sys_time<std::chrono::milliseconds>(
                          std::chrono::milliseconds(wall_ms))),
                      ec);
  fs::rename(hidden, field.spool() / ("frame-" + std::to_string(seed) + ".jpg"), ec);
}

// The child: the device from its start until it is killed, or until
// `life.until_ms`. Reports on the report file, one line each:
//   A STREAM SEQ                     a record append returned
//   V N VALVE RECORD_OPEN|REASON     the valve file and its zone record right after the loop opened
//   E N STREAM EVICTED REFUSED       the outbox's counts since it opened, when they change
//   X N BYTES                        the segment files were above the cap
//   D N PENDING                      the drain ended with PENDING records left
// Never returns.
[[noreturn]] void live(const Field& field, const Incarnation& life) {
  spdlog::set_level(spdlog::level::warn);
  const int report = ::open(field.report().c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (report < 0) ::_exit(10);
  World world = read_world(field);
  ManualClock clock(world.wall_ms);
  auto opened = outbox::Outbox::open(field.outbox(), outbox_options());
  if (!opened.ok()) ::_exit(11);
  std::unique_ptr<outbox::Outbox> box = std::move(*opened);
  agent::ActiveModel active;
  auto model = load_cell_detector(field.model());
  if (!model->engine) ::_exit(12);
  active.set(model);
  auto config = agent::parse_field_config(field.config(), "field.yaml");
  if (!config.ok()) ::_exit(13);
  agent::FieldLoopOptions options;
  options.config = *config;
  options.data_dir = field.data();
  options.clock = &clock;
  options.extra_telemetry = [&box] {  // as the agent adds them
    std::map<std::string, double> values;
    const outbox::OutboxStats stats = box->stats();
    for (const auto& [stream, s] : stats.streams) {
      const std::string prefix = "outbox." + std::string(api::stream_name(stream)) + ".";
      values[prefix + "records"] = static_cast<double>(s.pending_records);
      values[prefix + "evicted"] = static_cast<double>(s.evicted_records);
    }
    values["outbox.bytes"] = static_cast<double>(stats.total_bytes);
    return values;
  };
  auto loop = agent::FieldLoop::open(
      options, active, [&box, report](Stream stream, std::int64_t at_ms, Json body) -> Status {
        auto seq = box->append(stream, at_ms, body);
        if (!seq.ok()) return seq.error();
        write_line(report, "A " + std::string(api::stream_name(stream)) + " " + std::to_string(*seq) + "\n");
        return {};
      });
  if (!loop.ok()) ::_exit(14);
  std::unique_ptr<agent::FieldLoop> field_loop = std::move(*loop);
  {
    auto record = parse_json(read_bytes(field.zone_record()));
    if (!record.ok()) ::_exit(15);
    const Json& last = (*record)["actuations"].back();
    write_line(report, "V " + std::to_string(life.number) + " " + trimmed(read_bytes(field.valve())) + " " +
                           ((*record)["valve"].value("open", true) ? "1" : "0") + "|" +
                           last.value("reason", "") + "\n");
  }

  HttpOptions http;
  http.max_attempts = 1;  // the uploader's own backoff is the retry, as in the agent
  http.connect_timeout_ms = 2000;
  http.request_timeout_ms = 20000;
  agent::DeviceClient client(life.server_url, http);
  client.set_device_token(life.device_token);
  agent::DeviceRecordSink sink(client);
  outbox::Uploader uploader(*box, sink, clock);
  std::map<Stream, std::pair<std::int64_t, std::int64_t>> told;
  auto report_outbox = [&] {
    const std::uint64_t bytes = segment_bytes_on_disk(field.outbox());
    if (bytes > outbox_options().max_bytes)
      write_line(report, "X " + std::to_string(life.number) + " " + std::to_string(bytes) + "\n");
    for (const auto& [stream, s] : box->stats().streams) {
      const std::pair counts(s.evicted_records, s.refused_records);
      if (counts == told[stream]) continue;
      told[stream] = counts;
      write_line(report, "E " + std::to_string(life.number) + " " + std::string(api::stream_name(stream)) +
                             " " + std::to_string(counts.first) + " " + std::to_string(counts.second) + "\n");
    }
  };

  while (clock.wall_ms() < life.until_ms) {
    const std::int64_t now = clock.wall_ms();
    const std::int64_t minute = (now - kStartMs) / kMinute;
    if (minute % kFrameEveryMinutes == 0) drop_frame(field, now);
    write_bytes(field.soil(), std::to_string(world.theta) + "\n");
    write_bytes(field.air(), std::to_string(static_cast<int>(air_celsius(now) * 1000)) + "\n");
    field_loop->run_due();
    if (life.drain || minute % kUploadEveryMinutesOffline == 0) (void)uploader.upload_once();
    report_outbox();
    world.theta = next_theta(world.theta, read_bytes(field.valve()) == "1\n", air_celsius(now));
    clock.advance_ms(kMinute);
    world.wall_ms = clock.wall_ms();
    save_world(field, world);
  }
  field_loop.reset();  // closes the valve if it is open, as a stopping agent does
  if (life.drain) {
    for (int attempt = 0; attempt < 200 && box->pending_records() > 0; ++attempt)
      if (!uploader.upload_once().ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    write_line(report,
               "D " + std::to_string(life.number) + " " + std::to_string(box->pending_records()) + "\n");
  }
  report_outbox();
  box.reset();
  ::close(report);
  ::_exit(0);
}

pid_t start_incarnation(const Field& field, const Incarnation& life) {
  const pid_t child = ::fork();
  if (child == 0) live(field, life);
  return child;
}

struct Reported {
  std::map<std::string, std::vector<std::int64_t>> appended;  // per stream, in the order appends returned
  std::map<int, std::string> valve_at_start;                  // per incarnation: "VALVE RECORD_OPEN|REASON"
  std::map<std::string, std::int64_t> evicted, refused;       // per stream, all incarnations
  std::string first_evicted;                                  // the stream evicted from first
  std::vector<std::string> over_cap;
  std::optional<std::int64_t> left_after_drain;
};

Reported read_report(const fs::path& file) {
  Reported reported;
  std::map<std::pair<int, std::string>, std::pair<std::int64_t, std::int64_t>> last_counts;
  std::istringstream lines(read_bytes(file));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    char kind = 0;
    fields >> kind;
    if (kind == 'A') {
      std::string stream;
      std::int64_t seq = 0;
      fields >> stream >> seq;
      reported.appended[stream].push_back(seq);
    } else if (kind == 'V') {
      int number = 0;
      fields >> number;
      std::string rest;
      std::getline(fields, rest);
      reported.valve_at_start[number] = rest.substr(1);
    } else if (kind == 'E') {
      int number = 0;
      std::string stream;
      std::int64_t evicted = 0, refused = 0;
      fields >> number >> stream >> evicted >> refused;
      if (evicted > 0 && reported.first_evicted.empty()) reported.first_evicted = stream;
      last_counts[{number, stream}] = {evicted, refused};
    } else if (kind == 'X') {
      reported.over_cap.push_back(line);
    } else if (kind == 'D') {
      int number = 0;
      std::int64_t pending = 0;
      fields >> number >> pending;
      reported.left_after_drain = pending;
    }
  }
  for (const auto& [key, counts] : last_counts) {
    reported.evicted[key.second] += counts.first;
    reported.refused[key.second] += counts.second;
  }
  return reported;
}

class FieldOutageTest : public FleetFixture {
 protected:
  // Every (stream, seq) the server stored for `device_id`, read from its database.
  std::map<std::string, std::vector<std::int64_t>> stored_records(const std::string& device_id) {
    auto listed = run_shell("sqlite3 -readonly " + (work_ / "data" / "registry.db").string() +
                            " \"SELECT stream, seq FROM field_records WHERE device_id = '" + device_id +
                            "' ORDER BY stream, seq\"");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    std::map<std::string, std::vector<std::int64_t>> stored;
    std::istringstream lines(listed.output);
    std::string line;
    while (std::getline(lines, line)) {
      const auto bar = line.find('|');
      if (bar == std::string::npos) continue;
      stored[line.substr(0, bar)].push_back(std::stoll(line.substr(bar + 1)));
    }
    return stored;
  }

  // The rows an operator reads at `path` (at most 1000, newest first).
  Json operator_rows(const std::string& path, const std::string& member) {
    auto response = admin("GET", path);
    EXPECT_EQ(response.status, 200) << path << ": " << response.body;
    return body_of(response)[member];
  }
};

TEST_F(FieldOutageTest, ThreeDaysOfflineWithCrashesLoseAndDuplicateNothing) {
  const auto began = std::chrono::steady_clock::now();
  const Field field{work_ / "field"};
  build_cell_detector(field.model());
  fs::create_directories(field.spool());
  const SimDevice device = enroll("north-field-1", enrollment_token("north-field"));
  ASSERT_FALSE(device.token.empty());
  save_world(field, World{});

  // Phase 1: three days offline. The old address is a closed port now.
  const std::string offline_url = server_->url();
  server_->stop();
  std::mt19937 random(20260301);
  int incarnations = 0;
  int after_reboot = 0;  // the incarnation that started after the kill with the valve open
  while (read_world(field).wall_ms < kOfflineEndMs) {
    ASSERT_LT(incarnations, 80) << "the device makes no progress";
    const Incarnation life{++incarnations, offline_url, device.token, kOfflineEndMs, false};
    // From the third incarnation on, one is killed while its valve is open (a reboot).
    const bool reboot = after_reboot == 0 && incarnations >= 3;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(150 + random() % 750);
    const pid_t child = start_incarnation(field, life);
    ASSERT_GT(child, 0);
    int status = 0;
    bool ended = false;
    while (true) {
      if (::waitpid(child, &status, WNOHANG) == child) {
        ended = true;
        break;
      }
      if (reboot ? read_bytes(field.valve()) == "1\n" : std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (!ended) {
      ::kill(child, SIGKILL);
      ASSERT_EQ(::waitpid(child, &status, 0), child);
    }
    ASSERT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "incarnation " << life.number << " failed: " << status;
    if (reboot && !ended && read_bytes(field.valve()) == "1\n") {
      after_reboot = incarnations + 1;
      auto record = parse_json(read_bytes(field.zone_record()));
      ASSERT_TRUE(record.ok());
      EXPECT_TRUE((*record)["valve"]["open"].get<bool>()) << "the record is written before the valve opens";
    }
    ASSERT_LE(segment_bytes_on_disk(field.outbox()), outbox_options().max_bytes)
        << "after incarnation " << life.number;
  }
  ASSERT_GT(after_reboot, 0) << "the valve was never open when a child was killed";
  ASSERT_LE(after_reboot, incarnations) << "no incarnation followed the reboot";
  EXPECT_GE(incarnations, 5);
  const auto offline_took = std::chrono::steady_clock::now() - began;

  // Phase 2: the network is back; a last incarnation drains the outbox.
  server_->start();
  const Incarnation last{++incarnations, server_->url(), device.token, kOfflineEndMs + 60 * kMinute, true};
  const pid_t child = start_incarnation(field, last);
  ASSERT_GT(child, 0);
  int status = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::waitpid(child, &status, WNOHANG) != child) {
    if (std::chrono::steady_clock::now() > give_up) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      FAIL() << "the drain did not end";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_LE(segment_bytes_on_disk(field.outbox()), outbox_options().max_bytes);

  const Reported reported = read_report(field.report());
  ASSERT_TRUE(reported.left_after_drain.has_value());
  EXPECT_EQ(*reported.left_after_drain, 0) << "the outbox drained";
  EXPECT_TRUE(reported.over_cap.empty()) << reported.over_cap.front();
  for (const auto& [stream, seqs] : reported.appended)
    for (std::size_t i = 1; i < seqs.size(); ++i)
      ASSERT_GT(seqs[i], seqs[i - 1]) << stream << ": seq " << seqs[i] << " given twice";
  for (const auto& [number, seen] : reported.valve_at_start)
    EXPECT_EQ(seen.substr(0, 4), "0 0|")
        << "incarnation " << number << " started with its valve closed: " << seen;
  ASSERT_TRUE(reported.valve_at_start.count(after_reboot));
  EXPECT_EQ(reported.valve_at_start.at(after_reboot), std::string("0 0|") + kClosedAfterCrash)
      << "the incarnation after the reboot closed the valve the crash had left open";

  // The operator's view: irrigation, readings and alerts, each seq once.
  const std::string base = "/api/v1/devices/" + device.id;
  const Json irrigation = operator_rows(base + "/irrigation?limit=1000", "irrigation");
  std::set<std::int64_t> irrigation_seqs;
  int opened = 0, closed_after_crash = 0;
  for (const Json& row : irrigation) {
    EXPECT_TRUE(irrigation_seqs.insert(row["seq"].get<std::int64_t>()).second) << "twice: " << row.dump();
    opened += row["open"].get<bool>() ? 1 : 0;
    closed_after_crash += row["reason"] == kClosedAfterCrash ? 1 : 0;
  }
  EXPECT_GE(opened, 6) << "the soil dried and was watered, day after day";
  EXPECT_GE(closed_after_crash, 1) << "the server heard that a crash had left the valve open";
  for (std::int64_t seq : reported.appended.at("actuations"))
    EXPECT_TRUE(irrigation_seqs.count(seq)) << "actuation " << seq << " is not on the server";
  const Json readings = operator_rows(base + "/readings?limit=1000", "readings");
  std::set<std::int64_t> reading_seqs;
  for (const Json& row : readings)
    EXPECT_TRUE(reading_seqs.insert(row["seq"].get<std::int64_t>()).second) << "twice: " << row.dump();
  EXPECT_EQ(reading_seqs.size(), 1000u);
  const Json alerts = operator_rows("/api/v1/alerts?device=" + device.id + "&limit=1000", "alerts");
  int disease_alerts = 0;
  for (const Json& alert : alerts) {
    EXPECT_NE(alert["condition"], "sensor") << "the sensors never failed: " << alert.dump();
    if (alert["condition"] != "diseased") continue;
    ++disease_alerts;
    EXPECT_EQ(alert["state"], "cleared") << "the plant healed on day 2: " << alert.dump();
    EXPECT_GE(alert["raised_at_ms"].get<std::int64_t>(), kIllFromMs);
  }
  EXPECT_EQ(disease_alerts, 1) << alerts.dump();

  // Everything, from the server's database: each reported record of the
  // streams that are never evicted (or were not) is there, once.
  server_->stop();
  const auto stored = stored_records(device.id);
  std::map<std::string, std::size_t> missing;
  for (const auto& [stream, seqs] : reported.appended) {
    const std::vector<std::int64_t>& on_server =
        stored.count(stream) ? stored.at(stream) : std::vector<std::int64_t>{};
    const std::set<std::int64_t> unique(on_server.begin(), on_server.end());
    EXPECT_EQ(unique.size(), on_server.size()) << stream << ": a seq stored twice";
    for (std::int64_t seq : seqs) missing[stream] += unique.count(seq) ? 0 : 1;
  }
  for (const char* stream : {"alerts", "actuations", "readings", "plants"}) {
    EXPECT_EQ(missing[stream], 0u) << stream << " lost";
    EXPECT_EQ(reported.evicted.count(stream) ? reported.evicted.at(stream) : 0, 0) << stream << " evicted";
  }
  for (const auto& [stream, refused] : reported.refused) EXPECT_EQ(refused, 0) << stream << " refused";
  EXPECT_GT(reported.evicted.count("images") ? reported.evicted.at("images") : 0, 0);
  EXPECT_EQ(reported.first_evicted, "images") << "images go first when the outbox is full";
  EXPECT_EQ(static_cast<std::int64_t>(missing["images"]),
            reported.evicted.count("images") ? reported.evicted.at("images") : 0)
      << "the images the server lacks are those evicted";
  EXPECT_EQ(static_cast<std::int64_t>(missing["telemetry"]),
            reported.evicted.count("telemetry") ? reported.evicted.at("telemetry") : 0);

  std::cout << "field outage: " << incarnations << " incarnations, offline part "
            << std::chrono::duration_cast<std::chrono::milliseconds>(offline_took).count() << " ms, all "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began)
                   .count()
            << " ms\n";
  for (const auto& [stream, seqs] : reported.appended)
    std::cout << "  " << stream << ": " << seqs.size() << " appended, "
              << (stored.count(stream) ? stored.at(stream).size() : 0) << " stored, "
              << (reported.evicted.count(stream) ? reported.evicted.at(stream) : 0) << " evicted\n";
}

// The real canopy-agent with a field configuration: dry soil opens its
// valve (a state file), kill -9 leaves it open, and the next start closes it
// before anything else and says why, to its zone record and to the server.
class FieldAgentTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    fs::create_directories(device_ / "spool");
    write_bytes(device_ / "soil", "0.15\n");  // dry: loam opens at 0.195
    write_bytes(device_ / "air", "21500\n");
    write_bytes(
        device_ / "field.yaml",
        "location: {latitude: 41.6}\n"
        "cameras:\n"
        "  - {id: row-1, spool: " +
            (device_ / "spool").string() +
            ", interval: 1s, zone: north}\n"
            "sensors:\n"
            "  - {name: soil-north, measures: soil_moisture, file: " +
            (device_ / "soil").string() +
            ", period: 1s, range: [0, 0.6]}\n"
            "  - {name: air, measures: air_temperature, hwmon: " +
            (device_ / "air").string() +
            ", period: 1s}\n"
            "zones:\n"
            "  - {name: north, soil: loam, soil_sensor: soil-north, period: 1s, max_on: 10m, min_off: 10m,\n"
            "     valve: {file: " +
            valve().string() +
            "}}\n"
            "telemetry: {period: 1s}\n");
  }

  Subprocess start_agent(int run) {
    Subprocess::Options options;
    options.argv = {agent_binary().string(),
                    "run",
                    "--verbose",
                    "--server",
                    server_->url(),
                    "--data-dir",
                    data().string(),
                    "--enroll-token",
                    token_,
                    "--name",
                    "north-field-1",
                    "--field-config",
                    (device_ / "field.yaml").string()};
    options.stderr_file = device_ / ("agent-" + std::to_string(run) + ".log");
    auto started = Subprocess::start(options);
    EXPECT_TRUE(started.ok()) << started.error().message;
    return std::move(*started);
  }

  // Waits, bounded, until the valve file reads `content`; true when it did.
  bool valve_reads(const std::string& content, std::chrono::milliseconds bound) const {
    const auto until = std::chrono::steady_clock::now() + bound;
    while (read_bytes(valve()) != content) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // What `canopy ARGS` printed as JSON; null when it failed.
  Json cli_json(const std::string& args) {
    auto shown = cli(args);
    const auto brace = shown.output.find('{');
    if (shown.exit_code != 0 || brace == std::string::npos) return Json();
    auto json = parse_json(std::string_view(shown.output).substr(brace));
    return json.ok() ? *json : Json();
  }

  Json zone_record() const {
    auto json = parse_json(read_bytes(data() / "zones" / "north.json"));
    return json.ok() ? *json : Json();
  }

  fs::path data() const { return device_ / "data"; }
  fs::path valve() const { return device_ / "valve"; }

  const fs::path device_ = work_ / "field-device";
};

TEST_F(FieldAgentTest, AValveLeftOpenByAKilledAgentIsClosedAtItsNextStart) {
  Subprocess first = start_agent(1);
  ASSERT_TRUE(valve_reads("1\n", std::chrono::seconds(20))) << "dry soil opens the valve\n"
                                                            << read_bytes(device_ / "agent-1.log");
  first.signal(SIGKILL);
  EXPECT_EQ(first.wait(), 128 + SIGKILL);
  ASSERT_EQ(read_bytes(valve()), "1\n") << "the agent died with its valve open";
  EXPECT_TRUE(zone_record()["valve"]["open"].get<bool>());

  const auto restarted = std::chrono::steady_clock::now();
  Subprocess second = start_agent(2);
  ASSERT_TRUE(valve_reads("0\n", std::chrono::seconds(3))) << "closed at the next start\n"
                                                           << read_bytes(device_ / "agent-2.log");
  const auto closed_after = std::chrono::steady_clock::now() - restarted;
  // The valve is closed first and the zone's record written after it (a
  // crash in between leaves a closed valve): wait, bounded, for the record.
  Json record = zone_record();
  for (int i = 0; i < 300 && record["actuations"].back()["reason"] != kClosedAfterCrash; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    record = zone_record();
  }
  EXPECT_FALSE(record["valve"]["open"].get<bool>());
  ASSERT_FALSE(record["actuations"].empty());
  EXPECT_EQ(record["actuations"].back()["reason"], kClosedAfterCrash) << record.dump();

  // The device's records reach the server: readings, the valve opening and its closing after the crash.
  const std::string device_id = agent_status(data()).value("device_id", "");
  ASSERT_FALSE(device_id.empty());
  Json irrigation, readings;
  bool arrived = false;
  for (int i = 0; i < 150 && !arrived; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    irrigation = cli_json("device irrigation " + device_id + " --json")["irrigation"];
    readings = cli_json("device readings " + device_id + " --json")["readings"];
    if (!irrigation.is_array() || !readings.is_array()) continue;
    bool opened = false, closed_after_crash = false;
    for (const Json& row : irrigation) {
      opened = opened || row["open"] == true;
      closed_after_crash = closed_after_crash || row["reason"] == kClosedAfterCrash;
    }
    arrived = opened && closed_after_crash && readings.size() >= 4;
  }
  EXPECT_TRUE(arrived) << irrigation.dump() << "\n" << readings.dump();
  EXPECT_EQ(read_bytes(valve()), "0\n") << "the minimum off-time keeps it closed";

  second.signal(SIGTERM);
  EXPECT_EQ(second.wait(), 0) << read_bytes(device_ / "agent-2.log");
  std::cout << "the valve was closed "
            << std::chrono::duration_cast<std::chrono::milliseconds>(closed_after).count()
            << " ms after the restart\n";
}

// The article's "predictions that differ from previous outputs", end to end:
// the real agent installs version 1 of a detector, then version 2 through a
// second deployment; version 1, left in the other slot, runs in shadow, the
// frames on which the two disagree reach the server as samples, and the
// device's agreement rate reaches it with the telemetry.
TEST_F(FieldAgentTest, AfterAnUpdateThePreviousModelRunsInShadowAndItsDisagreementsReachTheServer) {
  // Devices poll every second, so the two deployments take seconds.
  server_->stop();
  server_ = std::make_unique<ServerProcess>(
      work_ / "data",
      std::vector<std::string>{"--trusted-key", (work_ / "signing.pub").string(), "--poll-interval", "1"});
  server_->start();
  // Version 2 finds no healthy plant; version 1 finds them.
  build_cell_detector(work_ / "v1");
  build_cell_detector(work_ / "v2", -30);
  auto push = [&](const std::string& tag) {
    // The cell detector's own manifest (its input, decoder and threshold),
    // under the fixture's model name; packing fills in the file hashes.
    auto manifest = parse_json(read_bytes(work_ / tag / "canopy.json"));
    EXPECT_TRUE(manifest.ok());
    (*manifest)["name"] = kModel;
    write_bytes(work_ / tag / "canopy.json", manifest->dump(2));
    const fs::path zip = work_ / ("cell-" + tag + ".zip");
    EXPECT_TRUE(package::create_package(work_ / tag, zip, signing_key_).ok());
    auto pushed = cli("--json model push " + zip.string());
    EXPECT_EQ(pushed.exit_code, 0) << pushed.output;
    auto json = parse_json(pushed.output.substr(pushed.output.find('{')));
    return json.ok() ? json->value("version", 0) : 0;
  };
  const int v1 = push("v1"), v2 = push("v2");
  ASSERT_GT(v2, v1);
  write_bytes(
      device_ / "field.yaml",
      read_bytes(device_ / "field.yaml") +
          "samples: {model_disagreement: {share: 1}, random: {share: 0}, duplicates: {keep_after: 1s},\n"
          "          budget: {per_minute: 60, per_hour: 1000, per_day: 10000, paced: false}}\n");

  Subprocess agent = start_agent(1);
  const auto log = [&] { return read_bytes(device_ / "agent-1.log"); };
  std::string device_id;
  for (int i = 0; i < 100 && device_id.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(data() / "enrollment.json")) device_id = agent_status(data()).value("device_id", "");
  }
  ASSERT_FALSE(device_id.empty()) << log();
  auto runs = [&](int version) {
    for (int i = 0; i < 300; ++i) {
      if (version_of(agent_status(data())["current"]) == version) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  deploy_version(v1, device_id);
  ASSERT_TRUE(runs(v1)) << log();
  deploy_version(v2, device_id);
  ASSERT_TRUE(runs(v2)) << log();

  // Frames of healthy plants until the disagreements are on the server.
  Json samples, stats;
  for (int frame = 0; frame < 60; ++frame) {
    const std::string name = "frame-" + std::to_string(frame) + ".jpg";
    write_bytes(device_ / "spool" / ("." + name),
                render_jpeg({{{0, 0}, Leaf::kHealthy}, {{1, 2}, Leaf::kHealthy}, {{3, 1}, Leaf::kHealthy}},
                            1.0, 4, static_cast<unsigned>(frame)));
    fs::rename(device_ / "spool" / ("." + name), device_ / "spool" / name);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    samples = cli_json("--json samples list --strategy model_disagreement --device " + device_id);
    stats = cli_json("--json samples stats");
    if (samples.value("samples", Json::array()).size() >= 2 && stats["shadow_agreement"].contains(device_id))
      break;
  }
  agent.signal(SIGTERM);
  agent.wait();
  ASSERT_GE(samples.value("samples", Json::array()).size(), 2u)
      << stats.dump() << cli("samples list").output << log();
  for (const Json& sample : samples["samples"]) {
    EXPECT_EQ(sample["model"], std::string(kModel) + ":" + std::to_string(v2));
    EXPECT_EQ(sample["shadow_model"], std::string(kModel) + ":" + std::to_string(v1));
    EXPECT_FALSE(sample["shadow_predictions"].empty()) << "version 1 found the plants";
  }
  ASSERT_TRUE(stats["shadow_agreement"].contains(device_id)) << stats.dump() << log();
  EXPECT_LT(stats["shadow_agreement"][device_id].get<double>(), 0.5) << stats.dump();
}

}  // namespace
}  // namespace canopy::testing
