// Structured channel pruning of the field detector: whole output channels
// are removed and a smaller dense network is rebuilt, so it is faster on any
// runtime, not only on sparse kernels.
//
// Channels are pruned by group. A group is a set of channels that must stay
// the same across several convolutions because they are added together or
// read by the same consumers:
//   stem, stage1..stage4   a stage's down conv and every residual expand conv
//   neck                   the laterals and smoothing convs (added in the FPN)
//   stageN.blocks.K.reduce a bottleneck's inner channels
//   head3/4/5.stem         a head's shared features
// A channel's importance is the L1 or L2 norm of its filter in every
// convolution that writes it, each normalized by that convolution's mean so
// no single layer dominates; "bn" uses |gamma| / sqrt(var + eps) instead
// (only meaningful for a .pt checkpoint: a package's BatchNorm is folded
// into the convolutions, whose L1/L2 norms then already include it).
// The least important channels of each group go; kept counts are rounded up
// to multiples of 8 (what SIMD kernels like).
//
// Sensitivity: the validation mAP with only that group pruned by `ratio`,
// before any fine-tuning, is measured and reported for every group. By
// default it also decides how much each group loses: the shares are
// inversely proportional to the cube root of the mAP each group costs (at
// most 75%, kept counts rounded to multiples of 8), scaled
// so that `ratio` of all channels go; groups a detector cannot spare (the
// stem, early stages, the FPN) keep more, deep groups that barely matter
// give more. With by_sensitivity off, every group loses `ratio`.
// Iterative: with steps > 1 the kept share shrinks geometrically, with a
// fine-tune after every step.
// Thread-safety: one pruning run per process (it trains).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "train/detector_config.h"
#include "train/trainer.h"
#include "vision/dataset.h"

namespace canopy::train {

enum class PruneCriterion { kL1, kL2, kBnScale };
Result<PruneCriterion> parse_prune_criterion(const std::string& name);

struct PruneOptions {
  double ratio = 0.5;  // share of all channels removed
  PruneCriterion criterion = PruneCriterion::kL1;
  int steps = 1;
  bool measure_sensitivity = true;
  // Share the removal out by sensitivity (implies measuring it) instead of
  // removing `ratio` from every group.
  bool by_sensitivity = true;
  TrainOptions finetune;  // epochs per step, batch, lr, seed; out: the work directory (step1/, step2/, ...)
};

struct GroupReport {
  std::string group;
  int before = 0, after = 0;
  std::optional<double> sensitivity_map50;  // mAP@0.5 with only this group pruned, no fine-tune
};

struct PruneResult {
  LoadedModel model;  // the pruned, fine-tuned model
  std::vector<GroupReport> groups;
  double unpruned_map50 = 0;
  Json to_json() const;
};

// Channel groups of `model` and their current sizes, in a fixed order.
std::vector<std::pair<std::string, int>> channel_groups(FieldDetectorImpl& model);

// A new model with `keep[group]` channels in each listed group (others
// untouched), the most important channels' weights copied over.
DetectorPtr prune_channels(FieldDetectorImpl& model, const std::map<std::string, int>& keep,
                           PruneCriterion criterion);

Result<PruneResult> prune_detector(LoadedModel model, const vision::Dataset& train_set,
                                   const vision::Dataset& val_set, const PruneOptions& options);

// The whole job: prunes the model in `model_path` (a package directory or a
// .pt checkpoint, which is exported first as OUT/original), fine-tunes it
// (OUT/step1, ...), measures the original and the pruned model on the engine
// (compression_report.h), and writes OUT/package (the pruned model, the
// report in its metrics) and OUT/report.json. Returns the report.
Result<Json> prune_package(const std::filesystem::path& model_path, const vision::Dataset& train_set,
                           const vision::Dataset& val_set, const PruneOptions& options,
                           const std::filesystem::path& out_dir);

}  // namespace canopy::train
