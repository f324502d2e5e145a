#pragma once
// Waiting for a line on a guest's serial console file: how every backend
// learns that the guest (its agent) has come up.

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct ConsoleWatch {
  const FileSystem* files;
  const Clock* clock;
  std::string console_path;
  std::string log_path;                 // QEMU's own messages (its stderr, libvirt's log)
  std::function<bool()> alive;          // does the guest still run?
  std::function<std::string()> ending;  // how it ended ("exited with status 1")
};

// The last 600 characters of `path`, on one line (" | " between lines).
std::string FileTail(const FileSystem& files, const std::string& path);

// The console up to and including the first line holding `marker`.
// DeadlineExceeded after `timeout` (with the console's tail);
// FailedPrecondition when the guest ends first (with QEMU's log and the
// console's tail).
absl::StatusOr<std::string> WaitForConsoleLine(const ConsoleWatch& watch, absl::string_view marker,
                                               absl::Duration timeout);

}  // namespace iommuvm::agent
