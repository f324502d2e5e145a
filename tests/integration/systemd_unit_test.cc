// The shipped systemd unit is valid (systemd-analyze verify) and starts
// the agent binary this build produced.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_replace.h"
#include "common/command_runner.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

TEST(SystemdUnitTest, AgentUnitVerifies) {
  LocalCommandRunner runner;
  if (!runner.Which("systemd-analyze").ok()) GTEST_SKIP() << "systemd-analyze not installed";
  std::ifstream in(IOMMUVM_SOURCE_DIR "/agent/systemd/iommuvm-agent.service");
  std::stringstream unit;
  unit << in.rdbuf();
  ASSERT_NE(unit.str().find("ExecStart=/opt/iommuvm/current/bin/iommuvm-agent"), std::string::npos);
  ScratchDir dir;
  std::string path = dir / "iommuvm-agent.service";
  std::ofstream(path) << absl::StrReplaceAll(
      unit.str(), {{"/opt/iommuvm/current/bin/iommuvm-agent", IOMMUVM_AGENT_BIN}});
  CommandSpec spec;
  spec.argv = {"systemd-analyze", "verify", path};
  spec.timeout = absl::Seconds(30);
  auto r = runner.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_EQ(r->err, "");
}

}  // namespace
}  // namespace iommuvm::testing
