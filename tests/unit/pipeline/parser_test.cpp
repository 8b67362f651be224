// pipeline.yaml parsing, parameters, gates and redaction: the format MLOps
// platforms use parses as is, and every mistake is reported with its place.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "pipeline/gates.h"
#include "pipeline/parameters.h"
#include "pipeline/pipeline.h"
#include "pipeline/redact.h"
#include "pipeline/runner.h"
#include "test_support.h"

namespace canopy::pipeline {
namespace {

// The format from the issue, verbatim.
const char* kValohaiFormat = R"(- step:
    name: preprocess-data
    image: python:3.9
    command:
    - python preprocess.py --input /data/crops --output /data/processed
- step:
    name: deploy-model
    image: python:3.9
    command:
    - zip -r /tmp/model.zip /models/crop-disease-detector
    - curl -H "X-API-KEY:$API_KEY" -T /tmp/model.zip "$MODEL_REPOSITORY/model.zip"
    environment-variables:
    - name: API_KEY
      optional: false
    - name: MODEL_REPOSITORY
      optional: false
)";

Error parse_error(const std::string& text) {
  auto parsed = parse_pipeline(text, "pipeline.yaml");
  EXPECT_FALSE(parsed.ok()) << "expected a parse error for:\n" << text;
  return parsed.ok() ? Error{} : parsed.error();
}

TEST(PipelineParser, TheStepFormatParsesAsIs) {
  auto parsed = parse_pipeline(kValohaiFormat, "pipeline.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->steps.size(), 2u);
  const Step& preprocess = parsed->steps[0];
  EXPECT_EQ(preprocess.name, "preprocess-data");
  EXPECT_EQ(preprocess.image, "python:3.9");
  ASSERT_EQ(preprocess.commands.size(), 1u);
  EXPECT_TRUE(preprocess.depends.empty());
  const Step& deploy = parsed->steps[1];
  ASSERT_EQ(deploy.commands.size(), 2u);
  EXPECT_EQ(deploy.commands[1],
            R"(curl -H "X-API-KEY:$API_KEY" -T /tmp/model.zip "$MODEL_REPOSITORY/model.zip")");
  EXPECT_EQ(deploy.depends, std::vector<std::string>{"preprocess-data"})
      << "default: after the previous step";
  ASSERT_EQ(deploy.environment.size(), 2u);
  EXPECT_EQ(deploy.environment[0].name, "API_KEY");
  EXPECT_FALSE(deploy.environment[0].optional);
  EXPECT_TRUE(deploy.environment[0].secret) << "a name with KEY is a secret";
  EXPECT_FALSE(deploy.environment[1].secret);
  EXPECT_EQ(deploy.environment[1].location.line, 15);
  EXPECT_EQ(parsed->file_sha256.size(), 64u);
}

TEST(PipelineParser, CommandMayBeOneString) {
  auto parsed = parse_pipeline("- step:\n    name: a\n    command: echo hi\n", "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->steps[0].commands, std::vector<std::string>{"echo hi"});
}

TEST(PipelineParser, UnknownKeysAreErrorsWithLineAndColumn) {
  Error error = parse_error("- step:\n    name: a\n    image: x\n    comand: echo hi\n");
  EXPECT_NE(error.message.find("pipeline.yaml:4:5:"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("unknown key 'comand'"), std::string::npos) << error.message;

  error = parse_error(
      "- step:\n    name: a\n    command: x\n    environment-variables:\n    - name: X\n      optinal: "
      "true\n");
  EXPECT_NE(error.message.find("pipeline.yaml:6:7:"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("'optinal'"), std::string::npos) << error.message;

  error = parse_error("- stpe:\n    name: a\n");
  EXPECT_NE(error.message.find("pipeline.yaml:1:3:"), std::string::npos) << error.message;
}

TEST(PipelineParser, WrongTypesAreErrors) {
  struct Case {
    std::string yaml, expected;
  } cases[] = {
      {"- step:\n    name: a\n    command: x\n    retries: many\n",
       "pipeline.yaml:4:14: 'retries' of step 'a' must be a whole number"},
      {"- step:\n    name: a\n    command: x\n    timeout: soon\n", "pipeline.yaml:4:14:"},
      {"- step:\n    name: a\n    command: x\n    environment-variables:\n    - name: X\n      optional: "
       "maybe\n",
       "must be true or false"},
      {"- step:\n    name: a\n    command: x\n    parameters:\n    - name: n\n      type: number\n",
       "pipeline.yaml:6:13:"},
      {"- step:\n    name: a\n    command: x\n    parameters:\n    - name: n\n      type: integer\n      "
       "default: 2.5\n",
       "not an integer"},
      {"- step:\n    name: a\n    command: x\n    parameters:\n    - name: n\n      type: integer\n      "
       "default: 50\n      max: 10\n",
       "above the maximum 10"},
      {"- step:\n    name: a\n    command: x\n    parameters:\n    - name: n\n      pass-as: --n\n",
       "must contain {v}"},
      {"- step:\n    name: a\n    command:\n      x: y\n",
       "'command' of step 'a' must be a string or a list"},
      {"- step:\n    name: a b\n    command: x\n", "may hold only letters"},
      {"- step:\n    name: a\n", "has no 'command'"},
      {"- step:\n    name: a\n    command: x\n- step:\n    name: a\n    command: y\n",
       "two steps are named 'a'"},
      {"step: {name: a, command: x}\n", "a list of '- step:'"},
      {"- step:\n    name: [a\n", "pipeline.yaml:"},
  };
  for (const auto& c : cases) {
    Error error = parse_error(c.yaml);
    EXPECT_NE(error.message.find(c.expected), std::string::npos) << "got: " << error.message << "\nfor:\n"
                                                                 << c.yaml;
  }
}

TEST(PipelineParser, DependsFormADagOrFail) {
  const char* dag = R"(- step: {name: a, command: x}
- step: {name: b, command: x, depends: []}
- step: {name: c, command: x, depends: [a, b]}
- step: {name: d, command: x}
)";
  auto parsed = parse_pipeline(dag, "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->find_step("b")->depends.empty());
  EXPECT_EQ(parsed->find_step("d")->depends, std::vector<std::string>{"c"});
  EXPECT_EQ(parsed->topological_order(), (std::vector<std::string>{"a", "b", "c", "d"}));

  Error unknown =
      parse_error("- step: {name: a, command: x}\n- step: {name: b, command: x, depends: [nope]}\n");
  EXPECT_NE(unknown.message.find("depends on 'nope'"), std::string::npos) << unknown.message;
  EXPECT_NE(unknown.message.find("pipeline.yaml:2:"), std::string::npos) << unknown.message;

  Error cycle = parse_error(R"(- step: {name: a, command: x, depends: [c]}
- step: {name: b, command: x, depends: [a]}
- step: {name: c, command: x, depends: [b]}
)");
  EXPECT_NE(cycle.message.find("cycle: a -> c -> b -> a"), std::string::npos) << cycle.message;
  Error self = parse_error("- step: {name: a, command: x, depends: a}\n");
  EXPECT_NE(self.message.find("depends on itself"), std::string::npos) << self.message;
}

TEST(PipelineParser, GatesParse) {
  const char* text = R"(- step:
    name: evaluate
    command: x
    metrics: eval/metrics.json
    parameters:
    - name: min_map50
      type: float
      default: 0.5
- gate: evaluate.map50 >= 0.85
- gate: evaluate.map50 >= registry:crop-disease-detector@production.metrics.map50
- gate: "evaluate.map50 > {min_map50}"
- gate: evaluate.loss < evaluate.loss_limit
)";
  auto parsed = parse_pipeline(text, "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->gates.size(), 4u);
  EXPECT_EQ(parsed->gates[0].kind, Gate::Kind::kNumber);
  EXPECT_EQ(parsed->gates[0].number, 0.85);
  EXPECT_EQ(parsed->gates[0].comparison, Comparison::kGreaterEqual);
  EXPECT_EQ(parsed->gates[1].kind, Gate::Kind::kRegistry);
  EXPECT_EQ(parsed->gates[1].model, "crop-disease-detector");
  EXPECT_EQ(parsed->gates[1].alias, "production");
  EXPECT_EQ(parsed->gates[1].path, "metrics.map50");
  EXPECT_EQ(parsed->gates[2].kind, Gate::Kind::kParameter);
  EXPECT_EQ(parsed->gates[2].comparison, Comparison::kGreater);
  EXPECT_EQ(parsed->gates[3].kind, Gate::Kind::kStepMetric);
  EXPECT_EQ(parsed->gates[3].other_metric, "loss_limit");

  Error bad = parse_error("- step: {name: e, command: x, metrics: m.json}\n- gate: e.map50 is high\n");
  EXPECT_NE(bad.message.find("pipeline.yaml:2:9: gate"), std::string::npos) << bad.message;
  Error no_step = parse_error("- step: {name: e, command: x, metrics: m.json}\n- gate: f.map50 > 1\n");
  EXPECT_NE(no_step.message.find("reads step 'f', which does not exist"), std::string::npos)
      << no_step.message;
  Error no_metrics = parse_error("- step: {name: e, command: x}\n- gate: e.map50 > 1\n");
  EXPECT_NE(no_metrics.message.find("declares no 'metrics'"), std::string::npos) << no_metrics.message;
}

TEST(PipelineParameters, SubstitutionAndPassAs) {
  auto parsed = parse_pipeline(R"(- step:
    name: train
    command: x
    parameters:
    - {name: epochs, type: integer, default: 10, min: 1}
    - {name: lr, type: float, default: 0.01, pass-as: "--learning-rate {v}"}
    - {name: note, type: string, default: "two words"}
    - {name: augment, type: flag, default: true}
    - {name: verbose, type: flag}
)",
                               "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto values = resolve_parameters(*parsed, {"epochs=3"}, {"train"});
  ASSERT_TRUE(values.ok()) << values.error().message;
  const Step& step = parsed->steps[0];
  const ParameterValues& v = values->at("train");
  EXPECT_EQ(render_command("t --epochs {epochs} --n {parameter:note} in {workspace}", step, v, "/w s"),
            "t --epochs 3 --n 'two words' in '/w s'");
  EXPECT_EQ(render_command("t {parameters}", step, v, "/w"),
            "t --epochs=3 --learning-rate 0.01 --note='two words' --augment");
  EXPECT_EQ(render_command("echo ${epochs} {unknown} | awk '{print $1}'", step, v, "/w"),
            "echo ${epochs} {unknown} | awk '{print $1}'")
      << "shell expansions and unknown braces stay as written";
  EXPECT_EQ(render_path("{workspace}/runs-{epochs}", step, v, "/w s"), "/w s/runs-3");
  EXPECT_EQ(parameter_environment(step, v).at("PARAM_EPOCHS"), "3");

  EXPECT_FALSE(resolve_parameters(*parsed, {"epochs=0"}, {"train"}).ok()) << "below min";
  EXPECT_FALSE(resolve_parameters(*parsed, {"epochs=ten"}, {"train"}).ok());
  EXPECT_FALSE(resolve_parameters(*parsed, {"augment=maybe"}, {"train"}).ok());
  auto unknown = resolve_parameters(*parsed, {"batch=8"}, {"train"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("no step of the pipeline has a parameter 'batch'"),
            std::string::npos);
}

TEST(PipelineParameters, MissingValueNamesTheStep) {
  auto parsed = parse_pipeline(
      "- step:\n    name: train\n    command: x\n    parameters:\n    - name: data\n", "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto values = resolve_parameters(*parsed, {}, {"train"});
  ASSERT_FALSE(values.ok());
  EXPECT_NE(values.error().message.find("parameter 'data' of step 'train' has no default"),
            std::string::npos);
  EXPECT_TRUE(resolve_parameters(*parsed, {}, {}).ok()) << "a step that does not run needs no value";
}

TEST(PipelineGates, EvaluateAgainstNumbersParametersAndTheRegistry) {
  auto parsed = parse_pipeline(R"(- step:
    name: evaluate
    command: x
    metrics: m.json
    parameters: [{name: floor, type: float, default: 0.5}]
- gate: evaluate.map50 >= 0.6
- gate: "evaluate.map50 >= {floor}"
- gate: evaluate.map50 >= registry:crop@production.metrics.map50
)",
                               "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const std::map<std::string, Json> metrics = {
      {"evaluate", flatten_metrics(Json::parse(
                       R"({"map50": 0.55, "per_class": {"healthy": {"ap50": 0.7}}, "curve": [1, 2]})"))}};
  EXPECT_EQ(metrics.at("evaluate").at("per_class.healthy.ap50"), 0.7);
  EXPECT_FALSE(metrics.at("evaluate").contains("curve"));
  auto values = resolve_parameters(*parsed, {}, {"evaluate"});
  ASSERT_TRUE(values.ok());

  GateResult fixed = evaluate_gate(parsed->gates[0], metrics, *values, {});
  EXPECT_FALSE(fixed.passed);
  EXPECT_NE(fixed.message.find("evaluate.map50 = 0.55 is not >= 0.6"), std::string::npos) << fixed.message;
  EXPECT_TRUE(evaluate_gate(parsed->gates[1], metrics, *values, {}).passed);

  int lookups = 0;
  RegistryLookup absent = [&](const std::string& model,
                              const std::string& alias) -> Result<std::optional<Json>> {
    ++lookups;
    EXPECT_EQ(model, "crop");
    EXPECT_EQ(alias, "production");
    return std::optional<Json>();
  };
  GateResult first = evaluate_gate(parsed->gates[2], metrics, *values, absent);
  EXPECT_TRUE(first.passed);
  EXPECT_NE(first.message.find("has no crop@production yet"), std::string::npos) << first.message;
  RegistryLookup better = [](const std::string&, const std::string&) -> Result<std::optional<Json>> {
    return std::optional<Json>(Json{{"version", 4}, {"metrics", {{"map50", 0.61}}}});
  };
  GateResult worse = evaluate_gate(parsed->gates[2], metrics, *values, better);
  EXPECT_FALSE(worse.passed);
  EXPECT_NE(worse.message.find("version 4"), std::string::npos) << worse.message;
  EXPECT_EQ(lookups, 1);
  EXPECT_FALSE(evaluate_gate(parsed->gates[2], metrics, *values, {}).passed) << "no registry configured";

  RegistryLookup without_metrics = [](const std::string&, const std::string&) -> Result<std::optional<Json>> {
    return std::optional<Json>(Json{{"version", 1}, {"metrics", Json::object()}});
  };
  GateResult skipped = evaluate_gate(parsed->gates[2], metrics, *values, without_metrics);
  EXPECT_TRUE(skipped.passed) << skipped.message;
  EXPECT_NE(skipped.message.find("crop@production (version 1) has no 'metrics.map50'"), std::string::npos)
      << skipped.message;
  EXPECT_NE(skipped.message.find("skipped the comparison"), std::string::npos) << skipped.message;
  RegistryLookup not_a_number = [](const std::string&, const std::string&) -> Result<std::optional<Json>> {
    return std::optional<Json>(Json{{"version", 1}, {"metrics", {{"map50", "high"}}}});
  };
  EXPECT_FALSE(evaluate_gate(parsed->gates[2], metrics, *values, not_a_number).passed)
      << "a value that is there but not a number is an error, not a skip";
}

TEST(PipelineGates, AMarginMovesTheRightSide) {
  auto parsed = parse_pipeline(R"(- step:
    name: challenger
    command: x
    metrics: c.json
    parameters: [{name: min_gain, type: float, default: 0.05}, {name: label, type: string, default: x}]
- step: {name: production, command: x, metrics: p.json}
- gate: "challenger.map50 >= production.map50 + {min_gain}"
- gate: challenger.original >= production.original - 0.01
- gate: "challenger.original >= production.original - {min_gain}"
- gate: challenger.map50 >= 0.5 + 0.2
- gate: "challenger.map50 >= 0 + {label}"
)",
                               "p.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->gates[0].margin_parameter, "min_gain");
  EXPECT_EQ(parsed->gates[1].margin, -0.01);
  const std::map<std::string, Json> metrics = {{"challenger", Json{{"map50", 0.62}, {"original", 0.795}}},
                                               {"production", Json{{"map50", 0.6}, {"original", 0.8}}}};
  auto values = resolve_parameters(*parsed, {}, {"challenger", "production"});
  ASSERT_TRUE(values.ok());
  GateResult small_gain = evaluate_gate(parsed->gates[0], metrics, *values, {});
  EXPECT_FALSE(small_gain.passed) << "0.62 is better than 0.6, but not by 0.05";
  EXPECT_NE(small_gain.message.find("production.map50 = 0.6 + {min_gain} = 0.05"), std::string::npos)
      << small_gain.message;
  auto lenient = resolve_parameters(*parsed, {"min_gain=0.01"}, {"challenger", "production"});
  EXPECT_TRUE(evaluate_gate(parsed->gates[0], metrics, *lenient, {}).passed);
  GateResult tolerated = evaluate_gate(parsed->gates[1], metrics, *values, {});
  EXPECT_TRUE(tolerated.passed) << tolerated.message;
  EXPECT_NE(tolerated.message.find("- 0.01"), std::string::npos) << tolerated.message;
  EXPECT_FALSE(evaluate_gate(parsed->gates[3], metrics, *values, {}).passed);
  GateResult minus = evaluate_gate(parsed->gates[2], metrics, *values, {});
  EXPECT_TRUE(minus.passed) << "0.795 >= 0.8 - 0.05";
  EXPECT_NE(minus.message.find("production.original = 0.8 - {min_gain} = 0.05"), std::string::npos)
      << minus.message;
  GateResult not_a_number = evaluate_gate(parsed->gates[4], metrics, *values, {});
  EXPECT_FALSE(not_a_number.passed);
  EXPECT_EQ(not_a_number.message, "parameter 'label' = 'x' is not a number");

  Error bad =
      parse_error("- step: {name: e, command: x, metrics: m.json}\n- gate: \"e.map50 >= 0.5 - high\"\n");
  EXPECT_NE(bad.message.find("must be a number or {PARAMETER}"), std::string::npos) << bad.message;
  Error unknown =
      parse_error("- step: {name: e, command: x, metrics: m.json}\n- gate: \"e.map50 >= 0.5 + {gain}\"\n");
  EXPECT_NE(unknown.message.find("uses {gain}, but step 'e' has no such parameter"), std::string::npos)
      << unknown.message;
}

TEST(PipelineRedactor, MasksSecretsAndTheirJsonForm) {
  EXPECT_TRUE(looks_secret("API_KEY"));
  EXPECT_TRUE(looks_secret("github_token"));
  EXPECT_TRUE(looks_secret("DB_PASSWORD"));
  EXPECT_FALSE(looks_secret("MODEL_REPOSITORY"));
  Redactor redactor;
  redactor.add("abc");  // too short to be worth masking
  redactor.add("s3cr3t\"value");
  redactor.add("s3cr3t");
  EXPECT_EQ(redactor.redact("a s3cr3t\"value and s3cr3t abc"), "a *** and *** abc");
  EXPECT_EQ(redactor.redact(Json("s3cr3t\"value").dump()), "\"***\"");
}

TEST(PipelineRunner, MissingRequiredVariableFailsBeforeAnyStep) {
  testing::TempDir dir;
  const std::string yaml = std::string(R"(- step:
    name: preprocess-data
    image: python:3.9
    command:
    - touch )") + (dir / "ran").string() +
                           "\n" +
                           (std::string(kValohaiFormat)
                                .substr(std::string(kValohaiFormat).find("- step:\n    name: deploy-model")));
  testing::write_bytes(dir / "pipeline.yaml", yaml);
  ::unsetenv("API_KEY");
  ::setenv("MODEL_REPOSITORY", "http://127.0.0.1:1", 1);
  RunOptions options;
  options.pipeline_file = dir / "pipeline.yaml";
  std::FILE* sink = std::tmpfile();
  options.out = sink;
  auto outcome = run_pipeline(options);
  std::fclose(sink);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().message.find("step 'deploy-model' needs environment variable API_KEY"),
            std::string::npos)
      << outcome.error().message;
  EXPECT_NE(outcome.error().message.find("pipeline.yaml:13:7"), std::string::npos) << outcome.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "ran")) << "no step may start";
}

}  // namespace
}  // namespace canopy::pipeline
