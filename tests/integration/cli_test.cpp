// The command lines as a new user meets them: the real canopy, canopy-train
// and canopy-agent binaries, run with the mistakes people make, must answer
// with errors that say what to do.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "common/json.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::read_bytes;
using testing::run_shell;
using testing::TempDir;
namespace fs = std::filesystem;

fs::path source_dir() { return testing::examples_dir().parent_path(); }

// A loopback port nothing listens on now.
int free_port() {
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(sock, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(sock);
  return ntohs(address.sin_port);
}

// The first ```sh block after `heading` in `markdown`.
std::string shell_block_after(const std::string& markdown, const std::string& heading) {
  const size_t at = markdown.find(heading);
  if (at == std::string::npos) return "";
  const size_t open = markdown.find("```sh\n", at);
  const size_t close = markdown.find("\n```", open + 6);
  if (open == std::string::npos || close == std::string::npos) return "";
  return markdown.substr(open + 6, close - open - 6);
}

const std::string kConvModel =
    "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding/model.onnx";

std::string canopy() { return testing::canopy_binary().string(); }

class CliTest : public ::testing::Test {
 protected:
  testing::CommandResult run_in_work(const std::string& command) {
    return run_shell("cd " + work_.path().string() + " && " + command);
  }
  TempDir work_;
};

// The Conv model declares its input as 1x1x5x5.
TEST_F(CliTest, PackageInitChecksTheInputShapeAgainstTheModel) {
  ASSERT_TRUE(fs::exists(kConvModel)) << "libonnx-testdata is missing";
  const std::string init = canopy() + " package init ";
  const std::string model = " --model " + kConvModel + " --name conv --labels a,b";

  auto mismatch = run_in_work(init + "wrong" + model + " --input 1x3x320x320");
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.output;
  EXPECT_NE(mismatch.output.find("--input 1x3x320x320 does not match the model"), std::string::npos)
      << mismatch.output;
  EXPECT_NE(mismatch.output.find("declares input 'x' as 1x1x5x5"), std::string::npos) << mismatch.output;
  EXPECT_FALSE(fs::exists(work_ / "wrong")) << "a refused init leaves nothing behind";

  auto matching = run_in_work(init + "given" + model + " --input 1x1x5x5");
  ASSERT_EQ(matching.exit_code, 0) << matching.output;
  auto declared = run_in_work(init + "declared" + model);
  ASSERT_EQ(declared.exit_code, 0) << declared.output;
  for (const char* dir : {"given", "declared"}) {
    const Json manifest = Json::parse(read_bytes(work_ / dir / "canopy.json"));
    EXPECT_EQ(manifest["input"]["shape"], Json::array({1, 1, 5, 5})) << dir;
  }

  testing::write_bytes(work_ / "notes.onnx", "not a model");
  auto not_onnx = run_in_work(init + "notes --model notes.onnx --name notes --labels a");
  EXPECT_NE(not_onnx.exit_code, 0);
  EXPECT_NE(not_onnx.output.find("--model: "), std::string::npos) << not_onnx.output;
  EXPECT_NE(not_onnx.output.find("not a valid ONNX protobuf"), std::string::npos) << not_onnx.output;
}

TEST_F(CliTest, EveryProgramAnswersVersionAndItsHelpShowsDefaults) {
  for (const fs::path& program :
       {testing::canopy_binary(), testing::train_binary(), testing::agent_binary()}) {
    auto version = run_shell(program.string() + " --version");
    EXPECT_EQ(version.exit_code, 0) << program << ": " << version.output;
    EXPECT_NE(version.output.find(program.filename().string() + " 0."), std::string::npos) << version.output;
  }
  auto prune = run_shell(testing::train_binary().string() + " prune --help");
  EXPECT_NE(prune.output.find("--ratio FLOAT:FLOAT in [0.05 - 0.95]=0.5"), std::string::npos) << prune.output;
  EXPECT_NE(prune.output.find("--epochs INT:NONNEGATIVE=3"), std::string::npos) << prune.output;
  EXPECT_NE(prune.output.find("--threads INT=0"), std::string::npos) << "--threads as on train\n"
                                                                     << prune.output;
  auto bench = run_shell(canopy() + " bench infer --help");
  EXPECT_NE(bench.output.find("--runs INT=100"), std::string::npos) << bench.output;
  // --out is the output flag's name everywhere; --output stays accepted.
  for (const char* command : {"package create", "model pull", "keys generate", "dataset generate"}) {
    auto help = run_shell(canopy() + " " + command + " --help");
    EXPECT_NE(help.output.find("--out"), std::string::npos) << command << "\n" << help.output;
  }
}

TEST_F(CliTest, MistakesGetErrorsThatSayWhatToDo) {
  auto misspelled = run_shell(canopy() + " modle list");
  EXPECT_NE(misspelled.exit_code, 0);
  EXPECT_NE(misspelled.output.find(
                "'modle' is not a command of canopy; the commands are: server, publishing-key, keys, package, model"),
            std::string::npos)
      << misspelled.output;
  auto nested = run_shell(canopy() + " model lst");
  EXPECT_NE(nested.output.find("'lst' is not a command of canopy model; the commands are: push, list, show"),
            std::string::npos)
      << nested.output;
  auto missing = run_shell(canopy() + " model alias");
  EXPECT_NE(missing.output.find("canopy model alias needs a command: set, rm"), std::string::npos)
      << missing.output;
  auto agent = run_shell(testing::agent_binary().string() + " stauts");
  EXPECT_NE(agent.output.find("the commands are: run, status"), std::string::npos) << agent.output;

  for (const std::string& command :
       {canopy() + " dataset generate --out g --images many",
        testing::train_binary().string() + " train --data d --out o --epochs ten"}) {
    auto not_a_number = run_in_work(command);
    EXPECT_NE(not_a_number.exit_code, 0);
    EXPECT_NE(not_a_number.output.find("expected an integer, got '"), std::string::npos)
        << not_a_number.output;
    EXPECT_EQ(not_a_number.output.find("179769"), std::string::npos) << "no 300-digit limit\n"
                                                                     << not_a_number.output;
  }
  auto runs = run_in_work(canopy() + " bench infer model.onnx --runs lots");
  EXPECT_NE(runs.output.find("--runs: expected a number, got 'lots'"), std::string::npos) << runs.output;

  // model push of what is not yet a package says how to make one; no server is needed to say so.
  fs::create_directories(work_ / "models" / "plain");
  testing::write_bytes(work_ / "models" / "packaged" / "canopy.json", "{}");
  testing::write_bytes(work_ / "detector.onnx", "onnx");
  const std::string push = canopy() + " model push --server http://127.0.0.1:9 --api-key k ";
  auto plain = run_in_work(push + "models/plain");
  EXPECT_NE(plain.output.find("is a directory, not a package; write its manifest with canopy package init"),
            std::string::npos)
      << plain.output;
  auto packaged = run_in_work(push + "models/packaged");
  EXPECT_NE(
      packaged.output.find("is a package directory; pack it first: canopy package create models/packaged"),
      std::string::npos)
      << packaged.output;
  auto bare = run_in_work(push + "detector.onnx");
  EXPECT_NE(bare.output.find("is a bare ONNX model; make it a package first"), std::string::npos)
      << bare.output;
}

TEST_F(CliTest, DatasetGenerateEndsWithASummary) {
  auto generated = run_in_work(canopy() + " dataset generate --out field --images 4 --seed 5 -q");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  const std::regex summary(
      "generated 4 images with [0-9]+ boxes \\(healthy [0-9]+, diseased [0-9]+, "
      "water_stressed [0-9]+\\) in field\n");
  EXPECT_TRUE(std::regex_search(generated.output, summary)) << generated.output;
}

// README's tour, taken from README.md itself and run in order as one script
// against a fresh server, with smaller sizes and bounded waits. Each change
// the test makes must still find its text, so README cannot drift from it.
TEST_F(CliTest, TheReadmeTourRunsInOrderOnAFreshServer) {
  std::string tour = shell_block_after(read_bytes(source_dir() / "README.md"), "## A short tour");
  ASSERT_FALSE(tour.empty()) << "README.md has no tour";
  const std::string port = std::to_string(free_port());
  const std::vector<std::pair<std::string, std::string>> test_sizes = {
      {"--images 3000", "--images 24"},
      {"--images 500", "--images 8"},
      {"--out runs/baseline --epochs 8", "--out runs/baseline --epochs 1"},
      {"--ratio 0.5 --out runs/pruned", "--ratio 0.5 --epochs 1 --no-sensitivity --out runs/pruned"},
      {"127.0.0.1:8080 --trusted-key pipeline.pub &",
       "127.0.0.1:" + port + " --trusted-key pipeline.pub > server.log 2>&1 &"},
      {"CANOPY_SERVER=http://127.0.0.1:8080 CANOPY_API_KEY=$CANOPY_ADMIN_KEY",
       "CANOPY_SERVER=http://127.0.0.1:" + port +
           " CANOPY_API_KEY=$CANOPY_ADMIN_KEY\nuntil curl -sf $CANOPY_SERVER/api/v1/health; do sleep 0.1; "
           "done"},
      {"/tmp/model.zip", "upload.zip"},
      {"/tmp/model.zip", "upload.zip"},
      {"--tag crop=wheat &", "--tag crop=wheat --once"},
      {"canopy deploy status 1 --watch", "canopy deploy status 1"},
      {"canopy bench infer pulled.zip --threads 2",
       "canopy bench infer pulled.zip --threads 2 --runs 5 --warmup 1"},
      {"canopy sim --devices 20", "canopy sim --devices 3 --duration 4"},
      {"--offline 5-7:30:90", "--offline 2-2:1:3"},
  };
  for (const auto& [from, to] : test_sizes) {
    const size_t at = tour.find(from);
    ASSERT_NE(at, std::string::npos) << "README's tour no longer has '" << from
                                     << "'; update this test with it";
    tour.replace(at, from.size(), to);
  }
  // A checkout's examples, in a folder of the test's own.
  fs::copy(testing::examples_dir(), work_ / "examples", fs::copy_options::recursive);
  testing::write_bytes(work_ / "tour.sh",
                       "set -euxo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + tour);
  const std::string path = testing::canopy_binary().parent_path().string() + ":" +
                           testing::train_binary().parent_path().string() + ":" +
                           testing::agent_binary().parent_path().string() + ":$PATH";
  auto ran = run_in_work("env -u CANOPY_SERVER -u CANOPY_API_KEY PATH=" + path + " bash tour.sh");
  ASSERT_EQ(ran.exit_code, 0) << ran.output << "\nserver log:\n" << read_bytes(work_ / "server.log");
  EXPECT_NE(ran.output.find("published crop-disease-detector version 1"), std::string::npos) << ran.output;
  EXPECT_NE(ran.output.find("\"created\": false"), std::string::npos)
      << "the curl upload is version 1 again\n"
      << ran.output;
  EXPECT_NE(ran.output.find("crop-disease-detector@production -> version 1"), std::string::npos)
      << ran.output;
}

// A command line written in the documentation: the program, the words
// before the first flag (its subcommands, then perhaps positionals), and the
// flags it uses.
struct DocumentedCommand {
  std::string where;  // FILE:LINE
  std::string program;
  std::vector<std::string> words;
  std::vector<std::string> flags;
};

// Every canopy, canopy-train and canopy-agent command in the ```sh and plain
// ``` blocks of README.md and docs/*.md, continuation lines joined.
std::vector<DocumentedCommand> documented_commands() {
  std::vector<fs::path> files = {source_dir() / "README.md"};
  for (const auto& entry : fs::directory_iterator(source_dir() / "docs"))
    if (entry.path().extension() == ".md") files.push_back(entry.path());
  // At the start of a line (after `time` or VAR=value), or in $(...).
  static const std::regex program(R"((^\s*(?:time\s+)?(?:[A-Z_]+=\S*\s+)*|\$\()(canopy(?:-train|-agent)?) )");
  std::vector<DocumentedCommand> commands;
  for (const fs::path& file : files) {
    std::istringstream in(read_bytes(file));
    bool in_block = false, in_shell = false;
    int number = 0;
    std::string line;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("```", 0) == 0) {
        in_shell = !in_block && (line == "```sh" || line == "```");
        in_block = !in_block;
        continue;
      }
      if (!in_shell) continue;
      const int first_line = number;
      while (!line.empty() && line.back() == '\\') {
        std::string next;
        if (!std::getline(in, next)) break;
        ++number;
        line.pop_back();
        line += " " + next;
      }
      std::smatch match;
      std::string rest = line;
      while (std::regex_search(rest, match, program)) {
        const bool in_subshell = match[1] == "$(";
        std::string text = match.suffix();
        text = text.substr(0, text.find(" #"));
        if (in_subshell) text = text.substr(0, text.find(')'));
        DocumentedCommand command{
            file.filename().string() + ":" + std::to_string(first_line), match[2], {}, {}};
        std::istringstream words(text);
        bool leading_words =
            true;  // subcommands come first; after the first other word, only flags are taken
        for (std::string word; words >> word;) {
          word.erase(std::remove_if(word.begin(), word.end(), [](char c) { return c == '[' || c == ']'; }),
                     word.end());
          if (word == "&" || word == "&&" || word == "|" || word == ";") break;
          if (word.size() > 1 && word[0] == '-' &&
              (std::isalpha(static_cast<unsigned char>(word[1])) || word[1] == '-'))
            command.flags.push_back(word.substr(0, word.find('=')));
          else if (leading_words && command.flags.empty() &&
                   std::regex_match(word, std::regex("[a-z][a-z0-9-]*")))
            command.words.push_back(word);
          else
            leading_words = false;
        }
        commands.push_back(std::move(command));
        rest = text;
      }
    }
  }
  return commands;
}

// Documentation a test does not run must still name commands and flags that
// exist: each command's --help must name its subcommand and every flag used
// (or the program's global flags must).
TEST_F(CliTest, EveryDocumentedCommandAndFlagExists) {
  const std::map<std::string, fs::path> binaries = {{"canopy", testing::canopy_binary()},
                                                    {"canopy-train", testing::train_binary()},
                                                    {"canopy-agent", testing::agent_binary()}};
  std::map<std::string, std::string> help_of;
  auto help = [&](const std::string& command_line) -> const std::string& {
    auto it = help_of.find(command_line);
    if (it == help_of.end())
      it = help_of.emplace(command_line, run_shell(command_line + " --help").output).first;
    return it->second;
  };
  const std::vector<DocumentedCommand> commands = documented_commands();
  ASSERT_GT(commands.size(), 50u) << "the documentation's commands were not found";
  std::string problems;
  for (const DocumentedCommand& command : commands) {
    std::string line = binaries.at(command.program).string();
    std::string usage = "Usage: " + command.program;
    for (const std::string& word : command.words) line += " " + word;
    const std::string& text = help(line);
    if (!command.words.empty() && text.find(usage + " " + command.words[0]) == std::string::npos) {
      problems += command.where + ": " + command.program + " has no subcommand '" + command.words[0] + "'\n";
      continue;
    }
    for (const std::string& flag : command.flags) {
      const std::regex named("(^|[ ,])" + std::regex_replace(flag, std::regex("[-]"), "\\-") + "([ ,\n]|$)");
      if (!std::regex_search(text, named) &&
          !std::regex_search(help(binaries.at(command.program).string()), named))
        problems += command.where + ": " + command.program + " " +
                    (command.words.empty() ? std::string() : command.words[0] + " ... ") + "has no flag " +
                    flag + "\n";
    }
  }
  EXPECT_TRUE(problems.empty()) << problems;
}

}  // namespace
}  // namespace canopy
