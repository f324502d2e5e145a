#pragma once
// Servers and load generators run with their attempt's run directory as
// working directory (<state_dir>/runs/a<attempt>/). A process whose working
// directory is there after the agent (re)starts was started by an earlier
// life of this agent that died (kill -9, a crash): its parent-death signal
// reached only the direct child, so e.g. nginx workers live on, keep
// serving, and would be measured by the next run. The agent kills them
// before it registers.

#include <string>
#include <vector>

#include "common/file_system.h"

namespace iommuvm::agent {

struct LeftoverProcess {
  int pid = 0;
  std::string comm;  // the program's name (/proc/<pid>/comm)
  std::string cwd;
};

// Processes under `proc_root` (normally "/proc") whose working directory
// is inside `runs_dir`. Reads only.
std::vector<LeftoverProcess> FindLeftovers(const std::string& proc_root,
                                           const std::string& runs_dir);

// Kills (SIGKILL) every leftover of `runs_dir` on this machine and waits
// up to a second for them to go; returns what it killed.
std::vector<LeftoverProcess> KillLeftovers(const std::string& runs_dir);

}  // namespace iommuvm::agent
