#pragma once
// DatabaseLock: one controller per database file. An exclusive flock(2) on
// the file itself, held for the controller's life. flock locks are
// independent of the POSIX record locks SQLite takes, so they neither block
// nor disturb it; the descriptor must stay open while SQLite uses the file
// (closing any descriptor of a file drops the process's record locks), so
// the lock outlives the store.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace iommuvm::store {

class DatabaseLock {
 public:
  // Opens (creating) `path` and locks it. FailedPrecondition naming the
  // file when another process holds it or it cannot be opened.
  static absl::StatusOr<std::unique_ptr<DatabaseLock>> Acquire(const std::string& path);
  ~DatabaseLock();
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;

 private:
  explicit DatabaseLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace iommuvm::store
