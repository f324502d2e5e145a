#include "controller/service/peer_authorization.h"

#include <gtest/gtest.h>

namespace iommuvm::service {
namespace {

TEST(PeerAuthorizationTest, AnAgentCertificateCoversItsHostAndItsGuestsOnly) {
  PeerAuthorization tls(true);
  EXPECT_TRUE(tls.AgentMayRegister("agent:node1", "node1").ok());
  EXPECT_TRUE(tls.AgentMayRegister("agent:node1", "node1/vm0").ok());
  EXPECT_FALSE(tls.AgentMayRegister("agent:node1", "node2").ok());
  EXPECT_FALSE(tls.AgentMayRegister("agent:node1", "node10").ok());
  EXPECT_FALSE(tls.AgentMayRegister("agent:node", "node1").ok());
  EXPECT_FALSE(tls.AgentMayRegister("user:node1", "node1").ok());
  EXPECT_FALSE(tls.AgentMayRegister("controller", "node1").ok());
  EXPECT_FALSE(tls.AgentMayRegister("", "node1").ok());
  EXPECT_EQ(tls.AgentMayRegister("agent:node1", "node2").code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(PeerAuthorizationTest, OnlyUsersCallTheControllerService) {
  PeerAuthorization tls(true);
  EXPECT_TRUE(tls.UserMayCall("user:alice").ok());
  EXPECT_FALSE(tls.UserMayCall("agent:node1").ok());
  EXPECT_FALSE(tls.UserMayCall("").ok());
}

TEST(PeerAuthorizationTest, PlaintextTrustsEveryone) {
  PeerAuthorization plain(false);
  EXPECT_TRUE(plain.AgentMayRegister("", "node1").ok());
  EXPECT_TRUE(plain.UserMayCall("").ok());
}

}  // namespace
}  // namespace iommuvm::service
