#include <cstdio>
#include <memory>

#include "cli.h"
#include "client/registry_client.h"
#include "common/keys.h"

namespace canopy::cli {

void register_key_commands(CLI::App& app, Globals& globals, int& exit_code) {
  auto* keys = app.add_subcommand("keys", "Signing keys (local) and API keys (on the server)");
  keys->require_subcommand(1);

  auto* generate =
      keys->add_subcommand("generate", "Create an ed25519 signing key pair: PREFIX.key and PREFIX.pub");
  auto prefix = std::make_shared<std::string>("canopy-signing");
  generate->add_option("--out,-o", *prefix, "file name prefix");
  set_action(generate, exit_code, [prefix, &globals]() -> Status {
    KeyPair pair = KeyPair::generate();
    CANOPY_TRY(save_key_pair(pair, *prefix));
    if (globals.json) {
      print_json({{"key_id", pair.public_key.key_id()},
                  {"secret_key", *prefix + ".key"},
                  {"public_key", *prefix + ".pub"}});
    } else {
      std::printf("key %s written: %s.key (secret, keep it safe) and %s.pub (share it)\n",
                  pair.public_key.key_id().c_str(), prefix->c_str(), prefix->c_str());
    }
    return {};
  });

  auto* create = keys->add_subcommand("create", "Create an API key on the server (admin only)");
  auto role = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  create->add_option("--role", *role, "reader, labeler, publisher, operator or admin")->required();
  create->add_option("--name", *name, "a label for the key, e.g. ci-pipeline");
  auto expires_in = std::make_shared<std::int64_t>(0);
  create
      ->add_option("--expires-in", *expires_in,
                   "seconds until the key stops working (default: it works until revoked)")
      ->check(CLI::PositiveNumber);
  add_server_flags(create, globals);
  set_action(create, exit_code, [&globals, role, name, expires_in]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json key, client.create_key(*role, *name, *expires_in));
    if (globals.json) {
      print_json(key);
    } else {
      std::printf("%s\n", key.value("key", "").c_str());
      std::fprintf(stderr, "created %s key %s; it is shown only now\n", role->c_str(),
                   key.value("id", "").c_str());
    }
    return {};
  });

  auto* list = keys->add_subcommand("list", "List API keys (admin only)");
  add_server_flags(list, globals);
  set_action(list, exit_code, [&globals]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json keys_json, client.list_keys());
    if (globals.json) {
      print_json(keys_json);
      return {};
    }
    std::printf("%-14s %-10s %-8s %-21s %-30s %s\n", "ID", "ROLE", "REVOKED", "CREATED", "EXPIRES", "NAME");
    for (const auto& k : keys_json["keys"]) {
      const std::string expires =
          k["expires_at"].is_string()
              ? k["expires_at"].get<std::string>() + (k.value("expired", false) ? " (expired)" : "")
              : "never";
      std::printf("%-14s %-10s %-8s %-21s %-30s %s\n", k.value("id", "").c_str(), k.value("role", "").c_str(),
                  k.value("revoked", false) ? "yes" : "no", k.value("created_at", "").c_str(),
                  expires.c_str(), k.value("name", "").c_str());
    }
    return {};
  });

  auto* revoke = keys->add_subcommand("revoke", "Revoke an API key (admin only)");
  auto id = std::make_shared<std::string>();
  revoke->add_option("ID", *id, "key id from 'canopy keys list'")->required();
  add_server_flags(revoke, globals);
  set_action(revoke, exit_code, [&globals, id]() -> Status {
    CANOPY_ASSIGN_OR_RETURN(auto client, connect_to_registry(globals));
    CANOPY_ASSIGN_OR_RETURN(Json result, client.revoke_key(*id));
    if (globals.json)
      print_json(result);
    else
      std::printf("revoked %s\n", id->c_str());
    return {};
  });
}

}  // namespace canopy::cli
