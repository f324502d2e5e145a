// LocalFileSystem's errors: which kernel errors callers can tell apart.
#include "common/file_system.h"

#include <gtest/gtest.h>

namespace iommuvm {
namespace {

TEST(LocalFileSystemTest, AFullDiskIsResourceExhaustedNotAFault) {
  // /dev/full answers every write with ENOSPC, as a full disk does.
  LocalFileSystem files("/");
  absl::Status s = files.WriteFile("/dev/full", "a report script");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("No space left on device"), std::string::npos) << s;
}

TEST(LocalFileSystemTest, AMissingDirectoryIsNotFound) {
  LocalFileSystem files("/");
  EXPECT_TRUE(absl::IsNotFound(files.ReadFile("/nonexistent-iommuvm/x").status()));
}

}  // namespace
}  // namespace iommuvm
