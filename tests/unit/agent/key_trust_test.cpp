// Adopting rotated publishing keys: only through an endorsement by a key the
// device trusts, along a chain, never from a stranger or a bad signature.
#include "agent/key_trust.h"

#include <gtest/gtest.h>

#include "common/hash.h"

namespace canopy::agent {
namespace {

std::string line(const PublicKey& key) {
  std::string text = key.to_text();
  text.pop_back();
  return text;
}

api::KeyEndorsement endorse(const KeyPair& endorser, const PublicKey& key) {
  api::KeyEndorsement endorsement;
  endorsement.key = line(key);
  endorsement.endorsed_by = line(endorser.public_key);
  endorsement.signature = base64_encode(sign_detached(endorser, endorsement.signed_text()));
  return endorsement;
}

class KeyTrustTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_crypto().ok()); }
  KeyPair k1_ = KeyPair::generate(), k2_ = KeyPair::generate(), k3_ = KeyPair::generate();
  KeyPair stranger_ = KeyPair::generate();
};

TEST_F(KeyTrustTest, AChainOfRotationsIsFollowedInAnyOrderFromTheKeyTheDeviceTrusts) {
  // A device offline across two rotations: K1 -> K2 -> K3, listed newest first.
  auto adoption =
      adopt_endorsed_keys({k1_.public_key}, {endorse(k2_, k3_.public_key), endorse(k1_, k2_.public_key)});
  ASSERT_EQ(adoption.adopted.size(), 2u);
  EXPECT_EQ(adoption.trusted.size(), 3u);
  EXPECT_EQ(adoption.adopted[0].key_id(), k2_.public_key.key_id());
  EXPECT_EQ(adoption.adopted[1].key_id(), k3_.public_key.key_id());
  EXPECT_TRUE(adoption.refused.empty());
  // Polled again: nothing new, nothing refused.
  auto again =
      adopt_endorsed_keys(adoption.trusted, {endorse(k2_, k3_.public_key), endorse(k1_, k2_.public_key)});
  EXPECT_TRUE(again.adopted.empty());
  EXPECT_TRUE(again.refused.empty());
}

TEST_F(KeyTrustTest, AKeyEndorsedByAStrangerOrWithABadSignatureIsRefused) {
  auto by_stranger = adopt_endorsed_keys({k1_.public_key}, {endorse(stranger_, k2_.public_key)});
  EXPECT_TRUE(by_stranger.adopted.empty());
  ASSERT_EQ(by_stranger.refused.size(), 1u);
  EXPECT_NE(by_stranger.refused[0].find("does not trust"), std::string::npos) << by_stranger.refused[0];

  // Claims K1 as its endorser, but the stranger signed it.
  api::KeyEndorsement forged = endorse(stranger_, k2_.public_key);
  forged.endorsed_by = line(k1_.public_key);
  auto bad_signature = adopt_endorsed_keys({k1_.public_key}, {forged});
  EXPECT_TRUE(bad_signature.adopted.empty());
  ASSERT_EQ(bad_signature.refused.size(), 1u);
  EXPECT_NE(bad_signature.refused[0].find("does not verify"), std::string::npos) << bad_signature.refused[0];

  // An endorsement of another key does not vouch for this one.
  api::KeyEndorsement swapped = endorse(k1_, k2_.public_key);
  swapped.key = line(k3_.public_key);
  EXPECT_TRUE(adopt_endorsed_keys({k1_.public_key}, {swapped}).adopted.empty());

  api::KeyEndorsement garbled = endorse(k1_, k2_.public_key);
  garbled.key = "not a key";
  auto unparsed = adopt_endorsed_keys({k1_.public_key}, {garbled});
  EXPECT_TRUE(unparsed.adopted.empty());
  EXPECT_EQ(unparsed.refused.size(), 1u);
}

}  // namespace
}  // namespace canopy::agent
