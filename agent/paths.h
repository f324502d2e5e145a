#pragma once
// The agent's on-disk layout, all under its state directory:
//
//   <state_dir>/outbox.db          data messages not yet acked + finished steps
//   <state_dir>/pending_boot       a mode switch waiting for its reboot
//   <state_dir>/runs/a<attempt>/   per-attempt working directory (configs,
//                                  server logs, generator output); removed
//                                  when the attempt's server is stopped

#include <string>

#include "absl/strings/str_cat.h"

namespace iommuvm::agent {

inline std::string OutboxPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/outbox.db");
}

// A switch whose reboot is under way, finished by the next boot's agent.
inline std::string PendingSwitchPath(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/pending_boot");
}

inline std::string RunsRoot(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/runs");
}

// The directory of the node's guest (a VM run's QEMU: console, QMP socket),
// which may serve several attempts.
inline std::string GuestDir(const std::string& state_dir) {
  return absl::StrCat(state_dir, "/runs/guest");
}

inline std::string RunDir(const std::string& state_dir, int64_t attempt_id) {
  return absl::StrCat(state_dir, "/runs/a", attempt_id);
}

}  // namespace iommuvm::agent
