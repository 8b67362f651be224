#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "common/keys.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }
};

TEST_F(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 streaming;
  streaming.update("a");
  streaming.update("bc");
  EXPECT_EQ(streaming.finish_hex(), sha256_hex("abc"));
}

TEST_F(CryptoTest, Sha256OfFileMatchesBytes) {
  TempDir dir;
  std::string bytes = testing::random_bytes(300000, 7);
  testing::write_bytes(dir / "f", bytes);
  EXPECT_EQ(*sha256_file_hex(dir / "f"), sha256_hex(bytes));
  EXPECT_FALSE(sha256_file_hex(dir / "missing").ok());
}

TEST_F(CryptoTest, HexRoundTripAndRejects) {
  std::string raw = "\x01\xab\xff";
  EXPECT_EQ(to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size()), "01abff");
  EXPECT_EQ(*from_hex("01ABff"), raw);
  EXPECT_FALSE(from_hex("abc").ok());
  EXPECT_FALSE(from_hex("zz").ok());
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("ABC"));
}

TEST_F(CryptoTest, SignAndVerify) {
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

TEST_F(CryptoTest, KeyFilesRoundTripWithPrivateMode) {
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

TEST_F(CryptoTest, MalformedKeyFilesAreClearErrors) {
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
