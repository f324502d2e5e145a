#pragma once
// What servers and load generators touch outside themselves: the programs
// they run, the files of their run directory, the time. Injected so tests
// can fake each and so nothing in agent/workload reaches the host directly
// (scripts/check-sources).

#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

struct WorkloadEnv {
  CommandRunner* runner = nullptr;
  FileSystem* files = nullptr;  // the host's: run directories
  const Clock* clock = nullptr;
};

}  // namespace iommuvm::agent
