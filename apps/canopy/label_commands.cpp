// canopy label stats / auto, and canopy user add / list / remove: the
// labeling queue seen from the command line (docs/labeling.md), the
// simulation's oracle labeler, and the accounts people sign in to the web
// pages with.
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli.h"
#include "cli_support.h"
#include "common/files.h"
#include "common/progress.h"
#include "sim/label_oracle.h"

namespace canopy::cli {

namespace {

void print_stats(const api::LabelingStats& stats) {
  std::printf("tasks    ");
  for (const auto& [state, count] : stats.by_state)
    std::printf(" %s %lld", state.c_str(), static_cast<long long>(count));
  std::printf("\nboxes    ");
  for (const auto& [label, count] : stats.boxes_by_class)
    std::printf(" %s %lld", label.c_str(), static_cast<long long>(count));
  std::printf("\nmedian time per task %.1f s\n\n", static_cast<double>(stats.median_spent_ms) / 1000);
  std::printf("%-28s %-14s %8s %8s %8s %s\n", "MODEL", "FIELD", "SAMPLES", "PRECISION", "RECALL",
              "KEPT/MOVED/RELABELED/DELETED/ADDED");
  for (const api::ModelAccuracy& a : stats.accuracy) {
    const api::Corrections& c = a.corrections;
    std::printf("%-28s %-14s %8lld %8.2f %8.2f %lld/%lld/%lld/%lld/%lld\n",
                a.model.empty() ? "-" : a.model.c_str(), a.field.empty() ? "-" : a.field.c_str(),
                static_cast<long long>(a.samples), a.precision(), a.recall(),
                static_cast<long long>(c.accepted), static_cast<long long>(c.moved),
                static_cast<long long>(c.relabeled), static_cast<long long>(c.deleted),
                static_cast<long long>(c.added));
  }
}

struct OracleArgs {
  std::string sim_dir;
  double error_rate = 0;
  unsigned seed = 1;
  int limit = 0;
  api::TaskFilter filter;
};

// Takes tasks until none is left (or `limit`), labels each with the truth,
// and adds up how the truth differed from the model's proposal.
Status run_oracle(const Globals& globals, const OracleArgs& args) {
  CANOPY_ASSIGN_OR_RETURN(sim::LabelOracle oracle,
                          sim::LabelOracle::load(args.sim_dir, args.error_rate, args.seed));
  CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
  std::int64_t labeled = 0, without_truth = 0;
  api::Corrections changed;
  // The queue's length is not known ahead: a count and a rate.
  ProgressReporter progress("labeling from the truth", 0, false);
  if (globals.json || globals.quiet) progress.silence();
  while (args.limit == 0 || labeled + without_truth < args.limit) {
    CANOPY_ASSIGN_OR_RETURN(std::optional<api::LabelTask> task, client.next_task(args.filter));
    if (!task) break;
    const auto truth = oracle.label(task->sample);
    if (!truth) {
      // Not a frame of this simulation: leave it to a person.
      CANOPY_TRY(client.skip_task(task->sample_id));
      ++without_truth;
      continue;
    }
    api::LabelSubmission submission;
    submission.boxes = *truth;
    CANOPY_TRY(client.submit_labels(task->sample_id, submission));
    CANOPY_ASSIGN_OR_RETURN(std::vector<api::LabelRevision> revisions,
                            client.task_revisions(task->sample_id));
    if (!revisions.empty()) changed += revisions.back().corrections;
    ++labeled;
    progress.update(static_cast<std::uint64_t>(labeled));
  }
  progress.finish();
  const std::int64_t boxes_changed = changed.moved + changed.relabeled + changed.deleted + changed.added;
  if (globals.json) {
    print_json({{"labeled", labeled},
                {"skipped_without_truth", without_truth},
                {"boxes_changed", boxes_changed},
                {"corrections", changed.to_json()}});
    return {};
  }
  std::printf(
      "labeled %lld sample(s) from the simulation's ground truth (%lld without a matching frame skipped)\n",
      static_cast<long long>(labeled), static_cast<long long>(without_truth));
  std::printf(
      "boxes changed from the model's proposal: %lld (kept %lld, moved %lld, relabeled %lld, deleted %lld, "
      "added %lld)\n",
      static_cast<long long>(boxes_changed), static_cast<long long>(changed.accepted),
      static_cast<long long>(changed.moved), static_cast<long long>(changed.relabeled),
      static_cast<long long>(changed.deleted), static_cast<long long>(changed.added));
  return {};
}

// A password from a file's first line, or from standard input's.
Result<std::string> read_password(const std::string& file) {
  std::string line;
  if (file.empty() || file == "-") {
    std::getline(std::cin, line);
  } else {
    CANOPY_ASSIGN_OR_RETURN(std::string text, read_file(file));
    line = text.substr(0, text.find('\n'));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    return make_error(ErrorCode::kInvalidArgument, "no password given (its first line was empty)");
  return line;
}

void register_user_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* user =
      app.add_subcommand("user", "People's accounts for the web pages: add, list and remove them (admin)");
  user->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  auto password_file = std::make_shared<std::string>();
  auto* add =
      user->add_subcommand("add", "Add a user; the password is read from --password-file or standard input");
  add->add_option("NAME", *name, "user name: 1-64 letters, digits, '.', '_' or '-'")->required();
  add->add_option("--role", *role, "reader, labeler, publisher, operator or admin")
      ->required()
      ->check(CLI::IsMember({"reader", "labeler", "publisher", "operator", "admin"}));
  add->add_option("--password-file", *password_file,
                  "file whose first line is the password (default: standard input)");
  add_server_flags(add, globals);
  set_action(add, exit_code, [&globals, name, role, password_file]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(std::string password, read_password(*password_file));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json added, client.add_user(*name, *role, password));
    if (globals.json)
      print_json(added);
    else
      std::printf("added user %s (%s)\n", name->c_str(), role->c_str());
    return {};
  });

  auto* list = user->add_subcommand("list", "List users and their roles");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json users, client.list_users());
    if (globals.json) {
      print_json(users);
      return {};
    }
    std::printf("%-24s %-10s %s\n", "NAME", "ROLE", "CREATED");
    for (const Json& u : users.value("users", Json::array()))
      std::printf("%-24s %-10s %s\n", u.value("name", "").c_str(), u.value("role", "").c_str(),
                  u.value("created_at", "").c_str());
    return {};
  });

  auto changed = std::make_shared<std::string>();
  auto new_role = std::make_shared<std::string>();
  auto new_password_file = std::make_shared<std::string>();
  auto change_password = std::make_shared<bool>(false);
  auto* set = user->add_subcommand("set", "Change a user's role or password; their sessions end");
  set->add_option("NAME", *changed, "user name")->required();
  set->add_option("--role", *new_role, "reader, labeler, publisher, operator or admin")
      ->check(CLI::IsMember({"reader", "labeler", "publisher", "operator", "admin"}));
  set->add_flag("--password", *change_password, "read a new password from --password-file or standard input");
  set->add_option("--password-file", *new_password_file, "file whose first line is the new password");
  add_server_flags(set, globals);
  set_action(set, exit_code, [&globals, changed, new_role, new_password_file, change_password]() -> Status {
    std::string password;
    if (*change_password || !new_password_file->empty()) {
      CANOPY_ASSIGN_OR_RETURN(password, read_password(*new_password_file));
    }
    if (new_role->empty() && password.empty())
      return make_error(ErrorCode::kInvalidArgument, "give --role, --password or both");
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json updated, client.update_user(*changed, *new_role, password));
    if (globals.json)
      print_json(updated);
    else
      std::printf("changed user %s; their sessions have ended\n", changed->c_str());
    return {};
  });

  auto removed_name = std::make_shared<std::string>();
  auto* remove = user->add_subcommand("remove", "Remove a user; their sessions end at once");
  remove->add_option("NAME", *removed_name, "user name")->required();
  add_server_flags(remove, globals);
  set_action(remove, exit_code, [&globals, removed_name]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(Json removed, client.remove_user(*removed_name));
    if (globals.json)
      print_json(removed);
    else
      std::printf("removed user %s\n", removed_name->c_str());
    return {};
  });
}

}  // namespace

void register_label_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* label = app.add_subcommand(
      "label", "The labeling queue: its statistics and, for simulations, an oracle labeler");
  label->require_subcommand(1);

  auto* stats = label->add_subcommand(
      "stats",
      "Tasks by state, boxes by class, and each model's live accuracy from the labelers' corrections");
  add_server_flags(stats, globals);
  set_action(stats, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_fleet(globals));
    CANOPY_ASSIGN_OR_RETURN(api::LabelingStats s, client.labeling_stats());
    if (globals.json)
      print_json(s.to_json());
    else
      print_stats(s);
    return {};
  });

  auto args = std::make_shared<OracleArgs>();
  auto* automatic = label->add_subcommand(
      "auto",
      "SIMULATION ONLY: label the queue's tasks with the world simulator's ground truth, as a careful person "
      "would, and count the boxes changed");
  automatic->add_option("--oracle", args->sim_dir, "the simulation directory (canopy sim --world --dir DIR)")
      ->required();
  automatic
      ->add_option("--error-rate", args->error_rate,
                   "share of boxes the oracle gets wrong (missed or mislabeled)")
      ->check(CLI::Range(0.0, 1.0));
  automatic->add_option("--seed", args->seed, "seed of the oracle's mistakes");
  automatic
      ->add_option("--limit", args->limit,
                   "label at most this many tasks (default: until the queue is empty)")
      ->check(CLI::NonNegativeNumber);
  automatic->add_option("--field", args->filter.field, "only tasks of this field");
  automatic->add_option("--strategy", args->filter.strategy, "only tasks this selection strategy picked");
  add_server_flags(automatic, globals);
  set_action(automatic, exit_code, [&globals, args]() -> Status { return run_oracle(globals, *args); });

  register_user_commands(app, globals, exit_code);
}

}  // namespace canopy::cli
