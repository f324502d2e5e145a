#include "controller/node_console.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace iommuvm {
namespace {

using ::iommuvm::testing::IsOk;

// The operator's command runs for real, with the node's names filled in as
// shell words.
TEST(NodeConsoleTest, RunsTheCommandWithTheNodesNames) {
  LocalCommandRunner runner;
  NodeConsole console(&runner,
                      "printf 'BIOS\\r\\n\\033[0m%s on %s\\r\\nlast\\r\\n' {node} {hostname}",
                      absl::Seconds(5), 2);
  auto lines = console.LastLines("node-1", "pc 42");
  ASSERT_THAT(lines, IsOk());
  EXPECT_EQ(*lines, (std::vector<std::string>{"node-1 on pc 42", "last"}));
}

TEST(NodeConsoleTest, AFailingCommandSaysHowItEnded) {
  LocalCommandRunner runner;
  NodeConsole console(&runner, "echo no such log >&2; exit 3");
  auto lines = console.LastLines("n", "n");
  ASSERT_FALSE(lines.ok());
  EXPECT_NE(lines.status().message().find("no such log"), std::string::npos) << lines.status();
  NodeConsole slow(&runner, "sleep 5", absl::Milliseconds(100));
  EXPECT_FALSE(slow.LastLines("n", "n").ok());
}

TEST(NodeConsoleTest, TheVerdictIsThePanicLine) {
  EXPECT_EQ(
      ConsoleVerdict({"[ 1.0] Kernel panic - not syncing: Attempted to kill init!",
                      "[ 1.0] CPU: 0 PID: 1 Comm: init",
                      "[ 1.0] ---[ end Kernel panic - not syncing: Attempted to kill init! ]---"}),
      "Kernel panic - not syncing: Attempted to kill init!");
  // The panic line scrolled out of the tail: the dump's closing line.
  EXPECT_EQ(ConsoleVerdict({"[ 1.0]  </TASK>", "[ 1.0] Kernel Offset: disabled",
                            "[ 1.0] ---[ end Kernel panic - not syncing: VFS: Unable to mount root "
                            "fs on unknown-block(0,0) ]---"}),
            "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)");
  EXPECT_EQ(ConsoleVerdict({"Loading Linux 6.1.0-57-amd64 ...", "Loading initial ramdisk ..."}),
            "Loading initial ramdisk ...");
  EXPECT_EQ(ConsoleVerdict({}), "");
}

TEST(NodeConsoleTest, TheSummaryIsTheVerdictAndTheLastLines) {
  EXPECT_EQ(ConsoleSummary({"a", "Kernel panic - not syncing: x", "b", "c"}, 2),
            "console: Kernel panic - not syncing: x; its last lines: b | c");
  EXPECT_EQ(ConsoleSummary({"only"}), "console: only; its last lines: only");
  EXPECT_EQ(ConsoleSummary({}), "");
}

}  // namespace
}  // namespace iommuvm
