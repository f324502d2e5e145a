// Long texts kept as their head and tail.
#include "common/head_and_tail.h"

#include <gtest/gtest.h>

#include "common/units.h"

namespace iommuvm {
namespace {

TEST(HeadAndTailTest, KeepsBothEndsAndSaysWhatWasLeftOut) {
  EXPECT_EQ(HeadAndTail("short", 10), "short");
  std::string big = std::string(100, 'a') + std::string(100, 'b');
  std::string kept = HeadAndTail(big, 20);
  EXPECT_EQ(kept, std::string(10, 'a') + "\n[... 180 of 200 bytes left out ...]\n" +
                      std::string(10, 'b'));
}

}  // namespace
}  // namespace iommuvm
