#include "deploy/inventory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "deploy/node_installer.h"

namespace iommuvm::deploy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(DeployInventoryTest, NodesTakeDefaults) {
  auto nodes = ParseInventory(R"(defaults:
  user: alice
  identity: /keys/id
nodes:
  - id: node1
    host: amd1.example
    roles: [server]
    labels: {hardware: c6525-25g}
    data_address: 10.10.1.1
    data_mac: 0C42A1DD5F8E
    agent_args: [--allow_cmdline, isolcpus]
  - id: node2
    host: amd2.example
    port: 2222
    user: bob
    roles: [client]
    data_nic: enp65s0f0np0
)",
                              "nodes.yaml", "me");
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].user, "alice");
  EXPECT_EQ((*nodes)[0].identity_file, "/keys/id");
  EXPECT_EQ((*nodes)[0].data_mac, "0c:42:a1:dd:5f:8e");
  EXPECT_EQ((*nodes)[0].source, "nodes.yaml:5");
  EXPECT_EQ((*nodes)[1].user, "bob");
  EXPECT_EQ((*nodes)[1].port, 2222);
  EXPECT_THAT((*nodes)[1].roles, ElementsAre("client"));
}

TEST(DeployInventoryTest, MistakesNameTheLineAndField) {
  auto dup = ParseInventory(
      "nodes:\n  - {id: a, host: h1, roles: [server]}\n  - {id: a, host: h2, roles: [client]}\n",
      "n.yaml", "me");
  EXPECT_THAT(dup.status().message(), HasSubstr("n.yaml:3:"));
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate id 'a' (first at line 2)"));
  EXPECT_THAT(ParseInventory("nodes:\n  - {id: a, host: h, roles: [sever]}\n", "n.yaml", "me")
                  .status()
                  .message(),
              HasSubstr("'sever' is not server or client"));
  EXPECT_THAT(ParseInventory("nodes:\n  - {id: a, hots: h, roles: [server]}\n", "n.yaml", "me")
                  .status()
                  .message(),
              HasSubstr("nodes[0].hots: unknown key"));
  EXPECT_THAT(
      ParseInventory("nodes:\n  - {id: a, roles: [server]}\n", "n.yaml", "me").status().message(),
      HasSubstr("nodes[0].host: missing"));
  EXPECT_THAT(ParseInventory("nodes: []\n", "n.yaml", "me").status().message(),
              HasSubstr("needs `nodes:`"));
  EXPECT_THAT(ParseInventory("nodes: [\n", "n.yaml", "me").status().message(),
              HasSubstr("n.yaml:"));
}

TEST(DeployInventoryTest, AgentFlagsAreOneWordEach) {
  DeployNode n;
  n.id = "node1";
  n.roles = {"server"};
  n.labels = {{"hardware", "r650"}};
  n.data_address = "10.10.1.1";
  n.data_mac = "0c:42:a1:dd:5f:8e";
  auto args = AgentArgs(n, "10.10.1.100:7070", "e24d4481afa1", true);
  ASSERT_TRUE(args.ok());
  EXPECT_THAT(*args, ElementsAre("--controller", "10.10.1.100:7070", "--id", "node1", "--roles",
                                 "server", "--labels", "hardware=r650,iommuvm.release=e24d4481afa1",
                                 "--data_address", "10.10.1.1", "--data_mac", "0c:42:a1:dd:5f:8e",
                                 "--tls_dir", "/opt/iommuvm/tls"));
  auto guest = AgentArgs(n, "10.10.1.100:7070", "e24d4481afa1", false, true);
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(guest->back(), "/opt/iommuvm/current/guest");
  n.labels["note"] = "two words";
  EXPECT_THAT(AgentArgs(n, "c:1", "r", false).status().message(), HasSubstr("note=two words"));
  n.labels.erase("note");
  n.agent_args = {"--x=$(reboot)"};
  EXPECT_FALSE(AgentArgs(n, "c:1", "r", false).ok());
}

}  // namespace
}  // namespace iommuvm::deploy
