// ed25519 keys: signing and verifying, key files and their modes, and the
// errors malformed key files give.
#include "common/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }
};

TEST_F(KeysTest, SignAndVerify) {
  KeyPair pair = KeyPair::generate();
  std::string sig = sign_detached(pair, "manifest bytes");
  EXPECT_TRUE(verify_detached(pair.public_key, "manifest bytes", sig));
  EXPECT_FALSE(verify_detached(pair.public_key, "manifest bytez", sig));
  KeyPair other = KeyPair::generate();
  EXPECT_FALSE(verify_detached(other.public_key, "manifest bytes", sig));
  sig[5] ^= 1;
  EXPECT_FALSE(verify_detached(pair.public_key, "manifest bytes", sig));
  EXPECT_FALSE(verify_detached(pair.public_key, "manifest bytes", "short"));
}

TEST_F(KeysTest, KeyFilesRoundTripWithPrivateMode) {
  TempDir dir;
  KeyPair pair = KeyPair::generate();
  ASSERT_TRUE(save_key_pair(pair, dir / "pipeline").ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "pipeline.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_key_pair(dir / "pipeline.key");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->public_key.bytes, pair.public_key.bytes);
  auto pub = load_public_key(dir / "pipeline.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->key_id(), pair.public_key.key_id());
  EXPECT_EQ(pub->key_id().size(), 16u);
  auto again = save_key_pair(KeyPair::generate(), dir / "pipeline");
  ASSERT_FALSE(again.ok()) << "must refuse to overwrite a key";
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(load_key_pair(dir / "pipeline.key")->public_key.bytes, pair.public_key.bytes);
}

TEST_F(KeysTest, MalformedKeyFilesAreClearErrors) {
  TempDir dir;
  testing::write_bytes(dir / "bad.pub", "ssh-ed25519 AAAA\n");
  auto pub = load_public_key(dir / "bad.pub");
  ASSERT_FALSE(pub.ok());
  EXPECT_NE(pub.error().message.find("canopy-ed25519-public"), std::string::npos);
  testing::write_bytes(dir / "short.pub", "canopy-ed25519-public AAAA\n");
  EXPECT_FALSE(load_public_key(dir / "short.pub").ok());
  testing::write_bytes(dir / "bad.key", "canopy-ed25519-secret !!!\n");
  EXPECT_FALSE(load_key_pair(dir / "bad.key").ok());
}

}  // namespace
}  // namespace canopy
