#include "package/package.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/hash.h"
#include "test_support.h"

namespace canopy::package {
namespace {

using testing::TempDir;
using testing::ZipEntry;

class PackageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_crypto().ok());
    model_bytes_ = testing::random_bytes(50000, 11);
    testing::write_bytes(dir_ / "src" / "model.onnx", model_bytes_);
    testing::write_bytes(dir_ / "src" / "in.pb", "golden input");
    testing::write_bytes(dir_ / "src" / "out.pb", "golden output");
    InitOptions init;
    init.directory = dir_ / "pkg";
    init.model = dir_ / "src" / "model.onnx";
    init.name = "crop-disease-detector";
    init.labels = {"healthy", "diseased", "water_stressed"};
    init.golden = {{dir_ / "src" / "in.pb", dir_ / "src" / "out.pb"}};
    auto manifest = init_package(init);
    ASSERT_TRUE(manifest.ok()) << manifest.error().message;
    manifest_bytes_ = testing::read_bytes(dir_ / "pkg" / "canopy.json");
    key_ = KeyPair::generate();
  }

  VerifyOptions trusting_key() {
    VerifyOptions options;
    options.trusted_keys = {key_.public_key};
    return options;
  }

  // The valid entries of a package; tests add or change one thing.
  std::vector<ZipEntry> valid_entries(const std::string& prefix = "") {
    return {{prefix + "canopy.json", manifest_bytes_},
            {prefix + "model.onnx", model_bytes_},
            {prefix + "in.pb", "golden input"},
            {prefix + "out.pb", "golden output"}};
  }

  // Verifies, expects rejection, and returns the message.
  std::string rejection(const std::vector<ZipEntry>& entries, VerifyOptions options = {}) {
    options.allow_unsigned = true;
    auto zip = dir_ / "crafted.zip";
    testing::write_zip(zip, entries);
    auto result = verify_package(zip, options);
    EXPECT_FALSE(result.ok()) << "accepted a bad package";
    // Extraction must refuse it too, and leave nothing behind.
    auto extracted = extract_package(zip, dir_ / "out" / "x", options);
    EXPECT_FALSE(extracted.ok());
    EXPECT_TRUE(testing::list_files(dir_ / "out").empty()) << "extraction left files behind";
    return result.ok() ? "" : result.error().message;
  }

  TempDir dir_;
  std::string model_bytes_;
  std::string manifest_bytes_;
  KeyPair key_;
};

TEST_F(PackageTest, CreateSignVerifyExtract) {
  auto created = create_package(dir_ / "pkg", dir_ / "model.zip", key_);
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto info = verify_package(dir_ / "model.zip", trusting_key());
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_TRUE(info->signature_trusted);
  EXPECT_EQ(info->manifest.name, "crop-disease-detector");
  EXPECT_EQ(info->manifest.golden.size(), 1u);
  EXPECT_EQ(info->manifest_sha256, sha256_hex(info->manifest_bytes));

  auto extracted = extract_package(dir_ / "model.zip", dir_ / "installed", trusting_key());
  ASSERT_TRUE(extracted.ok()) << extracted.error().message;
  EXPECT_EQ(testing::read_bytes(dir_ / "installed" / "model.onnx"), model_bytes_);
  EXPECT_EQ(testing::list_files(dir_ / "installed"),
            (std::vector<std::string>{"canopy.json", "canopy.sig", "in.pb", "model.onnx", "out.pb"}));
  auto twice = extract_package(dir_ / "model.zip", dir_ / "installed", trusting_key());
  EXPECT_EQ(twice.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(PackageTest, ExtractedPackageWithAnyByteFlippedIsRefused) {
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "model.zip", key_).ok());
  const fs::path installed = dir_ / "installed";
  ASSERT_TRUE(extract_package(dir_ / "model.zip", installed, trusting_key()).ok());
  ASSERT_TRUE(verify_extracted(installed, trusting_key()).ok());

  // Every byte of the manifest and the golden files, and of the 50 kB model
  // 512 positions spread over it from the first byte to the last.
  for (const std::string file : {"canopy.json", "in.pb", "out.pb", "model.onnx"}) {
    const std::string original = testing::read_bytes(installed / file);
    const size_t step = std::max<size_t>(1, original.size() / 512);
    std::vector<size_t> positions;
    for (size_t at = 0; at < original.size(); at += step) positions.push_back(at);
    positions.push_back(original.size() - 1);
    for (const size_t at : positions) {
      std::string damaged = original;
      damaged[at] ^= 0x01;
      testing::write_bytes(installed / file, damaged);
      auto verified = verify_extracted(installed, trusting_key());
      ASSERT_FALSE(verified.ok()) << file << " byte " << at;
      EXPECT_TRUE(verified.error().code == ErrorCode::kCorrupt ||
                  verified.error().code == ErrorCode::kBadSignature)
          << verified.error().message;
      if (file != "canopy.json") {
        EXPECT_NE(verified.error().message.find(file), std::string::npos);
      }
    }
    testing::write_bytes(installed / file, original);
  }
  ASSERT_TRUE(verify_extracted(installed, trusting_key()).ok());

  // A damaged signature, a missing file, a link in place of a file, an
  // unsigned or foreign-signed manifest: each refused.
  const std::string signature = testing::read_bytes(installed / "canopy.sig");
  std::string bad_signature = signature;
  bad_signature[bad_signature.find("\"signature\": \"") + 14] ^= 0x01;
  testing::write_bytes(installed / "canopy.sig", bad_signature);
  EXPECT_EQ(verify_extracted(installed, trusting_key()).error().code, ErrorCode::kBadSignature);
  fs::remove(installed / "canopy.sig");
  EXPECT_EQ(verify_extracted(installed, trusting_key()).error().code, ErrorCode::kBadSignature);
  testing::write_bytes(installed / "canopy.sig", signature);
  VerifyOptions foreign;
  foreign.trusted_keys = {KeyPair::generate().public_key};
  EXPECT_EQ(verify_extracted(installed, foreign).error().code, ErrorCode::kBadSignature);
  fs::rename(installed / "in.pb", dir_ / "in.pb");
  EXPECT_NE(verify_extracted(installed, trusting_key()).error().message.find("in.pb is missing"),
            std::string::npos);
  fs::create_symlink(dir_ / "in.pb", installed / "in.pb");
  EXPECT_NE(verify_extracted(installed, trusting_key()).error().message.find("not a regular file"),
            std::string::npos);
}

TEST_F(PackageTest, SamePackageTwiceIsByteIdentical) {
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "a.zip", key_).ok());
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "b.zip", key_).ok());
  EXPECT_EQ(testing::read_bytes(dir_ / "a.zip"), testing::read_bytes(dir_ / "b.zip"));
}

TEST_F(PackageTest, CreateRefreshesHashesOfChangedFiles) {
  testing::write_bytes(dir_ / "pkg" / "model.onnx", "retrained");
  auto created = create_package(dir_ / "pkg", dir_ / "model.zip", std::nullopt);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->manifest.model_file().sha256, sha256_hex("retrained"));
  VerifyOptions unsigned_ok;
  unsigned_ok.allow_unsigned = true;
  EXPECT_TRUE(verify_package(dir_ / "model.zip", unsigned_ok).ok());
}

TEST_F(PackageTest, AcceptsTheLayoutZipRecursiveProduces) {
  // Exactly what a pipeline's deploy step does: zip -r /tmp/model.zip models/crop-disease-detector
  testing::TempDir work;
  fs::create_directories(work / "models");
  fs::copy(dir_ / "pkg", work / "models" / "crop-disease-detector");
  auto zipped =
      testing::run_shell("cd " + work.path().string() + " && zip -qr model.zip models/crop-disease-detector");
  ASSERT_EQ(zipped.exit_code, 0) << zipped.output;
  VerifyOptions options;
  options.allow_unsigned = true;
  auto info = verify_package(work / "model.zip", options);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->root_prefix, "models/crop-disease-detector/");
  auto extracted = extract_package(work / "model.zip", work / "out", options);
  ASSERT_TRUE(extracted.ok()) << extracted.error().message;
  EXPECT_TRUE(fs::exists(work / "out" / "model.onnx"));
}

TEST_F(PackageTest, UnsignedRejectedWhenSignatureRequired) {
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "model.zip", std::nullopt).ok());
  auto result = verify_package(dir_ / "model.zip", trusting_key());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kBadSignature);
  EXPECT_NE(result.error().message.find("not signed"), std::string::npos);
}

TEST_F(PackageTest, UntrustedSignerRejected) {
  KeyPair stranger = KeyPair::generate();
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "model.zip", stranger).ok());
  auto result = verify_package(dir_ / "model.zip", trusting_key());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kBadSignature);
  EXPECT_NE(result.error().message.find(stranger.public_key.key_id()), std::string::npos);
}

TEST_F(PackageTest, ManifestChangedAfterSigningRejected) {
  Signature sig = sign_manifest(key_, manifest_bytes_);
  std::string changed = manifest_bytes_;
  changed.replace(changed.find("\"description\": \"\""), 17, "\"description\": \"x\"");
  auto entries = valid_entries();
  entries[0].content = changed;
  entries.push_back({"canopy.sig", sig.to_json()});
  std::string message = rejection(entries, trusting_key());
  EXPECT_NE(message.find("changed after signing"), std::string::npos) << message;
}

TEST_F(PackageTest, FileChangedAfterSigningRejected) {
  auto entries = valid_entries();
  entries.push_back({"canopy.sig", sign_manifest(key_, manifest_bytes_).to_json()});
  entries[1].content[100] ^= 0x55;  // same size, one byte flipped
  std::string message = rejection(entries, trusting_key());
  EXPECT_NE(message.find("'model.onnx'"), std::string::npos) << message;
  EXPECT_NE(message.find("SHA-256 does not match"), std::string::npos) << message;
}

TEST_F(PackageTest, ZipSlipRejected) {
  auto entries = valid_entries();
  entries.push_back({"../../etc/cron.d/evil", "boom"});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("'../../etc/cron.d/evil'"), std::string::npos) << message;
  EXPECT_NE(message.find("escapes"), std::string::npos) << message;
}

TEST_F(PackageTest, AbsolutePathRejected) {
  auto entries = valid_entries();
  entries.push_back({"/tmp/evil", "boom"});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("absolute path"), std::string::npos) << message;
}

TEST_F(PackageTest, SymlinkRejected) {
  auto entries = valid_entries();
  entries.push_back({"link", "/etc/passwd", ZipEntry::Kind::kSymlink});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("'link'"), std::string::npos) << message;
  EXPECT_NE(message.find("links are not allowed"), std::string::npos) << message;
}

TEST_F(PackageTest, DuplicateEntryRejected) {
  auto entries = valid_entries();
  entries.push_back({"model.onnx", model_bytes_});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("duplicate entry"), std::string::npos) << message;
}

TEST_F(PackageTest, UnlistedFileRejected) {
  auto entries = valid_entries();
  entries.push_back({"extra.bin", "not in the manifest"});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("'extra.bin'"), std::string::npos) << message;
  EXPECT_NE(message.find("not listed"), std::string::npos) << message;
}

TEST_F(PackageTest, MissingFileRejected) {
  auto entries = valid_entries();
  entries.pop_back();
  std::string message = rejection(entries);
  EXPECT_NE(message.find("missing 'out.pb'"), std::string::npos) << message;
}

TEST_F(PackageTest, SizeMismatchRejected) {
  auto entries = valid_entries();
  entries[1].content += "tail";
  std::string message = rejection(entries);
  EXPECT_NE(message.find("'model.onnx'"), std::string::npos) << message;
  EXPECT_NE(message.find("size"), std::string::npos) << message;
}

TEST_F(PackageTest, EntryOutsideRootRejected) {
  auto entries = valid_entries("pkg/");
  entries.push_back({"elsewhere.txt", "x"});
  std::string message = rejection(entries);
  EXPECT_NE(message.find("outside the package root"), std::string::npos) << message;
}

TEST_F(PackageTest, NoManifestRejected) {
  std::string message = rejection({{"model.onnx", model_bytes_}});
  EXPECT_NE(message.find("no canopy.json"), std::string::npos) << message;
}

TEST_F(PackageTest, ZipBombRejected) {
  // 64 MiB of zeros listed honestly in the manifest: compresses about 1000:1.
  std::string zeros(64u << 20, '\0');
  testing::write_bytes(dir_ / "bomb" / "model.onnx", zeros);
  InitOptions init;
  init.directory = dir_ / "bomb";
  init.model = dir_ / "bomb" / "model.onnx";
  init.name = "bomb";
  init.labels = {"x"};
  ASSERT_TRUE(init_package(init).ok());
  ASSERT_TRUE(create_package(dir_ / "bomb", dir_ / "bomb.zip", std::nullopt).ok());
  EXPECT_LT(fs::file_size(dir_ / "bomb.zip"), 1u << 20);
  VerifyOptions options;
  options.allow_unsigned = true;
  auto result = verify_package(dir_ / "bomb.zip", options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
  EXPECT_NE(result.error().message.find("compression ratio"), std::string::npos) << result.error().message;
  // A raised limit admits it: the check is the ratio, not the content.
  options.limits.max_compression_ratio = 5000;
  EXPECT_TRUE(verify_package(dir_ / "bomb.zip", options).ok());
}

TEST_F(PackageTest, TotalSizeLimit) {
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "model.zip", std::nullopt).ok());
  VerifyOptions options;
  options.allow_unsigned = true;
  options.limits.max_total_bytes = 1000;
  auto result = verify_package(dir_ / "model.zip", options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
}

TEST_F(PackageTest, TruncatedZipRejected) {
  ASSERT_TRUE(create_package(dir_ / "pkg", dir_ / "model.zip", key_).ok());
  std::string bytes = testing::read_bytes(dir_ / "model.zip");
  testing::write_bytes(dir_ / "truncated.zip", bytes.substr(0, bytes.size() / 2));
  auto result = verify_package(dir_ / "truncated.zip", trusting_key());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(result.error().message.find("truncated or corrupt"), std::string::npos) << result.error().message;
  auto extracted = extract_package(dir_ / "truncated.zip", dir_ / "out" / "x", trusting_key());
  EXPECT_FALSE(extracted.ok());
  EXPECT_FALSE(fs::exists(dir_ / "out" / "x"));
}

TEST_F(PackageTest, InitRejectsBadInput) {
  InitOptions init;
  init.directory = dir_ / "bad";
  init.model = dir_ / "src" / "absent.onnx";
  init.name = "ok-name";
  init.labels = {"a"};
  EXPECT_EQ(init_package(init).error().code, ErrorCode::kNotFound);
  init.model = dir_ / "src" / "model.onnx";
  init.name = "bad name";
  EXPECT_EQ(init_package(init).error().code, ErrorCode::kInvalidArgument);
  init.name = "ok";
  init.labels = {};
  EXPECT_EQ(init_package(init).error().code, ErrorCode::kInvalidArgument);
  init.labels = {"a", "a"};
  EXPECT_EQ(init_package(init).error().code, ErrorCode::kInvalidArgument);
  init.labels = {"a"};
  init.input_shape = {1, 3, 320, 99999};
  EXPECT_EQ(init_package(init).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "bad")) << "a refused init must leave nothing behind";
}

}  // namespace
}  // namespace canopy::package
