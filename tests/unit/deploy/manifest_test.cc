#include "deploy/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace iommuvm::deploy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ManifestOptions Options(std::string user, std::string lan = "", std::string servers = "") {
  ManifestOptions o;
  o.user = std::move(user);
  o.lan = std::move(lan);
  o.servers = std::move(servers);
  o.source = "m.xml";
  return o;
}

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(IOMMUVM_SOURCE_DIR) + "/tests/fixtures/manifests/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ManifestTest, ReadsThePortalsManifest) {
  auto nodes = ParseManifest(Fixture("c6525-portal.xml"), Options("bob"));
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 3u);
  const DeployNode& n0 = (*nodes)[0];
  EXPECT_EQ(n0.id, "node0");
  EXPECT_EQ(n0.host, "amd198.utah.cloudlab.us");
  EXPECT_EQ(n0.port, 22);
  EXPECT_EQ(n0.user, "bob");
  EXPECT_EQ(n0.labels.at("hardware"), "c6525-25g");
  EXPECT_EQ(n0.labels.at("site"), "utah.cloudlab.us");
  EXPECT_EQ(n0.data_address, "10.10.1.1");
  EXPECT_EQ(n0.data_mac, "0c:42:a1:dd:5f:8e");  // written 0c42a1dd5f8e
  EXPECT_THAT(n0.roles, ElementsAre("server"));
  EXPECT_EQ((*nodes)[1].data_mac, "0c:42:a1:dd:60:a2");  // upper case in the file
  EXPECT_THAT((*nodes)[1].roles, ElementsAre("client"));
  // The controller's node is on no LAN: listed, but no agent goes there.
  EXPECT_EQ((*nodes)[2].id, "ctl");
  EXPECT_EQ((*nodes)[2].labels.at("hardware"), "m510");
  EXPECT_TRUE((*nodes)[2].data_address.empty());
  EXPECT_THAT((*nodes)[2].roles, IsEmpty());
}

TEST(ManifestTest, SeveralLansNeedAChoiceAndRolesCanBeNamed) {
  std::string xml = Fixture("r650-two-lans.xml");
  auto unchosen = ParseManifest(xml, Options(""));
  EXPECT_THAT(unchosen.status().message(), HasSubstr("lan100g, lan25g, empty-lan"));
  EXPECT_THAT(unchosen.status().message(), HasSubstr("--lan NAME"));

  auto nodes = ParseManifest(xml, Options("carol", "lan100g", "server1,server2"));
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 4u);
  EXPECT_EQ((*nodes)[0].port, 2201);
  EXPECT_EQ((*nodes)[0].user, "carol");
  EXPECT_EQ((*nodes)[0].data_address, "192.168.100.1");
  EXPECT_EQ((*nodes)[0].labels.at("site"), "clemson.cloudlab.us");
  EXPECT_THAT((*nodes)[1].roles, ElementsAre("server"));
  EXPECT_THAT((*nodes)[2].roles, ElementsAre("client"));
  EXPECT_THAT((*nodes)[3].roles, ElementsAre("client"));

  auto lan25 = ParseManifest(xml, Options("", "lan25g"));
  ASSERT_TRUE(lan25.ok());
  EXPECT_EQ((*lan25)[1].data_address, "192.168.25.2");
  EXPECT_TRUE((*lan25)[2].data_address.empty());  // client1 is not on it
  EXPECT_THAT((*lan25)[2].roles, IsEmpty());

  EXPECT_THAT(ParseManifest(xml, Options("", "empty-lan")).status().message(),
              HasSubstr("no node has an interface on LAN 'empty-lan'"));
  EXPECT_THAT(ParseManifest(xml, Options("", "lan40g")).status().message(),
              HasSubstr("no LAN 'lan40g'"));
  EXPECT_THAT(ParseManifest(xml, Options("", "lan100g", "server9")).status().message(),
              HasSubstr("'server9'"));
}

TEST(ManifestTest, BadDocumentsSayWhatIsWrong) {
  EXPECT_THAT(ParseManifest("not xml at all", Options("")).status().message(),
              HasSubstr("m.xml:1:1"));
  EXPECT_THAT(ParseManifest("<rspec type=\"manifest\"></rspec>", Options("")).status().message(),
              HasSubstr("no <node>"));
  EXPECT_THAT(ParseManifest("<html><body/></html>", Options("")).status().message(),
              HasSubstr("not a CloudLab manifest"));
  // A request RSpec (before the experiment runs) has no logins.
  EXPECT_THAT(
      ParseManifest("<rspec><node client_id=\"n\"/></rspec>", Options("")).status().message(),
      HasSubstr("no <login> or <host>"));
}

TEST(ManifestTest, MacsAreNormalized) {
  EXPECT_EQ(NormalizeMac("0c42a1dd5f8e"), "0c:42:a1:dd:5f:8e");
  EXPECT_EQ(NormalizeMac("0C-42-A1-DD-5F-8E"), "0c:42:a1:dd:5f:8e");
  EXPECT_EQ(NormalizeMac("0c42.a1dd.5f8e"), "0c:42:a1:dd:5f:8e");
  EXPECT_EQ(NormalizeMac("0c42a1dd5f"), "");
  EXPECT_EQ(NormalizeMac("zz42a1dd5f8e"), "");
}

}  // namespace
}  // namespace iommuvm::deploy
