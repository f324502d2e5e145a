// Mutual TLS between the real controller, agents and CLI: peers are who
// their certificates say, and nobody without one gets in.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/file_system.h"
#include "tests/support/process_harness.h"
#include "tls/certificate_authority.h"

namespace iommuvm::testing {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(TlsTest, OnlyPeersWithTheRightCertificateGetIn) {
  Harness h;
  ASSERT_NO_FATAL_FAILURE(h.UseTls());
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));
  EXPECT_TRUE(Contains(c.controller.Log(), "mutual TLS from")) << c.controller.Log();

  // The CLI with its user certificate: a whole experiment over TLS.
  CommandResult ok = h.Cli({"submit", h.WriteFile("quick.yaml", QuickSpec(1)), "--wait"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err << c.controller.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);

  // A CLI without a certificate does not get past the handshake.
  CommandSpec plain;
  plain.argv = {IOMMUVM_CLI_BIN, "agents", "--controller", h.address()};
  plain.timeout = absl::Seconds(30);
  LocalCommandRunner runner;
  CommandResult refused = *runner.Run(plain);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_TRUE(Contains(refused.err, "--tls_dir")) << refused.err;

  // An agent's certificate is not a user's.
  LocalFileSystem fs;
  std::string agent_only = h.dir() / "agent-only";
  ASSERT_TRUE(fs.MakeDirs(agent_only).ok());
  // server-1's certificate and key, under the file names `stem` would use.
  auto copy_pair = [&](const std::string& stem) {
    for (const char* ext : {".crt", ".key"}) {
      ASSERT_TRUE(fs.WriteFile(agent_only + "/" + stem + ext,
                               *fs.ReadFile(h.tls_dir() + "/agent-server-1" + ext))
                      .ok());
    }
  };
  ASSERT_TRUE(fs.WriteFile(agent_only + "/ca.crt", *fs.ReadFile(h.tls_dir() + "/ca.crt")).ok());
  ASSERT_NO_FATAL_FAILURE(copy_pair("agent-server-1"));
  // Presented as a user's (renamed), it is still an agent's by its name.
  ASSERT_NO_FATAL_FAILURE(copy_pair("user-x"));
  plain.argv = {IOMMUVM_CLI_BIN, "agents",   "--controller", h.address(),
                "--tls_dir",     agent_only, "--tls_user",   "x"};
  CommandResult wrong_kind = *runner.Run(plain);
  EXPECT_EQ(wrong_kind.exit_code, 1);
  EXPECT_TRUE(Contains(wrong_kind.err, "is not a user's")) << wrong_kind.err;

  // An agent with the certificate of another id is refused and logged; it
  // never registers.
  ASSERT_NO_FATAL_FAILURE(copy_pair("agent-impostor"));
  CommandSpec impostor;
  impostor.argv = {IOMMUVM_AGENT_BIN,    "--controller", h.address(), "--id",
                   "impostor",           "--roles",      "server",    "--state_dir",
                   h.dir() / "impostor", "--tls_dir",    agent_only};
  impostor.log_path = h.dir() / "impostor.log";
  auto p = *runner.Start(impostor);
  EXPECT_TRUE(c.controller.WaitForLog("may not register as agent 'impostor'", absl::Seconds(15)))
      << c.controller.Log();
  // And one without any certificate at all.
  CommandSpec bare = impostor;
  bare.argv = {IOMMUVM_AGENT_BIN, "--controller", h.address(),   "--id",          "bare",
               "--roles",         "server",       "--state_dir", h.dir() / "bare"};
  bare.log_path = h.dir() / "bare.log";
  auto q = *runner.Start(bare);
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM nodes WHERE agent_id IN ('impostor', 'bare')"), 0);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM nodes"), 2);
}

// An agent trusts only the controller its CA vouches for. The controller
// here accepts clients of both CAs but presents a certificate of the
// other: the agent refuses it, and registers once it trusts that CA too.
TEST(TlsTest, AnAgentRefusesAControllerItsCaDidNotCertify) {
  Harness h;
  LocalFileSystem fs;
  std::string ours = h.dir() / "ours", theirs = h.dir() / "theirs";
  ASSERT_TRUE(tls::InitAuthority(ours, {}).ok());
  ASSERT_TRUE(tls::InitAuthority(theirs, {}).ok());
  ASSERT_TRUE(tls::IssueCertificate(ours, tls::PeerKind::kAgent, "node1").ok());
  std::string both = *fs.ReadFile(ours + "/ca.crt") + *fs.ReadFile(theirs + "/ca.crt");
  ASSERT_TRUE(fs.WriteFile(theirs + "/ca.crt", both).ok());  // the controller's client trust
  Daemon controller = h.StartController({"--tls_dir", theirs});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  {
    Daemon refused = h.StartAgent("node1", "client", {}, {"--tls_dir", ours});
    absl::SleepFor(absl::Seconds(3));
    EXPECT_EQ(h.Count("SELECT COUNT(*) FROM nodes"), 0) << controller.Log();
  }
  // Trusting that CA as well, the same agent gets in.
  ASSERT_TRUE(fs.WriteFile(ours + "/ca.crt", both).ok());
  Daemon agent = h.StartAgent("node1", "client", {}, {"--tls_dir", ours});
  EXPECT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 1, absl::Seconds(15))) << agent.Log();
}

TEST(TlsTest, APlaintextControllerListensOnlyOnLoopback) {
  ScratchDir dir;
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = {IOMMUVM_CONTROLLER_BIN, "--listen", "0.0.0.0:0", "--db", dir / "c.db", "--metrics="};
  spec.timeout = absl::Seconds(20);
  CommandResult r = *runner.Run(spec);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "iommuvm certs init")) << r.err;
  // --insecure is allowed, and every line says so.
  spec.argv.push_back("--insecure");
  spec.log_path = dir / "insecure.log";
  spec.timeout = absl::InfiniteDuration();
  Daemon d;
  d.log_path = spec.log_path;
  d.process = *runner.Start(spec);
  ASSERT_TRUE(d.WaitForLog("listening on", absl::Seconds(10))) << d.Log();
  EXPECT_EQ(d.Log().rfind("INSECURE ", 0), 0u) << d.Log();
}

}  // namespace
}  // namespace iommuvm::testing
