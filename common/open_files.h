#pragma once
// The process's open-files limit: a controller holds one socket per agent,
// and the common soft limit of 1,024 stops it near a thousand agents while
// the hard limit (often 524,288 under systemd) allows far more.

#include <cstdint>

namespace iommuvm {

struct OpenFilesLimit {
  uint64_t before = 0;  // the soft limit found
  uint64_t now = 0;     // the soft limit after raising it
  uint64_t in_use = 0;  // descriptors open when it was raised
};

// Raises the soft RLIMIT_NOFILE to the hard limit; what it was and is.
OpenFilesLimit RaiseOpenFilesLimit();

// How many of `limit` descriptors agent sessions may take when `in_use`
// are open already and `headroom` stay free for everything else (the CLI,
// /metrics scrapes, the database, commands the controller runs).
uint64_t AgentCapacity(const OpenFilesLimit& limit, uint64_t headroom);

}  // namespace iommuvm
