// A FileSystem that forwards every call to a LocalFileSystem: a test
// overrides the one call whose answer it needs to change (a write the
// kernel ignores, a disk that is full).
#pragma once

#include <string>
#include <vector>

#include "common/file_system.h"

namespace iommuvm::testing {

class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(const std::string& root) : fs_(root) {}
  absl::StatusOr<std::string> ReadFile(const std::string& p) const override {
    return fs_.ReadFile(p);
  }
  absl::Status WriteFile(const std::string& p, const std::string& c) override {
    return fs_.WriteFile(p, c);
  }
  absl::Status AppendFile(const std::string& p, absl::string_view c) override {
    return fs_.AppendFile(p, c);
  }
  bool Exists(const std::string& p) const override { return fs_.Exists(p); }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& p) const override {
    return fs_.ListDir(p);
  }
  absl::StatusOr<std::string> ReadLink(const std::string& p) const override {
    return fs_.ReadLink(p);
  }
  absl::Status MakeDirs(const std::string& p) override { return fs_.MakeDirs(p); }
  absl::Status RemoveAll(const std::string& p) override { return fs_.RemoveAll(p); }
  std::string HostPath(const std::string& p) const override { return fs_.HostPath(p); }

 protected:
  LocalFileSystem fs_;
};

}  // namespace iommuvm::testing
