// A node that does not come back: the QEMU node is told to kexec into a
// kernel whose initrd is not one (a bad image, as a broken kernel package
// leaves), so the new kernel panics ("VFS: Unable to mount root fs") and
// hangs there. The controller loses the attempt after timeouts.boot, reads
// the node's console through --console_command, quarantines the node with
// the panic as the reason, and the retry waits saying so.
#include "tests/node/node_testbed.h"

namespace iommuvm::testing {
namespace {

using BootFailureNodeTest = NodeTier;

TEST_F(BootFailureNodeTest, APanickingKernelIsLostQuarantinedAndExplainedByItsConsole) {
  std::string stock = ReleaseOf(GuestDir() + "/vmlinuz");
  std::string broken = stock + "-broken";
  std::string bad_initrd = h_->WriteFile("not-an-initrd", std::string(4096, 'x'));
  QemuNodeConfig config;
  config.kernels = {{stock, GuestDir() + "/vmlinuz"}, {broken, GuestDir() + "/vmlinuz"}};
  config.initrd_of[broken] = bad_initrd;
  ASSERT_NO_FATAL_FAILURE(StartNode(config));

  std::string spec = h_->WriteFile(
      "broken.yaml",
      RedisGetPairSpec("broken-kernel",
                       absl::StrCat("  kernel: [", broken, "]\n  iommu: [strict]\n"), "qnode",
                       "switch: kexec\nretries: 1\ntimeouts: {boot: 40s}\n"));
  CommandResult submitted = h_->Cli({"submit", spec});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out << submitted.err;
  ASSERT_TRUE(
      h_->WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'LOST'", 1, absl::Minutes(4)))
      << h_->Events() << node_->Console();
  EXPECT_NE(node_->Console().find("Kernel panic - not syncing"), std::string::npos)
      << node_->Console();

  // The lost attempt says what the console said.
  CommandResult error =
      Exec({"sqlite3", h_->db_path(), "SELECT error FROM attempts WHERE state = 'LOST'"});
  EXPECT_NE(error.out.find("did not come back within timeouts.boot (40s)"), std::string::npos)
      << error.out;
  EXPECT_NE(error.out.find("; console: Kernel panic - not syncing: VFS: Unable to mount root fs"),
            std::string::npos)
      << error.out;
  EXPECT_NE(error.out.find("; its last lines: "), std::string::npos) << error.out;

  // The node is quarantined with the panic as the reason ...
  CommandResult agents = h_->Cli({"agents", "--format", "csv"});
  EXPECT_NE(agents.out.find("qnode,server,QUARANTINED"), std::string::npos) << agents.out;
  EXPECT_NE(agents.out.find("after not coming back from a boot within timeouts.boot (40s), "
                            "console: Kernel panic - not syncing"),
            std::string::npos)
      << agents.out;
  // ... and the retry waits, status saying why.
  ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'PENDING'", 1,
                               absl::Seconds(10)));
  CommandResult status;
  for (int i = 0; i < 50; ++i) {
    status = h_->Cli({"status", "1"});
    if (status.out.find("quarantined") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_NE(status.out.find("qnode quarantined after not coming back from a boot"),
            std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("Kernel panic - not syncing"), std::string::npos) << status.out;
  ASSERT_EQ(h_->Cli({"cancel", "1"}).exit_code, 0);
}

}  // namespace
}  // namespace iommuvm::testing
