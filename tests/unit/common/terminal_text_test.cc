#include "common/terminal_text.h"

#include <gtest/gtest.h>

namespace iommuvm {
namespace {

TEST(TerminalTextTest, StripsEscapeSequences) {
  EXPECT_EQ(StripTerminalEscapes("a\x1b[1;1H\x1b[2Jb"), "ab");               // memaslap's redraw
  EXPECT_EQ(StripTerminalEscapes("\x1b[2;35msockperf\x1b[0m"), "sockperf");  // colour
  EXPECT_EQ(StripTerminalEscapes("\x1b"
                                 "cSeaBIOS"),
            "SeaBIOS");                                 // a terminal reset
  EXPECT_EQ(StripTerminalEscapes("cut\x1b[1"), "cut");  // cut mid-sequence
}

// What a serial console log looks like: firmware redraws, CRLF line ends,
// blank lines.
TEST(TerminalTextTest, LastPrintableLinesOfAConsole) {
  std::string console =
      "\x1b[2J\x1b[01;01HSeaBIOS (version 1.16.2)\r\n\r\n"
      "[    1.204] VFS: Cannot open root device \"vda9\"\r\n"
      "[    1.205] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n"
      "\r\n   \r\n";
  EXPECT_EQ(LastPrintableLines(console, 2),
            (std::vector<std::string>{"[    1.204] VFS: Cannot open root device \"vda9\"",
                                      "[    1.205] Kernel panic - not syncing: VFS: Unable to "
                                      "mount root fs"}));
  EXPECT_EQ(LastPrintableLines(console, 10).front(), "SeaBIOS (version 1.16.2)");
  EXPECT_TRUE(LastPrintableLines("\r\n\x1b[0m\n", 5).empty());
}

}  // namespace
}  // namespace iommuvm
