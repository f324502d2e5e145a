#pragma once
// Reading what tests compare against: tool outputs recorded under
// tests/fixtures/ and files of the source tree (dashboards, docs).

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace iommuvm::testing {

// The whole file at `path`; "" and a test failure when it is missing or
// empty.
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << path << " is missing or empty";
  return ss.str();
}

// tests/fixtures/<name>.
inline std::string Fixture(const std::string& name) {
  return ReadWholeFile(std::string(IOMMUVM_SOURCE_DIR "/tests/fixtures/") + name);
}

}  // namespace iommuvm::testing
