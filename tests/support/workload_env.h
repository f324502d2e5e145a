#pragma once
// Servers and generators in tests: the given runner (real or fake), the
// host's files (run directories are scratch directories) and real time.

#include "agent/workload/workload_env.h"
#include "common/clock.h"
#include "common/file_system.h"

namespace iommuvm::testing {

inline agent::WorkloadEnv HostEnv(CommandRunner* runner) {
  static LocalFileSystem files("/");
  static RealClock clock;
  return agent::WorkloadEnv{runner, &files, &clock};
}

}  // namespace iommuvm::testing
