#include "sim/label_oracle.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "common/json.h"

namespace canopy::sim {

namespace fs = std::filesystem;

namespace {

// The device id an agent enrolled as, from its data directory.
std::optional<std::string> enrolled_id(const fs::path& device_dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(device_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != "enrollment.json") continue;
    std::ifstream in(it->path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto json = parse_json(text, it->path().string());
    if (json.ok() && json->contains("device_id") && (*json)["device_id"].is_string())
      return (*json)["device_id"].get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

Result<LabelOracle> LabelOracle::load(const fs::path& sim_dir, double error_rate, std::uint32_t seed) {
  LabelOracle oracle;
  oracle.error_rate_ = error_rate;
  oracle.random_.seed(seed);
  std::set<std::string> classes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sim_dir / "truth", ec)) {
    const fs::path frames = entry.path() / "frames.jsonl";
    const auto device_id = enrolled_id(sim_dir / entry.path().filename());
    if (!fs::exists(frames) || !device_id) continue;
    std::ifstream in(frames);
    std::string line;
    int line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      const std::string where = frames.string() + ":" + std::to_string(line_number);
      CANOPY_ASSIGN_OR_RETURN(Json frame, parse_json(line, where));
      const double width = frame.value("width", 0.0), height = frame.value("height", 0.0);
      if (width <= 0 || height <= 0)
        return make_error(ErrorCode::kCorrupt, where + ": the frame has no size");
      std::vector<api::SampleBox> boxes;
      for (const Json& object : frame.value("objects", Json::array())) {
        const Json box = object.value("box", Json::array());
        if (!box.is_array() || box.size() != 4)
          return make_error(ErrorCode::kCorrupt, where + ": a box is not [x1, y1, x2, y2]");
        const auto unit = [](double v, double size) { return std::clamp(v / size, 0.0, 1.0); };
        boxes.push_back({object.value("label", ""), 1.0, unit(box[0].get<double>(), width),
                         unit(box[1].get<double>(), height), unit(box[2].get<double>(), width),
                         unit(box[3].get<double>(), height)});
        classes.insert(boxes.back().label);
      }
      oracle.truth_[{*device_id, frame.value("camera", ""), frame.value("at_ms", std::int64_t{0})}] =
          std::move(boxes);
    }
  }
  if (oracle.truth_.empty())
    return make_error(ErrorCode::kNotFound,
                      "no ground truth of an enrolled device under " + (sim_dir / "truth").string() +
                          " (run canopy sim --world --dir " + sim_dir.string() + " first)");
  oracle.classes_.assign(classes.begin(), classes.end());
  return oracle;
}

std::optional<std::vector<api::SampleBox>> LabelOracle::label(const api::StoredSample& sample) {
  const auto found = truth_.find({sample.device_id, sample.sample.camera, sample.sample.captured_ms});
  if (found == truth_.end()) return std::nullopt;
  std::vector<api::SampleBox> boxes;
  std::uniform_real_distribution<double> chance(0, 1);
  for (api::SampleBox box : found->second) {
    if (error_rate_ > 0 && chance(random_) < error_rate_) {
      // Half the mistakes miss the plant, half give it another class.
      if (chance(random_) < 0.5 || classes_.size() < 2) continue;
      std::vector<std::string> others;
      for (const std::string& c : classes_)
        if (c != box.label) others.push_back(c);
      box.label = others[std::uniform_int_distribution<std::size_t>(0, others.size() - 1)(random_)];
    }
    boxes.push_back(box);
  }
  return boxes;
}

}  // namespace canopy::sim
