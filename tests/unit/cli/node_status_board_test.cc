#include "cli/node_status_board.h"

#include <gtest/gtest.h>

#include <sstream>

#include "absl/strings/str_split.h"

namespace iommuvm::cli {
namespace {

TEST(NodeStatusBoardTest, ALogGetsALinePerChangeAndCopyProgressInQuarters) {
  std::ostringstream out;
  NodeStatusBoard board(out, /*interactive=*/false, {"node1", "n2"});
  board.Set("node1", "connecting");
  for (int p = 0; p <= 100; ++p) board.Set("node1", "copying " + std::to_string(p) + "%");
  board.Set("node1", "copying 100%");  // no change, no line
  board.Set("n2", "registered");
  EXPECT_EQ(out.str(),
            "node1  connecting\nnode1  copying 0%\nnode1  copying 25%\nnode1  copying 50%\n"
            "node1  copying 75%\nnode1  copying 100%\nn2     registered\n");
}

// A terminal redraws every node's line in place: no line may wrap, or the
// cursor would go up too few lines.
TEST(NodeStatusBoardTest, ATerminalsLinesAreCutToItsWidth) {
  std::ostringstream out;
  NodeStatusBoard board(out, /*interactive=*/true, {"node1", "node2"}, 30);
  board.Set("node1", "failed: " + std::string(100, 'x'));
  board.Set("node2", "registered");
  std::string last = out.str().substr(out.str().rfind("\x1b[2A") + 4);
  for (absl::string_view line : absl::StrSplit(last, '\n', absl::SkipEmpty())) {
    ASSERT_EQ(line.substr(0, 4), "\x1b[2K");
    EXPECT_LT(line.size() - 4, 30u) << line;
  }
  EXPECT_NE(last.find("node2  registered"), std::string::npos) << last;
}

}  // namespace
}  // namespace iommuvm::cli
