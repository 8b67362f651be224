// canopy samples list / show / pull / stats: the hard cases devices kept and
// sent (docs/samples.md), as the server's sample store holds them. Each
// command calls the server through client::FleetClient and prints a table
// or text, or the server's JSON with --json.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/files.h"
#include "common/time.h"

namespace canopy::cli {

namespace {

// "uncertainty 0.82, novelty 0.41"
std::string reasons_text(const api::Sample& sample) {
  std::string text;
  for (const api::SampleReason& r : sample.reasons) {
    char score[16];
    std::snprintf(score, sizeof score, "%.2f", r.score);
    text += (text.empty() ? "" : ", ") + r.strategy + " " + score;
  }
  return text;
}

// The top box: "diseased 0.71", or "-".
std::string top_text(const api::Sample& sample) {
  const api::SampleBox* top = nullptr;
  for (const api::SampleBox& box : sample.predictions)
    if (!top || box.score > top->score) top = &box;
  if (!top) return "-";
  char text[80];
  std::snprintf(text, sizeof text, "%s %.2f", top->label.c_str(), top->score);
  return text;
}

struct ListArgs {
  api::SampleQuery query;
  std::string random;        // "", "true" or "false"
  std::string since, until;  // "" or YYYY-MM-DDTHH:MM:SSZ
};

// CLI11 validator: an empty answer accepts.
std::string check_utc(const std::string& text) {
  return parse_utc(text).ok() ? "" : "'" + text + "' must be a UTC time, YYYY-MM-DDTHH:MM:SSZ";
}

}  // namespace

void register_samples_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* samples = app.add_subcommand(
      "samples", "The hard cases devices kept for labeling: list, show, pull and count them");
  samples->require_subcommand(1);

  auto args = std::make_shared<ListArgs>();
  auto add_filters = [args](CLI::App* command) {
    api::SampleQuery& q = args->query;
    command->add_option("--device", q.device_id, "only this device's samples");
    command->add_option("--field", q.field, "only samples from this field");
    command->add_option("--camera", q.camera, "only this camera's samples");
    command->add_option("--strategy", q.strategy,
                        "only samples this strategy picked (uncertainty, temporal, model_disagreement, "
                        "cross_sensor, class_balance, novelty, random)");
    command->add_option("--model", q.model, "only samples judged by this model (NAME:VERSION)");
    command->add_option("--class", q.predicted_class, "only samples with a box of this class");
    command->add_option("--min-score", q.min_score, "with --class: the box scores at least this (0-1)")
        ->check(CLI::Range(0.0, 1.0));
    command
        ->add_option("--random", args->random, "only the random slice (true) or only the hard cases (false)")
        ->check(CLI::IsMember({"true", "false"}));
    command->add_option("--since", args->since, "captured at or after this UTC time (YYYY-MM-DDTHH:MM:SSZ)")
        ->check(check_utc);
    command->add_option("--until", args->until, "captured before this UTC time (YYYY-MM-DDTHH:MM:SSZ)")
        ->check(check_utc);
    command->add_option("--before", q.before, "the page after this sample id");
    command
        ->add_option("--limit", q.limit,
                     "how many, newest first (at most " + std::to_string(api::kMaxRowsPerRead) + ")")
        ->check(CLI::Range(1, api::kMaxRowsPerRead));
  };
  auto query_of = [args] {
    api::SampleQuery q = args->query;
    if (!args->random.empty()) q.random = args->random == "true";
    // Both checked by check_utc when they were parsed.
    if (!args->since.empty()) q.since_ms = parse_utc(args->since).value();
    if (!args->until.empty()) q.until_ms = parse_utc(args->until).value();
    return q;
  };

  auto* list = samples->add_subcommand("list", "List samples, newest first");
  add_filters(list);
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, query_of]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(auto found, client.list_samples(query_of()));
    if (globals.json) {
      Json rows = Json::array();
      for (const api::StoredSample& s : found) rows.push_back(s.to_json());
      print_json({{"samples", rows}});
      return {};
    }
    std::printf("%-44s %-20s %-26s %-20s %s\n", "ID", "CAPTURED", "MODEL", "TOP BOX", "PICKED BY");
    for (const api::StoredSample& s : found)
      std::printf("%-44s %-20s %-26s %-20s %s%s\n", s.sample.id.c_str(),
                  format_utc(s.sample.captured_ms).c_str(), s.sample.model.c_str(),
                  top_text(s.sample).c_str(), reasons_text(s.sample).c_str(),
                  s.sample.random ? " (random slice)" : "");
    return {};
  });

  auto id = std::make_shared<std::string>();
  auto* show = samples->add_subcommand("show", "Show one sample: where, when, why, and the model's boxes");
  show->add_option("ID", *id, "sample id from 'canopy samples list' (DEVICE/CAMERA/MS)")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::StoredSample s, client.show_sample(*id));
    if (globals.json) {
      print_json(s.to_json());
      return {};
    }
    const api::Sample& x = s.sample;
    std::printf("sample     %s\ndevice     %s\nfield      %s\ncamera     %s (zone %s)\ncaptured   %s\n",
                x.id.c_str(), s.device_id.c_str(), x.field.empty() ? "-" : x.field.c_str(), x.camera.c_str(),
                x.zone.empty() ? "-" : x.zone.c_str(), format_utc(x.captured_ms).c_str());
    std::printf("model      %s\nimage      %dx%d, %s, sha256 %s\nlabel      %s\nreceived   %s\n",
                x.model.c_str(), x.width, x.height,
                format_bytes(static_cast<std::uint64_t>(s.image_bytes)).c_str(), s.image_sha256.c_str(),
                s.label_state.c_str(), s.received_at.c_str());
    std::printf("picked by  %s%s\n", reasons_text(x).c_str(), x.random ? " (random slice)" : "");
    for (const api::SampleReason& r : x.reasons)
      if (!r.detail.empty()) std::printf("           %s: %s\n", r.strategy.c_str(), r.detail.c_str());
    std::string sensors;
    for (const auto& [name, value] : x.sensors)
      sensors += (sensors.empty() ? "" : ", ") + name + " " + std::to_string(value);
    std::printf("sensors    %s\n", sensors.empty() ? "-" : sensors.c_str());
    std::printf("boxes      %zu (the model's, down to the device's raw score floor)\n", x.predictions.size());
    for (const api::SampleBox& b : x.predictions)
      std::printf("           %-16s %.2f  [%.3f %.3f %.3f %.3f]\n", b.label.c_str(), b.score, b.x1, b.y1,
                  b.x2, b.y2);
    if (x.shadow_predictions)
      std::printf("shadow     %s found %zu boxes\n", x.shadow_model.c_str(), x.shadow_predictions->size());
    return {};
  });

  auto pull_ids = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* pull = samples->add_subcommand(
      "pull", "Download samples (the ids given, or the ones the filters find) as DIR/ID.jpg and DIR/ID.json");
  pull->add_option("ID", *pull_ids, "sample ids; none: every sample the filters find");
  pull->add_option("-o,--out", *out, "directory to write into")->required();
  add_filters(pull);
  add_server_flags(pull, globals);
  set_action(pull, exit_code, [&globals, query_of, pull_ids, out]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    std::vector<api::StoredSample> wanted;
    if (pull_ids->empty()) {
      CANOPY_ASSIGN_OR_RETURN(wanted, client.list_samples(query_of()));
    } else {
      for (const std::string& sample_id : *pull_ids) {
        CANOPY_ASSIGN_OR_RETURN(api::StoredSample s, client.show_sample(sample_id));
        wanted.push_back(std::move(s));
      }
    }
    std::error_code ec;
    std::filesystem::create_directories(*out, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create " + *out + ": " + ec.message());
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      const api::StoredSample& s = wanted[i];
      CANOPY_ASSIGN_OR_RETURN(std::string jpeg, client.sample_image(s.sample.id));
      const std::filesystem::path stem = std::filesystem::path(*out) / sample_file_stem(s.sample.id);
      CANOPY_TRY(write_file_atomic(stem.string() + ".jpg", jpeg));
      CANOPY_TRY(write_file_atomic(stem.string() + ".json", s.to_json().dump(2) + "\n"));
      if (!globals.json && !globals.quiet) std::fprintf(stderr, "\rpulled %zu of %zu", i + 1, wanted.size());
    }
    if (globals.json) {
      print_json({{"pulled", wanted.size()}, {"out", *out}});
    } else {
      if (!globals.quiet && !wanted.empty()) std::fprintf(stderr, "\n");
      std::printf("%zu sample(s) in %s\n", wanted.size(), out->c_str());
    }
    return {};
  });

  auto* stats = samples->add_subcommand(
      "stats", "How many samples, by strategy, device and predicted class, and the shadow model's agreement");
  add_server_flags(stats, globals);
  set_action(stats, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::SampleStats s, client.sample_stats());
    if (globals.json) {
      print_json(s.to_json());
      return {};
    }
    std::printf("%lld samples (%lld from the random slice), %s of images\n",
                static_cast<long long>(s.samples), static_cast<long long>(s.random),
                format_bytes(static_cast<std::uint64_t>(s.bytes)).c_str());
    auto print_counts = [&](const char* title, const std::map<std::string, std::int64_t>& counts) {
      std::printf("\n%s\n", title);
      for (const auto& [name, count] : counts) {
        const double share =
            s.samples > 0 ? 100.0 * static_cast<double>(count) / static_cast<double>(s.samples) : 0;
        std::printf("  %-24s %8lld  %5.1f%%\n", name.c_str(), static_cast<long long>(count), share);
      }
    };
    print_counts("picked by (a sample may have several strategies)", s.by_strategy);
    print_counts("top predicted class", s.by_predicted_class);
    print_counts("by device", s.by_device);
    if (!s.shadow_agreement.empty()) {
      std::printf("\nthe previous model's agreement with the active one (latest telemetry)\n");
      for (const auto& [device, agreement] : s.shadow_agreement)
        std::printf("  %-24s %5.1f%%\n", device.c_str(), 100 * agreement);
    }
    return {};
  });
}

}  // namespace canopy::cli
