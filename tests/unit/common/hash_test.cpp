// SHA-256 (known vectors, files) and hex encoding.
#include "common/hash.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace canopy {
namespace {

using testing::TempDir;

class HashTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }
};

TEST_F(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 streaming;
  streaming.update("a");
  streaming.update("bc");
  EXPECT_EQ(streaming.finish_hex(), sha256_hex("abc"));
}

TEST_F(HashTest, Sha256OfFileMatchesBytes) {
  TempDir dir;
  std::string bytes = testing::random_bytes(300000, 7);
  testing::write_bytes(dir / "f", bytes);
  EXPECT_EQ(*sha256_file_hex(dir / "f"), sha256_hex(bytes));
  EXPECT_FALSE(sha256_file_hex(dir / "missing").ok());
}

TEST_F(HashTest, HexRoundTripAndRejects) {
  std::string raw = "\x01\xab\xff";
  EXPECT_EQ(to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size()), "01abff");
  EXPECT_EQ(*from_hex("01ABff"), raw);
  EXPECT_FALSE(from_hex("abc").ok());
  EXPECT_FALSE(from_hex("zz").ok());
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("ABC"));
}

}  // namespace
}  // namespace canopy
