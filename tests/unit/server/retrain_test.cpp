// The retrain policy as a pure rule (every trigger, the minimum interval,
// open jobs, requests, a disabled policy), and the retrain area on a real
// SQLite file with a manual clock: jobs queued by the policy, leases that
// run out and pass to another worker, attempts that end, gates that reject,
// promotion automatic or approved, a rollout that fails in the field, and a
// restart in the middle of a job. The other areas are reached through
// RetrainLinks, played here by a small table the test reads back; the real
// composition is tested end to end in tests/integration/loop_test.cpp.
#include <gtest/gtest.h>

#include <map>

#include "server/retrain/retrain_jobs.h"
#include "server/retrain/retrain_policy.h"
#include "test_support.h"

namespace canopy::server {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kT0 = 1'780'000'000'000;

api::RetrainPolicy policy_for(const std::string& model) {
  api::RetrainPolicy policy;
  policy.model = model;
  policy.min_new_labels = 100;
  policy.min_interval_s = 6 * 3600;
  policy.target.group = "fields";
  return policy;
}

// ---- the rule ----

TEST(RetrainPolicyTest, EachTriggerQueuesOnlyOnceTheIntervalHasPassedAndNoJobIsOpen) {
  const api::RetrainPolicy policy = policy_for("detector");
  const std::int64_t now = kT0;
  struct Case {
    const char* name;
    RetrainState state;
    bool queue;
    const char* reason_starts;
    std::int64_t wake_ms;
  };
  const std::vector<Case> cases = {
      {"nothing happened", {std::nullopt, 0, false, 0, {}, ""}, false, "no trigger yet", 0},
      {"99 labels are not 100", {std::nullopt, 0, false, 99, {}, ""}, false, "no trigger yet", 0},
      {"100 labels, first job",
       {std::nullopt, 0, false, 100, {}, ""},
       true,
       "100 new labels (at least 100)",
       0},
      {"labels, job 7 h ago", {now - 7 * kHour, 0, false, 150, {}, ""}, true, "150 new labels", 0},
      {"labels, job 1 h ago", {now - kHour, 0, false, 150, {}, ""}, false, "150 new labels", now + 5 * kHour},
      {"drift", {now - 7 * kHour, 0, false, 0, {"north psi 0.31"}, ""}, true, "drift: north psi 0.31", 0},
      {"two drifts",
       {std::nullopt, 0, false, 0, {"north psi 0.31", "south accuracy 0.4"}, ""},
       true,
       "drift: north psi 0.31 and 1 more",
       0},
      {"drift while a job is open",
       {now - 7 * kHour, 0, true, 500, {"north psi 0.31"}, ""},
       false,
       "a job is already queued or running",
       0},
      {"a request skips the interval", {now - kHour, 0, false, 0, {}, "ana"}, true, "requested by ana", 0},
      {"a request waits for an open job",
       {now - kHour, 0, true, 0, {}, "ana"},
       false,
       "a job is already queued or running",
       0},
  };
  for (const Case& c : cases) {
    RetrainDecision decision = decide_retrain(policy, c.state, now);
    EXPECT_EQ(decision.queue, c.queue) << c.name;
    EXPECT_EQ(decision.reason.rfind(c.reason_starts, 0), 0u) << c.name << ": " << decision.reason;
    EXPECT_EQ(decision.wake_ms, c.wake_ms) << c.name;
  }
}

TEST(RetrainPolicyTest, TheScheduleCountsFromTheLastJobOrTheTimeThePolicyWasSet) {
  api::RetrainPolicy policy = policy_for("detector");
  policy.every_s = 24 * 3600;
  policy.min_new_labels = 0;  // labels alone never trigger
  RetrainState fresh{std::nullopt, kT0, false, 10'000, {}, ""};
  EXPECT_FALSE(decide_retrain(policy, fresh, kT0 + 23 * kHour).queue);
  EXPECT_EQ(decide_retrain(policy, fresh, kT0 + 23 * kHour).wake_ms, kT0 + 24 * kHour);
  RetrainDecision due = decide_retrain(policy, fresh, kT0 + 24 * kHour);
  EXPECT_TRUE(due.queue);
  EXPECT_EQ(due.reason, "schedule: every 86400 s");

  RetrainState after_job{kT0 + 30 * kHour, kT0, false, 0, {}, ""};
  EXPECT_FALSE(decide_retrain(policy, after_job, kT0 + 50 * kHour).queue);
  EXPECT_TRUE(decide_retrain(policy, after_job, kT0 + 54 * kHour).queue);
  // A schedule shorter than the minimum interval waits for the interval.
  policy.every_s = 3600;
  RetrainDecision early = decide_retrain(policy, after_job, kT0 + 32 * kHour);
  EXPECT_FALSE(early.queue);
  EXPECT_EQ(early.wake_ms, kT0 + 36 * kHour);
}

TEST(RetrainPolicyTest, SwitchedOffTriggersAndADisabledPolicyQueueNothing) {
  api::RetrainPolicy policy = policy_for("detector");
  policy.on_drift = false;
  policy.min_new_labels = 0;
  RetrainState busy{std::nullopt, 0, false, 1'000'000, {"north psi 0.9"}, ""};
  EXPECT_FALSE(decide_retrain(policy, busy, kT0).queue);
  policy = policy_for("detector");
  policy.enabled = false;
  busy.requested_by = "ana";
  RetrainDecision disabled = decide_retrain(policy, busy, kT0);
  EXPECT_FALSE(disabled.queue);
  EXPECT_EQ(disabled.reason, "the policy is disabled");
}

// ---- the area ----

// The other areas as a table: what they answer, and what they were told.
class TableLinks final : public RetrainLinks {
 public:
  std::int64_t labels = 0;
  std::vector<std::string> drift;
  std::map<std::string, std::int64_t> aliases;    // alias -> version
  std::map<std::string, std::int64_t> published;  // run id -> version
  std::map<std::int64_t, api::DeploymentState> deployments;
  int datasets_made = 0;
  bool rollout_fails = false;

  Result<std::int64_t> labeled_count(const std::string&, bool) override { return labels; }
  Result<std::string> make_dataset(const api::RetrainPolicy& policy, const std::string&) override {
    return policy.dataset_name() + ":" + std::to_string(++datasets_made);
  }
  Result<std::optional<std::int64_t>> alias(const std::string&, const std::string& name) override {
    auto it = aliases.find(name);
    return it == aliases.end() ? std::optional<std::int64_t>() : std::optional<std::int64_t>(it->second);
  }
  Status set_alias(const std::string&, const std::string& name, std::int64_t version,
                   const std::string&) override {
    aliases[name] = version;
    return {};
  }
  Result<std::optional<std::int64_t>> published_by(const std::string&, const std::string& run_id) override {
    auto it = published.find(run_id);
    return it == published.end() ? std::optional<std::int64_t>() : std::optional<std::int64_t>(it->second);
  }
  Result<std::int64_t> start_rollout(const api::RetrainPolicy&, std::int64_t, const std::string&) override {
    if (rollout_fails) return make_error(ErrorCode::kInvalidArgument, "no device matches group fields");
    std::int64_t id = static_cast<std::int64_t>(deployments.size()) + 1;
    deployments[id] = api::DeploymentState::kRunning;
    return id;
  }
  Result<api::DeploymentState> rollout_state(std::int64_t deployment) override {
    return deployments.at(deployment);
  }
  Result<std::vector<std::string>> open_drift(const std::string&) override { return drift; }
  Result<std::string> run_of(const std::string&, std::int64_t version) override {
    for (const auto& [run, published_version] : published)
      if (published_version == version) return run;
    return std::string();
  }
  Result<api::DatasetVersion> dataset(const std::string& ref) override {
    api::DatasetVersion v;
    v.item_list = {{"s-1", "", 8, 8, {}, "train", "ana", "dev-1", "north"}};
    v.items_by_device = {{"dev-1", 1}};
    (void)ref;
    return v;
  }
  Result<std::vector<std::string>> datasets_with_sample(const std::string& id) override {
    return id == "s-1" ? std::vector<std::string>{"detector-field:1"} : std::vector<std::string>{};
  }
  Result<std::vector<std::string>> devices_running(const std::string&, std::int64_t version) override {
    return version == aliases["production"] ? std::vector<std::string>{"dev-1", "dev-2"}
                                            : std::vector<std::string>{};
  }
};

class RetrainJobsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    links.aliases["production"] = 3;
    reopen();
  }
  void reopen() {
    jobs.reset();
    jobs = RetrainJobs::open(Database::open(dir.path() / "db").value(), links, clock, {60'000, 3}).value();
  }
  api::RetrainJob claim(const std::string& worker) {
    auto lease = jobs->claim(worker);
    EXPECT_TRUE(lease.ok()) << lease.error().message;
    EXPECT_TRUE(lease->has_value()) << worker << " got no job";
    return (*lease)->job;
  }
  api::JobOutcome outcome(const std::string& worker, const std::string& run, int exit_code = 0) {
    return {worker, run, exit_code, false, "", {}};
  }

  testing::TempDir dir;
  ManualClock clock{kT0};
  TableLinks links;
  std::unique_ptr<RetrainJobs> jobs;
};

TEST_F(RetrainJobsTest, LabelsQueueAJobThatAWorkerClaimsAndItsChallengerIsPromotedAndRolledOut) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  links.labels = 99;
  EXPECT_FALSE(jobs->claim("w1")->has_value());
  links.labels = 120;
  api::RetrainJob job = claim("w1");
  EXPECT_EQ(job.state, api::kJobRunning);
  EXPECT_EQ(job.reason, "120 new labels (at least 100)");
  EXPECT_EQ(job.dataset, "detector-field:1");
  EXPECT_EQ(job.parent_version, 3);
  EXPECT_EQ(job.parameters["dataset"], "detector-field:1");
  EXPECT_EQ(job.parameters["parent"], "detector:3");
  EXPECT_EQ(job.parameters["job"], job.id);
  EXPECT_EQ(job.attempts, 1);
  // One job at a time per model, and the labels it took are not new any more.
  EXPECT_FALSE(jobs->claim("w2")->has_value());

  ASSERT_TRUE(jobs->heartbeat(job.id, "w1", "train: epoch 2/8").ok());
  links.published["run-a"] = 4;
  api::RetrainJob done = jobs->complete(job.id, outcome("w1", "run-a")).value();
  EXPECT_EQ(done.state, api::kJobSucceeded);
  EXPECT_EQ(done.version, 4);
  EXPECT_EQ(done.promotion, api::kPromotionPromoted);
  EXPECT_EQ(done.deployment, 1);
  EXPECT_EQ(links.aliases["challenger"], 4);
  EXPECT_EQ(links.aliases["production"], 4);
  EXPECT_EQ(jobs->job_of_run("run-a")->value().id, job.id);

  // Lineage both ways: version 4 <- job <- dataset <- sample s-1 from dev-1, and back.
  Json lineage = jobs->lineage_of_version("detector", 4).value();
  EXPECT_EQ(lineage["run"], "run-a");
  EXPECT_EQ(lineage["job"], job.id);
  EXPECT_EQ(lineage["parent"], "detector:3");
  EXPECT_EQ(lineage["dataset"], "detector-field:1");
  EXPECT_EQ(lineage["samples"][0]["sample_id"], "s-1");
  EXPECT_EQ(lineage["devices"]["dev-1"], 1);
  Json back = jobs->lineage_of_sample("s-1").value();
  ASSERT_EQ(back["models"].size(), 1u);
  EXPECT_EQ(back["models"][0]["version"], 4);
  EXPECT_EQ(back["models"][0]["devices_running"], Json({"dev-1", "dev-2"}));
  EXPECT_TRUE(jobs->lineage_of_sample("s-9")->at("models").empty());
  EXPECT_TRUE(jobs->lineage_of_version("detector", 3)->at("job").is_null());

  // The rollout completes: so does the promotion.
  links.deployments[1] = api::DeploymentState::kCompleted;
  ASSERT_TRUE(jobs->evaluate_all().ok());
  EXPECT_EQ(jobs->job(job.id)->promotion, api::kPromotionCompleted);

  // 120 labels were used; 100 more are needed, and six hours.
  links.labels = 219;
  EXPECT_FALSE(jobs->claim("w1")->has_value());
  links.labels = 220;
  RetrainDecision waiting = jobs->evaluate("detector").value();
  EXPECT_FALSE(waiting.queue);
  EXPECT_EQ(waiting.wake_ms, kT0 + 6 * kHour);
  clock.advance_ms(6 * kHour);
  EXPECT_EQ(claim("w1").dataset, "detector-field:2");
}

TEST_F(RetrainJobsTest, ALeaseThatRunsOutPassesTheJobToAnotherWorkerAndTheFirstIsToldToStop) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  ASSERT_TRUE(jobs->request("detector", "ana").ok());
  api::RetrainJob first = claim("w1");
  clock.advance_ms(40'000);
  ASSERT_TRUE(jobs->heartbeat(first.id, "w1", "").ok());  // renewed: 60 s from now
  clock.advance_ms(50'000);
  EXPECT_FALSE(jobs->claim("w2")->has_value());  // still w1's
  clock.advance_ms(11'000);                      // w1 went quiet
  api::RetrainJob second = claim("w2");
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.attempts, 2);
  EXPECT_EQ(second.worker, "w2");
  EXPECT_EQ(jobs->heartbeat(first.id, "w1", "").error().code, ErrorCode::kConflict);
  EXPECT_EQ(jobs->complete(first.id, outcome("w1", "run-w1")).error().code, ErrorCode::kConflict);
  links.published["run-w2"] = 4;
  EXPECT_EQ(jobs->complete(first.id, outcome("w2", "run-w2"))->state, api::kJobSucceeded);
}

TEST_F(RetrainJobsTest, AWorkerKilledAfterItsUploadLeavesTheVersionToTheAttemptThatFinishes) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  ASSERT_TRUE(jobs->request("detector", "ana").ok());
  const api::RetrainJob job = claim("w1");
  links.published["run-w1"] = 4;  // w1 published, then died before it reported
  clock.advance_ms(61'000);
  claim("w2");
  // w2's publish step uploaded the same bytes: the registry kept them under w1's run.
  api::JobOutcome finished = outcome("w2", "run-w2");
  finished.earlier_runs = {"run-w0", "run-w1"};
  const api::RetrainJob done = jobs->complete(job.id, finished).value();
  EXPECT_EQ(done.state, api::kJobSucceeded);
  EXPECT_EQ(done.version, 4);
  EXPECT_EQ(done.run_id, "run-w1");  // the run the version's lineage names
  EXPECT_EQ(links.aliases["challenger"], 4);
}

TEST_F(RetrainJobsTest, AJobWhoseLeasesRunOutThreeTimesFails) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  ASSERT_TRUE(jobs->request("detector", "ana").ok());
  std::int64_t id = 0;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    id = claim("w" + std::to_string(attempt)).id;
    clock.advance_ms(61'000);
  }
  EXPECT_FALSE(jobs->claim("w4")->has_value());
  api::RetrainJob failed = jobs->job(id).value();
  EXPECT_EQ(failed.state, api::kJobFailed);
  EXPECT_EQ(failed.message, "the lease ran out 3 times (last held by w3)");
}

TEST_F(RetrainJobsTest, AChallengerTheGatesRejectNeverBecomesAnAlias) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  ASSERT_TRUE(jobs->request("detector", "ana").ok());
  api::RetrainJob job = claim("w1");
  api::JobOutcome rejected{
      "w1", "run-r", 1, true, "gate failed: evaluate_field.map50 >= production_field.map50", {}};
  api::RetrainJob done = jobs->complete(job.id, rejected).value();
  EXPECT_EQ(done.state, api::kJobRejected);
  EXPECT_EQ(done.message, rejected.message);
  EXPECT_EQ(links.aliases.count("challenger"), 0u);
  EXPECT_EQ(links.aliases["production"], 3);
  EXPECT_TRUE(links.deployments.empty());
  // A run that claims success but published nothing is a failure, not a challenger.
  clock.advance_ms(7 * kHour);
  job = jobs->request("detector", "ana").value();
  claim("w1");
  EXPECT_EQ(jobs->complete(job.id, outcome("w1", "run-empty"))->state, api::kJobFailed);
}

TEST_F(RetrainJobsTest, WithApprovalProductionMovesOnlyWhenAPersonApproves) {
  api::RetrainPolicy policy = policy_for("detector");
  policy.promotion = api::Promotion::kApproval;
  ASSERT_TRUE(jobs->set_policy(policy).ok());
  for (bool approve : {false, true}) {
    api::RetrainJob job = jobs->request("detector", "ana").value();
    claim("w1");
    links.published["run-" + std::to_string(job.id)] = 10 + job.id;
    api::RetrainJob done = jobs->complete(job.id, outcome("w1", "run-" + std::to_string(job.id))).value();
    EXPECT_EQ(done.promotion, api::kPromotionPending);
    EXPECT_EQ(links.aliases["challenger"], 10 + job.id);
    EXPECT_EQ(links.aliases["production"], 3);
    if (approve) {
      api::RetrainJob approved = jobs->approve(job.id, "ana").value();
      EXPECT_EQ(approved.promotion, api::kPromotionPromoted);
      EXPECT_EQ(links.aliases["production"], 10 + job.id);
    } else {
      EXPECT_EQ(jobs->decline(job.id, "ana")->promotion, api::kPromotionDeclined);
      EXPECT_EQ(jobs->approve(job.id, "ana").error().code, ErrorCode::kConflict);
      EXPECT_EQ(links.aliases["production"], 3);
    }
  }
}

TEST_F(RetrainJobsTest, APromotionWhoseRolloutFailsInTheFieldPutsProductionBack) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  api::RetrainJob job = jobs->request("detector", "ana").value();
  claim("w1");
  links.published["run-a"] = 4;
  ASSERT_EQ(jobs->complete(job.id, outcome("w1", "run-a"))->promotion, api::kPromotionPromoted);
  ASSERT_TRUE(jobs->evaluate_all().ok());
  EXPECT_EQ(jobs->job(job.id)->promotion, api::kPromotionPromoted);  // still rolling out
  links.deployments[1] = api::DeploymentState::kRolledBack;
  ASSERT_TRUE(jobs->evaluate_all().ok());
  api::RetrainJob marked = jobs->job(job.id).value();
  EXPECT_EQ(marked.promotion, api::kPromotionRolledBack);
  EXPECT_EQ(marked.promotion_note, "deployment 1 was rolled-back; production is back on detector:3");
  EXPECT_EQ(links.aliases["production"], 3);
  EXPECT_EQ(links.aliases["challenger"], 4);

  // A rollout that cannot even start leaves production where it was.
  clock.advance_ms(7 * kHour);
  links.rollout_fails = true;
  job = jobs->request("detector", "ana").value();
  claim("w1");
  links.published["run-b"] = 5;
  api::RetrainJob unstarted = jobs->complete(job.id, outcome("w1", "run-b")).value();
  EXPECT_EQ(unstarted.promotion, api::kPromotionRolledBack);
  EXPECT_EQ(unstarted.promotion_note, "the rollout could not start: no device matches group fields");
  EXPECT_EQ(links.aliases["production"], 3);
}

TEST_F(RetrainJobsTest, AServerRestartedMidJobKeepsTheLeaseAndTheWorkerFinishes) {
  ASSERT_TRUE(jobs->set_policy(policy_for("detector")).ok());
  links.labels = 150;
  api::RetrainJob job = claim("w1");
  reopen();
  EXPECT_EQ(jobs->job(job.id)->state, api::kJobRunning);
  EXPECT_FALSE(jobs->claim("w2")->has_value());
  ASSERT_TRUE(jobs->heartbeat(job.id, "w1", "compress").ok());
  links.published["run-a"] = 4;
  EXPECT_EQ(jobs->complete(job.id, outcome("w1", "run-a"))->state, api::kJobSucceeded);
  EXPECT_EQ(jobs->policy("detector")->min_new_labels, 100);
}

TEST_F(RetrainJobsTest, RequestsAndCancelsAreRefusedWhenTheyCannotApply) {
  EXPECT_EQ(jobs->request("nothing", "ana").error().code, ErrorCode::kNotFound);
  api::RetrainPolicy policy = policy_for("detector");
  policy.enabled = false;
  ASSERT_TRUE(jobs->set_policy(policy).ok());
  EXPECT_EQ(jobs->request("detector", "ana").error().code, ErrorCode::kConflict);
  policy.enabled = true;
  ASSERT_TRUE(jobs->set_policy(policy).ok());
  api::RetrainJob job = jobs->request("detector", "ana").value();
  EXPECT_EQ(jobs->request("detector", "ana").error().code, ErrorCode::kConflict);
  EXPECT_EQ(jobs->cancel(job.id, "ana")->state, api::kJobCancelled);
  EXPECT_EQ(jobs->cancel(job.id, "ana").error().code, ErrorCode::kConflict);
  EXPECT_FALSE(jobs->claim("w1")->has_value());
  EXPECT_EQ(jobs->job(999).error().code, ErrorCode::kNotFound);
}

TEST(RetrainPolicyJsonTest, APolicyReadsBackAndEachBadSettingIsNamed) {
  api::RetrainPolicy policy = policy_for("detector");
  policy.bases = {"scenes:1"};
  policy.parameters = {{"epochs", 4}, {"replay", 0.5}};
  api::RetrainPolicy read = api::RetrainPolicy::from_json(policy.to_json()).value();
  ASSERT_EQ(read.strategy.stages.size(), 1u);  // no stages: one wave of every device
  EXPECT_EQ(read.strategy.stages[0].percent, 100);
  EXPECT_EQ(api::RetrainPolicy::from_json(read.to_json())->to_json(), read.to_json());
  EXPECT_EQ(read.bases, policy.bases);
  EXPECT_EQ(read.parameters, policy.parameters);
  const std::vector<std::pair<Json, std::string>> bad = {
      {{{"model", "a b"}, {"target", {{"group", "g"}}}}, "field 'model'"},
      {{{"model", "m"}}, "field 'target'"},
      {{{"model", "m"}, {"promotion", "sometimes"}, {"target", {{"group", "g"}}}}, "field 'promotion'"},
      {{{"model", "m"}, {"min_new_labels", -1}, {"target", {{"group", "g"}}}}, "field 'min_new_labels'"},
      {{{"model", "m"}, {"bases", {"scenes"}}, {"target", {{"group", "g"}}}}, "field 'bases'"},
      {{{"model", "m"}, {"parameters", {{"a b", 1}}}, {"target", {{"group", "g"}}}}, "field 'parameters'"},
  };
  for (const auto& [json, names] : bad) {
    auto parsed = api::RetrainPolicy::from_json(json);
    ASSERT_FALSE(parsed.ok()) << json.dump();
    EXPECT_NE(parsed.error().message.find(names), std::string::npos) << parsed.error().message;
  }
  Json manual = {{"model", "m"}, {"promotion", "manual"}};
  EXPECT_TRUE(api::RetrainPolicy::from_json(manual).ok());
}

TEST(RetrainPolicyJsonTest, AJobOutcomeReadsBackAndABadRunListIsNamed) {
  const api::JobOutcome outcome{"w1", "run-2", 0, false, "", {"run-1"}};
  EXPECT_EQ(api::JobOutcome::from_json(outcome.to_json())->to_json(), outcome.to_json());
  for (const Json& runs : {Json("run-1"), Json::array({1}), Json(std::vector<std::string>(65, "run-1"))}) {
    Json json = outcome.to_json();
    json["earlier_runs"] = runs;
    auto parsed = api::JobOutcome::from_json(json);
    ASSERT_FALSE(parsed.ok()) << json.dump();
    EXPECT_NE(parsed.error().message.find("field 'earlier_runs'"), std::string::npos)
        << parsed.error().message;
  }
}

}  // namespace
}  // namespace canopy::server
