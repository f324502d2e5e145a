#pragma once
// FileSystem: every path the daemons read or write goes through this
// interface, rooted at a sysroot ("/" in production), so logic that reads
// /proc and /sys is tested on fixture trees without root.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace iommuvm {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Returns the whole content of the file at `path` (absolute, below root).
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) const = 0;
  // Replaces the file at `path` with `content`, creating parent directories.
  virtual absl::Status WriteFile(const std::string& path,
                                 const std::string& content) = 0;
  // Adds `content` at the end of the file at `path` (created if missing):
  // for files too big to hold in memory at once.
  virtual absl::Status AppendFile(const std::string& path, absl::string_view content) = 0;
  // True when `path` exists (following symlinks).
  virtual bool Exists(const std::string& path) const = 0;
  // Names (not paths) of the entries of directory `path`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) const = 0;
  // Target of the symlink at `path`, as stored.
  virtual absl::StatusOr<std::string> ReadLink(const std::string& path) const = 0;
  // Creates directory `path` and its parents.
  virtual absl::Status MakeDirs(const std::string& path) = 0;
  // Removes `path` recursively; missing is not an error.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  // The host path that `path` maps to (for handing to child processes).
  virtual std::string HostPath(const std::string& path) const = 0;
};

// `path` made absolute against the working directory, normalized (for
// paths the user gives that a child process with another cwd will use).
std::string AbsolutePath(const std::string& path);

// A small file's content without surrounding whitespace ("" when it
// cannot be read): the shape of most /proc and /sys attributes.
std::string ReadTrimmed(const FileSystem& fs, const std::string& path);

// FileSystem backed by the real one, with every path prefixed by `root`.
class LocalFileSystem final : public FileSystem {
 public:
  explicit LocalFileSystem(std::string root = "/");
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override;
  absl::Status WriteFile(const std::string& path,
                         const std::string& content) override;
  absl::Status AppendFile(const std::string& path, absl::string_view content) override;
  bool Exists(const std::string& path) const override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& path) const override;
  absl::StatusOr<std::string> ReadLink(const std::string& path) const override;
  absl::Status MakeDirs(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  std::string HostPath(const std::string& path) const override;

 private:
  std::string root_;
};

}  // namespace iommuvm
