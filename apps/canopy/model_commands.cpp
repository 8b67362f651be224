#include <cstdio>
#include <memory>

#include "cli.h"
#include "client/registry_client.h"
#include "common/files.h"
#include "common/progress.h"

namespace canopy::cli {

namespace {

void print_version(const Json& v) {
  std::printf("model:      %s\n", v.value("model", "").c_str());
  std::printf("version:    %lld\n", static_cast<long long>(v.value("version", 0)));
  std::string aliases;
  for (const auto& a : v.value("aliases", Json::array()))
    aliases += (aliases.empty() ? "" : ", ") + a.get<std::string>();
  std::printf("aliases:    %s\n", aliases.empty() ? "-" : aliases.c_str());
  std::printf("size:       %s\n", format_bytes(v.value("size_bytes", 0ull)).c_str());
  std::printf("sha256:     %s\n", v.value("sha256", "").c_str());
  std::printf("signed by:  %s%s\n", v.value("signed_by", "").c_str(),
              v.value("server_signed", false) ? " (server)" : "");
  std::printf("uploaded:   %s by key %s\n", v.value("created_at", "").c_str(),
              v.value("uploaded_by", "").c_str());
  std::printf("metrics:    %s\n", summarize_json(v.value("metrics", Json::object())).c_str());
  std::printf("lineage:    %s\n", summarize_json(v.value("lineage", Json::object())).c_str());
}

struct ListArgs {
  std::string query, tag;
};
struct PullArgs {
  std::string reference, output;
};
struct AliasArgs {
  std::string name, alias;
  std::int64_t version = 0;
};
struct DeleteArgs {
  std::string name;
  std::int64_t version = 0;
};

// What people push instead of a package zip, and what to run first; a
// directory or a bare model would otherwise be "does not exist" or a 404.
Status check_pushable(const std::string& file) {
  std::error_code ec;
  const fs::path path = file;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path / "canopy.json", ec))
      return make_error(ErrorCode::kInvalidArgument,
                        file + " is a package directory; pack it first: canopy package create " + file +
                            " -o package.zip, then canopy model push package.zip");
    return make_error(ErrorCode::kInvalidArgument,
                      file + " is a directory, not a package; write its manifest with canopy package init " +
                          file +
                          " --model MODEL.onnx --name NAME --labels a,b,c, then canopy package create " +
                          file + " -o package.zip");
  }
  if (path.extension() == ".onnx")
    return make_error(
        ErrorCode::kInvalidArgument,
        file + " is a bare ONNX model; make it a package first: canopy package init DIR --model " + file +
            " --name NAME --labels a,b,c, then canopy package create DIR -o package.zip");
  if (!fs::exists(path, ec)) return make_error(ErrorCode::kNotFound, file + " does not exist");
  return {};
}

ProgressCallback progress_for(const std::string& label, const Globals& globals,
                              std::shared_ptr<ProgressReporter>& reporter) {
  reporter = std::make_shared<ProgressReporter>(label, 0);
  if (globals.quiet) reporter->silence();
  return [reporter](std::uint64_t done, std::uint64_t total) {
    reporter->set_total(total);
    reporter->update(done);
  };
}

}  // namespace

void register_model_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* model = app.add_subcommand("model", "Publish, list, show and download models in the registry");
  model->require_subcommand(1);

  auto push_file = std::make_shared<std::string>();
  auto* push = model->add_subcommand("push", "Upload a package; creates the next version of its model");
  push->add_option("FILE", *push_file, "package zip (from canopy package create)")->required();
  add_server_flags(push, globals);
  set_action(push, exit_code, [&globals, push_file]() -> Status {
    CANOPY_TRY(check_pushable(*push_file));
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    std::shared_ptr<ProgressReporter> reporter;
    auto progress = progress_for("uploading " + *push_file, globals, reporter);
    CANOPY_ASSIGN_OR_RETURN(Json version, client.push(*push_file, progress));
    reporter->finish();
    if (globals.json)
      print_json(version);
    else
      std::printf("%s %s version %lld (sha256 %s)\n",
                  version.value("created", false) ? "published" : "already published:",
                  version.value("model", "").c_str(), static_cast<long long>(version.value("version", 0)),
                  version.value("sha256", "").substr(0, 16).c_str());
    return {};
  });

  auto list_args = std::make_shared<ListArgs>();
  auto* list = model->add_subcommand("list", "List models");
  list->add_option("--query,-q", list_args->query, "only names containing this text");
  list->add_option("--tag", list_args->tag, "only models with a version carrying this tag");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals, list_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json models, client.list_models(list_args->query, list_args->tag));
    if (globals.json) {
      print_json(models);
      return {};
    }
    std::printf("%-32s %8s %8s  %-21s %s\n", "NAME", "VERSIONS", "LATEST", "UPDATED", "ALIASES");
    for (const auto& m : models["models"]) {
      std::string aliases;
      for (const auto& [alias, version] : m["aliases"].items())
        aliases += (aliases.empty() ? "" : " ") + alias + "=" + version.dump();
      std::printf("%-32s %8lld %8lld  %-21s %s\n", m.value("name", "").c_str(),
                  static_cast<long long>(m.value("versions", 0)),
                  static_cast<long long>(m.value("latest_version", 0)), m.value("updated_at", "").c_str(),
                  aliases.c_str());
    }
    return {};
  });

  auto show_ref = std::make_shared<std::string>();
  auto* show = model->add_subcommand("show", "Show a model version: NAME, NAME:VERSION or NAME@ALIAS");
  show->add_option("REF", *show_ref, "model reference")->required();
  add_server_flags(show, globals);
  set_action(show, exit_code, [&globals, show_ref]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(auto ref, api::ModelSelector::parse(*show_ref));
    CANOPY_ASSIGN_OR_RETURN(Json version, client.show_version(ref));
    if (globals.json)
      print_json(version);
    else
      print_version(version);
    return {};
  });

  auto pull_args = std::make_shared<PullArgs>();
  auto* pull = model->add_subcommand("pull", "Download a package (resumes an interrupted download)");
  pull->add_option("REF", pull_args->reference, "NAME, NAME:VERSION or NAME@ALIAS")->required();
  pull->add_option("-o,--out,--output", pull_args->output, "file to write (default NAME-vVERSION.zip)");
  add_server_flags(pull, globals);
  set_action(pull, exit_code, [&globals, pull_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(auto ref, api::ModelSelector::parse(pull_args->reference));
    std::string output = pull_args->output;
    if (output.empty()) {
      CANOPY_ASSIGN_OR_RETURN(Json version, client.show_version(ref));
      output = ref.name + "-v" + std::to_string(version.value("version", 0)) + ".zip";
    }
    std::shared_ptr<ProgressReporter> reporter;
    auto progress = progress_for("downloading " + output, globals, reporter);
    CANOPY_ASSIGN_OR_RETURN(Json version, client.pull(ref, output, progress));
    reporter->finish();
    if (globals.json)
      print_json(version);
    else
      std::printf("%s:%lld -> %s\n", ref.name.c_str(), static_cast<long long>(version.value("version", 0)),
                  output.c_str());
    return {};
  });

  auto* alias = model->add_subcommand("alias", "Manage aliases (movable names such as production)");
  alias->require_subcommand(1);
  auto alias_args = std::make_shared<AliasArgs>();
  auto* alias_set = alias->add_subcommand("set", "Point ALIAS at VERSION of NAME");
  alias_set->add_option("NAME", alias_args->name, "model name")->required();
  alias_set->add_option("VERSION", alias_args->version, "version number")->required();
  alias_set->add_option("ALIAS", alias_args->alias, "alias, e.g. production")->required();
  add_server_flags(alias_set, globals);
  set_action(alias_set, exit_code, [&globals, alias_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json result,
                            client.set_alias(alias_args->name, alias_args->alias, alias_args->version));
    if (globals.json)
      print_json(result);
    else
      std::printf("%s@%s -> version %lld\n", alias_args->name.c_str(), alias_args->alias.c_str(),
                  static_cast<long long>(alias_args->version));
    return {};
  });

  auto alias_remove_args = std::make_shared<AliasArgs>();
  auto* alias_remove =
      alias->add_subcommand("rm", "Remove ALIAS from NAME (the version stays); also 'alias delete'");
  alias_remove->alias("delete");
  alias_remove->add_option("NAME", alias_remove_args->name, "model name")->required();
  alias_remove->add_option("ALIAS", alias_remove_args->alias, "alias, e.g. staging")->required();
  add_server_flags(alias_remove, globals);
  set_action(alias_remove, exit_code, [&globals, alias_remove_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json result,
                            client.remove_alias(alias_remove_args->name, alias_remove_args->alias));
    if (globals.json)
      print_json(result);
    else
      std::printf("removed %s@%s\n", alias_remove_args->name.c_str(), alias_remove_args->alias.c_str());
    return {};
  });

  auto delete_args = std::make_shared<DeleteArgs>();
  auto* remove = model->add_subcommand("delete", "Delete a version no alias refers to (admin only)");
  remove->add_option("NAME", delete_args->name, "model name")->required();
  remove->add_option("VERSION", delete_args->version, "version number")->required();
  add_server_flags(remove, globals);
  set_action(remove, exit_code, [&globals, delete_args]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json result, client.delete_version(delete_args->name, delete_args->version));
    if (globals.json)
      print_json(result);
    else
      std::printf("deleted %s:%lld\n", delete_args->name.c_str(),
                  static_cast<long long>(delete_args->version));
    return {};
  });
}

}  // namespace canopy::cli
