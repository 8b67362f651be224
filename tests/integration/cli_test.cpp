// The command lines as a new user meets them: the real canopy, canopy-train
// and canopy-agent binaries, run with the mistakes people make, must answer
// with errors that say what to do.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

const std::string kConvModel = "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding/model.onnx";

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
      {"127.0.0.1:8080 --trusted-key pipeline.pub &", "127.0.0.1:" + port + " --trusted-key pipeline.pub > server.log 2>&1 &"},
      {"CANOPY_SERVER=http://127.0.0.1:8080 CANOPY_API_KEY=$CANOPY_ADMIN_KEY",
       "CANOPY_SERVER=http://127.0.0.1:" + port +
           " CANOPY_API_KEY=$CANOPY_ADMIN_KEY\nuntil curl -sf $CANOPY_SERVER/api/v1/health; do sleep 0.1; done"},
      {"/tmp/model.zip", "upload.zip"},
      {"/tmp/model.zip", "upload.zip"},
      {"--tag crop=wheat &", "--tag crop=wheat --once"},
      {"canopy deploy status 1 --watch", "canopy deploy status 1"},
      {"canopy bench infer pulled.zip --threads 2", "canopy bench infer pulled.zip --threads 2 --runs 5 --warmup 1"},
      {"canopy sim --devices 20", "canopy sim --devices 3 --duration 4"},
      {"--offline 5-7:30:90", "--offline 2-2:1:3"},
  };
  for (const auto& [from, to] : test_sizes) {
    const size_t at = tour.find(from);
    ASSERT_NE(at, std::string::npos) << "README's tour no longer has '" << from << "'; update this test with it";
    tour.replace(at, from.size(), to);
  }
  // A checkout's examples, in a folder of the test's own.
  fs::copy(testing::examples_dir(), work_ / "examples", fs::copy_options::recursive);
  testing::write_bytes(work_ / "tour.sh", "set -euxo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + tour);
  const std::string path = testing::canopy_binary().parent_path().string() + ":" +
                           testing::train_binary().parent_path().string() + ":" +
                           testing::agent_binary().parent_path().string() + ":$PATH";
  auto ran = run_in_work("env -u CANOPY_SERVER -u CANOPY_API_KEY PATH=" + path + " bash tour.sh");
  ASSERT_EQ(ran.exit_code, 0) << ran.output << "\nserver log:\n" << read_bytes(work_ / "server.log");
  EXPECT_NE(ran.output.find("published crop-disease-detector version 1"), std::string::npos) << ran.output;
  EXPECT_NE(ran.output.find("\"created\": false"), std::string::npos) << "the curl upload is version 1 again\n"
                                                                     << ran.output;
  EXPECT_NE(ran.output.find("crop-disease-detector@production -> version 1"), std::string::npos) << ran.output;
}

}  // namespace
}  // namespace canopy
