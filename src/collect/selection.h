// Hard-case selection (docs/samples.md): which frames a device keeps for
// people to label, so that they label the frames the model gets wrong and
// the network carries little else. Every strategy is a pure function that
// scores one frame from 0 (nothing to learn) to 1 (the hardest), and leaves
// its name and score on the sample:
//   uncertainty        a box whose raw score (from before the model's
//                      confidence threshold, down to the raw floor) is close
//                      to its class's threshold; or least confidence or
//                      entropy over the frame's boxes
//   temporal           a pass in which a plant flickered: seen as another
//                      state than its passes agree on, or missed, while the
//                      next pass agrees again (so the frame is judged one
//                      pass late)
//   model_disagreement the previous model, run in shadow on a share of
//                      frames, finds other boxes than the active one
//   cross_sensor       the camera sees water stress while the soil is wet,
//                      or only healthy plants while the soil has been dry
//                      for long
//   class_balance      the frame holds (even below the threshold) a class
//                      that is rare among the samples this device kept:
//                      confidence alone favours what the model already finds
//   novelty            the frame looks unlike what this camera kept before
//   random             a small unbiased slice, flagged, so that the hard
//                      cases can always be compared with a fair draw
// A frame within a few bits of the perceptual hash of a frame the same
// camera kept recently is a near-duplicate and is dropped, until the
// duplicate timeout forces a keep. Budgets (collect/budget.h) bound what is
// kept per minute, hour, day and strategy; select_frame spends them.
// Thread-safety: pure functions over the values passed in.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collect/budget.h"
#include "collect/image_signature.h"
#include "common/error.h"
#include "common/json.h"

namespace canopy::collect {

// A box as the model reported it, in 0-1 coordinates of the frame.
struct RawBox {
  std::string label;
  double score = 0;
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

enum class UncertaintyMethod { kBand, kLeastConfidence, kEntropy };
std::string_view uncertainty_method_name(UncertaintyMethod method);
std::optional<UncertaintyMethod> parse_uncertainty_method(std::string_view text);

// Each strategy is on unless disabled, and picks a frame when its score
// reaches `min_score`.
struct UncertaintyRules {
  bool enabled = true;
  UncertaintyMethod method = UncertaintyMethod::kBand;
  double band = 0.15;  // kBand: scores within this of the threshold
  double min_score = 0.5;
};
struct TemporalRules {
  bool enabled = true;
  double min_score = 0.1;
};
struct ModelDisagreementRules {
  bool enabled = true;
  double share = 0.2;  // of frames the previous model runs on in shadow
  double iou = 0.5;    // boxes of the two models match at this overlap and the same label
  double min_score = 0.3;
};
struct CrossSensorRules {
  bool enabled = true;
  std::int64_t dry_for_ms =
      24ll * 3600 * 1000;  // soil below the start threshold this long should show stress
};
struct ClassBalanceRules {
  bool enabled = true;
  double min_box_score = 0.2;  // a raw box this sure counts as the frame showing its class
  double rare_share = 0.15;    // a class kept less often than this is rare
  double boost = 1.0;          // a rare class raises every strategy's score by up to this factor
};
struct NoveltyRules {
  bool enabled = true;
  double min_distance = 0.3;  // embedding distance to the nearest kept frame
  int memory = 32;            // kept frames remembered per camera
};
struct RandomRules {
  double share = 0.02;  // of frames kept at random, unfiltered
};
struct DuplicateRules {
  int max_distance = 10;                   // hash bits
  std::int64_t keep_after_ms = 3'600'000;  // a near-duplicate is kept again after this
  int memory = 8;                          // kept hashes remembered per camera
};

struct SelectionRules {
  bool enabled = true;
  UncertaintyRules uncertainty;
  TemporalRules temporal;
  ModelDisagreementRules model_disagreement;
  CrossSensorRules cross_sensor;
  ClassBalanceRules class_balance;
  NoveltyRules novelty;
  RandomRules random;
  DuplicateRules duplicates;
  BudgetRules budget;
};

// What the soil under a camera's zone says, when a valid reading says it.
struct SoilContext {
  bool wet = false;             // above the zone's start threshold: plants transpire unstressed
  std::int64_t dry_for_ms = 0;  // how long it has been at or below the start threshold
};

// One judged frame and what surrounds it.
struct Candidate {
  std::string camera;
  std::vector<RawBox> boxes;                        // the active model's, down to the raw floor
  std::optional<std::vector<RawBox>> shadow_boxes;  // the previous model's, when it ran
  double threshold = 0.5;                           // the model's decision threshold
  std::map<std::string, double> class_thresholds;   // per class, where one differs
  double temporal = 0;                              // previous_pass_flicker() once the next pass is in
  std::optional<SoilContext> soil;
  ImageSignature signature;
};

struct StrategyScore {
  std::string strategy;
  double score = 0;
  std::string detail;
};

double uncertainty_score(const std::vector<RawBox>& boxes, double threshold,
                         const std::map<std::string, double>& class_thresholds,
                         const UncertaintyRules& rules);
// A tracked plant's passes and the state they agreed on.
struct PassHistory {
  std::vector<std::optional<std::string>> recent;  // newest last; nullopt: not seen in that pass
  std::string agreed;
};
// The share of the camera's settled plants (watched for a whole window)
// for which the pass before the newest was the odd one out: it saw another
// state than the plants' agreed one, or missed the plant, and the newest
// pass agrees again. A flicker that the next pass takes back is the
// likeliest of all to be the model's mistake; a change that holds (a plant
// falling ill) is not one. A pass that missed every plant scores 0: a blind
// camera (night, fog, a covered lens) has nothing to label.
double previous_pass_flicker(const std::vector<PassHistory>& plants, int window);
// 1 - matched / (boxes of either model), over boxes at or above the threshold.
double model_disagreement(const std::vector<RawBox>& active, const std::vector<RawBox>& shadow,
                          double threshold, double iou);
std::optional<StrategyScore> cross_sensor_score(const std::vector<RawBox>& boxes, double threshold,
                                                const SoilContext& soil, const CrossSensorRules& rules);
// How rare the rarest class the frame shows is among `kept` (kept frames
// showing each class): 1 for a class never kept, 0 at rare_share or more.
double class_rarity(const std::vector<RawBox>& boxes, const std::map<std::string, std::int64_t>& kept,
                    const std::vector<std::string>& classes, const ClassBalanceRules& rules,
                    std::string* rarest = nullptr);
double novelty_score(const Embedding& embedding, const std::deque<Embedding>& kept);

// What selection remembers: budgets, the classes it kept, and per camera
// the frames it kept recently. Kept across restarts (to_json/from_json).
struct KeptFrame {
  std::uint64_t hash = 0;
  std::int64_t at_ms = 0;
};
struct CameraMemory {
  std::deque<KeptFrame> recent;      // newest last, at most duplicates.memory
  std::deque<Embedding> embeddings;  // newest last, at most novelty.memory
};
struct SelectionState {
  BudgetState budget;
  // Kept frames showing each class (a box of at least class_balance.min_box_score).
  std::map<std::string, std::int64_t> kept_by_class;
  std::map<std::string, CameraMemory> cameras;
  std::int64_t frames = 0, kept = 0, duplicates = 0, over_budget = 0;

  Json to_json() const;
  static Result<SelectionState> from_json(const Json& json);
};

struct Decision {
  bool keep = false;
  bool random = false;
  std::vector<StrategyScore> reasons;  // every strategy that picked it, highest first
  std::string skipped;                 // why not, when not: "nothing hard", "duplicate", "budget"
};

// Whether to keep `frame` at `now_ms`. `draw` is a uniform number in [0, 1)
// for the random slice. `classes` are the model's labels. A kept frame is
// counted against the budgets and remembered in `state`.
Decision select_frame(SelectionState& state, const Candidate& frame, const SelectionRules& rules,
                      const std::vector<std::string>& classes, std::int64_t now_ms, double draw);

}  // namespace canopy::collect
