// The command lines as a new user meets them: the real canopy, canopy-train
// and canopy-agent binaries, run with the mistakes people make, must answer
// with errors that say what to do.
#include <gtest/gtest.h>

#include "common/json.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::read_bytes;
using testing::run_shell;
using testing::TempDir;
namespace fs = std::filesystem;

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

}  // namespace
}  // namespace canopy
