#include "tls/certificate_authority.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/file_system.h"
#include "tls/credentials.h"

namespace iommuvm::tls {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/iommuvm-ca-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/ca";
  }
  void TearDown() override { (void)fs_.RemoveAll(root_); }

  static mode_t Mode(const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_mode & 0777;
  }

  LocalFileSystem fs_;
  std::string root_;
  std::string dir_;
};

TEST_F(CertificateAuthorityTest, IssuesNamedCertificatesWithPrivateKeys) {
  ASSERT_TRUE(InitAuthority(dir_, {.controller_hosts = {"10.10.1.1", "node0.example.net"}}).ok());
  auto controller = ReadCertificateInfo(*fs_.ReadFile(dir_ + "/controller.crt"));
  ASSERT_TRUE(controller.ok()) << controller.status();
  EXPECT_EQ(controller->common_name, "controller");
  for (const char* name : {"localhost", "127.0.0.1", "10.10.1.1", "node0.example.net"}) {
    EXPECT_THAT(controller->subject_alt_names, Contains(name));
  }
  auto agent = IssueCertificate(dir_, PeerKind::kAgent, "node1");
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(ReadCertificateInfo(*fs_.ReadFile(*agent))->common_name, "agent:node1");
  auto user = IssueCertificate(dir_, PeerKind::kUser, "alice");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(ReadCertificateInfo(*fs_.ReadFile(*user))->common_name, "user:alice");
  for (const char* key : {"/ca.key", "/controller.key", "/agent-node1.key", "/user-alice.key"}) {
    EXPECT_EQ(Mode(dir_ + key), 0600u) << key;
  }
  EXPECT_EQ(Mode(dir_), 0700u);
  // Each party's files load as one TlsFiles.
  EXPECT_TRUE(LoadTlsFiles(fs_, dir_, "agent-node1").ok());
  auto missing = LoadTlsFiles(fs_, dir_, "agent-node2");
  EXPECT_THAT(missing.status().message(), HasSubstr("agent-node2.crt"));
}

TEST_F(CertificateAuthorityTest, ACaIsNeverReplacedAndNamesAreChecked) {
  ASSERT_TRUE(InitAuthority(dir_, {}).ok());
  std::string ca = *fs_.ReadFile(dir_ + "/ca.crt");
  EXPECT_THAT(InitAuthority(dir_, {}).message(), HasSubstr("already holds a CA"));
  EXPECT_EQ(*fs_.ReadFile(dir_ + "/ca.crt"), ca);
  for (const char* bad : {"", "a/b", "../x", "-x", "node 1"}) {
    EXPECT_FALSE(IssueCertificate(dir_, PeerKind::kAgent, bad).ok()) << bad;
  }
  EXPECT_THAT(IssueCertificate(root_ + "/nothing", PeerKind::kUser, "bob").status().message(),
              HasSubstr("certs init"));
}

TEST_F(CertificateAuthorityTest, UserCertificateIsFoundByNameOrAlone) {
  ASSERT_TRUE(InitAuthority(dir_, {}).ok());
  EXPECT_FALSE(UserCertificateStem(fs_, dir_, "").ok());
  ASSERT_TRUE(IssueCertificate(dir_, PeerKind::kUser, "carol").ok());
  EXPECT_EQ(*UserCertificateStem(fs_, dir_, ""), "user-carol");
  ASSERT_TRUE(IssueCertificate(dir_, PeerKind::kUser, "dave").ok());
  setenv("USER", "nobody-here", 1);
  EXPECT_THAT(UserCertificateStem(fs_, dir_, "").status().message(), HasSubstr("--tls_user"));
  EXPECT_EQ(*UserCertificateStem(fs_, dir_, "dave"), "user-dave");
}

}  // namespace
}  // namespace iommuvm::tls
