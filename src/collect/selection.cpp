#include "collect/selection.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/enum_names.h"

namespace canopy::collect {

namespace {

constexpr EnumNames<UncertaintyMethod, 3> kMethodNames = {{
    {UncertaintyMethod::kBand, "band"},
    {UncertaintyMethod::kLeastConfidence, "least_confidence"},
    {UncertaintyMethod::kEntropy, "entropy"},
}};

double threshold_of(const std::string& label, double threshold,
                    const std::map<std::string, double>& per_class) {
  const auto found = per_class.find(label);
  return found == per_class.end() ? threshold : found->second;
}

double box_iou(const RawBox& a, const RawBox& b) {
  const double w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const double h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const double inter = w * h;
  const double uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0;
}

// The classes a frame shows: a box at least this sure of each.
std::set<std::string> classes_shown(const std::vector<RawBox>& boxes, double min_score) {
  std::set<std::string> shown;
  for (const RawBox& box : boxes)
    if (box.score >= min_score) shown.insert(box.label);
  return shown;
}

std::string percent(double share) { return std::to_string(static_cast<int>(std::lround(share * 100))) + "%"; }

}  // namespace

std::string_view uncertainty_method_name(UncertaintyMethod method) { return enum_name(kMethodNames, method); }
std::optional<UncertaintyMethod> parse_uncertainty_method(std::string_view text) {
  return enum_value(kMethodNames, text);
}

double uncertainty_score(const std::vector<RawBox>& boxes, double threshold,
                         const std::map<std::string, double>& class_thresholds,
                         const UncertaintyRules& rules) {
  double worst = 0;
  for (const RawBox& box : boxes) {
    const double s = std::clamp(box.score, 0.0, 1.0);
    double score = 0;
    switch (rules.method) {
      case UncertaintyMethod::kBand: {
        const double distance = std::abs(s - threshold_of(box.label, threshold, class_thresholds));
        score = rules.band > 0 && distance < rules.band ? 1 - distance / rules.band : 0;
        break;
      }
      case UncertaintyMethod::kLeastConfidence:
        // How far the box is from either certainty: 1 at 0.5, 0 at 0 or 1.
        score = 1 - std::abs(2 * s - 1);
        break;
      case UncertaintyMethod::kEntropy:
        score = s <= 0 || s >= 1 ? 0 : -(s * std::log2(s) + (1 - s) * std::log2(1 - s));
        break;
    }
    worst = std::max(worst, score);
  }
  return worst;
}

double previous_pass_flicker(const std::vector<PassHistory>& plants, int window) {
  int settled = 0, flickered = 0, missed = 0;
  for (const PassHistory& plant : plants) {
    // A plant the tracker has not watched for a whole window has no
    // agreement to flicker against.
    const std::size_t passes = plant.recent.size();
    if (window < 2 || passes < static_cast<std::size_t>(window)) continue;
    ++settled;
    const auto& previous = plant.recent[passes - 2];
    if (!previous) ++missed;
    if (previous != plant.agreed && plant.recent.back() == plant.agreed) ++flickered;
  }
  if (settled == 0 || missed == settled) return 0;
  return static_cast<double>(flickered) / settled;
}

double model_disagreement(const std::vector<RawBox>& active, const std::vector<RawBox>& shadow,
                          double threshold, double iou) {
  std::vector<const RawBox*> a, s;
  for (const RawBox& box : active)
    if (box.score >= threshold) a.push_back(&box);
  for (const RawBox& box : shadow)
    if (box.score >= threshold) s.push_back(&box);
  if (a.empty() && s.empty()) return 0;
  std::vector<bool> used(s.size(), false);
  int matched = 0;
  for (const RawBox* box : a) {
    for (std::size_t j = 0; j < s.size(); ++j) {
      if (used[j] || s[j]->label != box->label || box_iou(*box, *s[j]) < iou) continue;
      used[j] = true;
      ++matched;
      break;
    }
  }
  // Matched pairs count once: two models finding the same two boxes agree
  // fully, one finding a box the other lacks disagrees on one of three.
  const double boxes = static_cast<double>(a.size() + s.size() - matched);
  return 1 - matched / boxes;
}

std::optional<StrategyScore> cross_sensor_score(const std::vector<RawBox>& boxes, double threshold,
                                                const SoilContext& soil, const CrossSensorRules& rules) {
  int stressed = 0, healthy = 0;
  for (const RawBox& box : boxes) {
    if (box.score < threshold) continue;
    if (box.label == "water_stressed" || box.label == "water-stressed")
      ++stressed;
    else if (box.label == "healthy")
      ++healthy;
  }
  if (soil.wet && stressed > 0)
    return StrategyScore{"cross_sensor", 1.0,
                         std::to_string(stressed) + " plant(s) look water-stressed on wet soil"};
  if (!soil.wet && soil.dry_for_ms >= rules.dry_for_ms && healthy > 0 && stressed == 0)
    return StrategyScore{
        "cross_sensor", 0.8,
        "only healthy plants after " + std::to_string(soil.dry_for_ms / 3'600'000) + " h of dry soil"};
  return std::nullopt;
}

double class_rarity(const std::vector<RawBox>& boxes, const std::map<std::string, std::int64_t>& kept,
                    const std::vector<std::string>& classes, const ClassBalanceRules& rules,
                    std::string* rarest) {
  if (classes.empty() || rules.rare_share <= 0) return 0;
  std::int64_t total = 0;
  for (const auto& [label, count] : kept) total += count;
  double rarity = 0;
  for (const RawBox& box : boxes) {
    if (box.score < rules.min_box_score) continue;
    const auto found = kept.find(box.label);
    // One imagined sample of each class, so that a device that has kept
    // nothing yet finds every class equally common, not every class rare.
    const double share = ((found == kept.end() ? 0 : found->second) + 1.0) / (total + classes.size());
    const double r = std::clamp(1 - share / rules.rare_share, 0.0, 1.0);
    if (r > rarity) {
      rarity = r;
      if (rarest) *rarest = box.label;
    }
  }
  return rarity;
}

double novelty_score(const Embedding& embedding, const std::deque<Embedding>& kept) {
  if (kept.empty()) return 1;
  double nearest = 1;
  for (const Embedding& other : kept) nearest = std::min(nearest, embedding_distance(embedding, other));
  return nearest;
}

Decision select_frame(SelectionState& state, const Candidate& frame, const SelectionRules& rules,
                      const std::vector<std::string>& classes, std::int64_t now_ms, double draw) {
  Decision decision;
  ++state.frames;
  if (!rules.enabled) {
    decision.skipped = "selection is off";
    return decision;
  }
  CameraMemory& memory = state.cameras[frame.camera];

  std::string rarest;
  const double rarity = rules.class_balance.enabled ? class_rarity(frame.boxes, state.kept_by_class, classes,
                                                                   rules.class_balance, &rarest)
                                                    : 0;
  // A rare class makes every hard case of its frame harder to pass over.
  const double boost = 1 + rules.class_balance.boost * rarity;
  auto consider = [&](const std::string& strategy, double score, double min_score, std::string detail) {
    score = std::min(1.0, score * boost);
    if (score >= min_score && score > 0) decision.reasons.push_back({strategy, score, std::move(detail)});
  };

  if (rules.uncertainty.enabled) {
    const double score =
        uncertainty_score(frame.boxes, frame.threshold, frame.class_thresholds, rules.uncertainty);
    consider("uncertainty", score, rules.uncertainty.min_score,
             std::string(uncertainty_method_name(rules.uncertainty.method)) + " " + percent(score));
  }
  if (rules.temporal.enabled)
    consider("temporal", frame.temporal, rules.temporal.min_score,
             percent(frame.temporal) + " of the settled plants flickered");
  if (rules.model_disagreement.enabled && frame.shadow_boxes) {
    const double score =
        model_disagreement(frame.boxes, *frame.shadow_boxes, frame.threshold, rules.model_disagreement.iou);
    consider("model_disagreement", score, rules.model_disagreement.min_score,
             "the previous model disagrees on " + percent(score) + " of the boxes");
  }
  if (rules.cross_sensor.enabled && frame.soil)
    if (auto score = cross_sensor_score(frame.boxes, frame.threshold, *frame.soil, rules.cross_sensor))
      consider(score->strategy, score->score, 0, score->detail);
  if (rules.class_balance.enabled && rarity >= 0.5)
    consider("class_balance", rarity, 0.5, "'" + rarest + "' is rare among the kept samples");
  if (rules.novelty.enabled) {
    const double score = novelty_score(frame.signature.embedding, memory.embeddings);
    consider("novelty", score, rules.novelty.min_distance,
             "distance " + percent(score) + " to the nearest kept frame");
  }
  std::stable_sort(decision.reasons.begin(), decision.reasons.end(),
                   [](const StrategyScore& a, const StrategyScore& b) { return a.score > b.score; });

  // The random slice is drawn from every frame, duplicates included: it is
  // the unbiased sample the hard cases are measured against.
  if (draw < rules.random.share) {
    decision.random = true;
    decision.reasons.insert(decision.reasons.begin(), {"random", 1.0, "the unbiased slice"});
  } else if (decision.reasons.empty()) {
    decision.skipped = "nothing hard";
    return decision;
  } else {
    for (const KeptFrame& kept : memory.recent) {
      if (hamming_distance(kept.hash, frame.signature.hash) <= rules.duplicates.max_distance &&
          now_ms - kept.at_ms < rules.duplicates.keep_after_ms) {
        ++state.duplicates;
        decision.reasons.clear();
        decision.skipped = "duplicate";
        return decision;
      }
    }
  }
  // The first strategy with room in its budget pays for the sample.
  const auto payer = std::find_if(
      decision.reasons.begin(), decision.reasons.end(),
      [&](const StrategyScore& r) { return budget_allows(state.budget, rules.budget, r.strategy, now_ms); });
  if (payer == decision.reasons.end()) {
    ++state.over_budget;
    decision.reasons.clear();
    decision.random = false;
    decision.skipped = "budget";
    return decision;
  }
  budget_spend(state.budget, payer->strategy, now_ms);
  decision.keep = true;
  ++state.kept;
  for (const std::string& label : classes_shown(frame.boxes, rules.class_balance.min_box_score))
    ++state.kept_by_class[label];
  memory.recent.push_back({frame.signature.hash, now_ms});
  while (static_cast<int>(memory.recent.size()) > std::max(1, rules.duplicates.memory))
    memory.recent.pop_front();
  memory.embeddings.push_back(frame.signature.embedding);
  while (static_cast<int>(memory.embeddings.size()) > std::max(1, rules.novelty.memory))
    memory.embeddings.pop_front();
  return decision;
}

Json SelectionState::to_json() const {
  Json cams = Json::object();
  for (const auto& [camera, memory] : cameras) {
    Json recent = Json::array(), embeddings = Json::array();
    for (const KeptFrame& frame : memory.recent)
      recent.push_back({{"hash", hash_hex(frame.hash)}, {"at_ms", frame.at_ms}});
    for (const Embedding& e : memory.embeddings) embeddings.push_back(std::vector<float>(e.begin(), e.end()));
    cams[camera] = {{"recent", recent}, {"embeddings", embeddings}};
  }
  return {{"budget", budget.to_json()},
          {"kept_by_class", kept_by_class},
          {"cameras", cams},
          {"frames", frames},
          {"kept", kept},
          {"duplicates", duplicates},
          {"over_budget", over_budget}};
}

Result<SelectionState> SelectionState::from_json(const Json& json) {
  auto corrupt = [](const std::string& what) {
    return make_error(ErrorCode::kCorrupt, "selection state: " + what);
  };
  if (!json.is_object() || !json.contains("budget")) return corrupt("must be an object with a budget");
  SelectionState state;
  CANOPY_ASSIGN_OR_RETURN(state.budget, BudgetState::from_json(json.at("budget")));
  try {
    state.kept_by_class = json.value("kept_by_class", std::map<std::string, std::int64_t>{});
    state.frames = json.value("frames", std::int64_t{0});
    state.kept = json.value("kept", std::int64_t{0});
    state.duplicates = json.value("duplicates", std::int64_t{0});
    state.over_budget = json.value("over_budget", std::int64_t{0});
    const Json cameras = json.value("cameras", Json::object());
    for (const auto& [camera, memory] : cameras.items()) {
      CameraMemory& out = state.cameras[camera];
      for (const Json& frame : memory.at("recent")) {
        auto hash = parse_hash_hex(frame.at("hash").get<std::string>());
        if (!hash) return corrupt("a kept hash of camera '" + camera + "' is not 16 hex digits");
        out.recent.push_back({*hash, frame.at("at_ms").get<std::int64_t>()});
      }
      for (const Json& e : memory.at("embeddings")) {
        const auto values = e.get<std::vector<float>>();
        if (values.size() != kEmbeddingSize)
          return corrupt("an embedding of camera '" + camera + "' has the wrong size");
        Embedding embedding{};
        std::copy(values.begin(), values.end(), embedding.begin());
        out.embeddings.push_back(embedding);
      }
    }
  } catch (const Json::exception& e) {
    return corrupt(e.what());
  }
  return state;
}

}  // namespace canopy::collect
