#include "agent/leftover_processes.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"

namespace iommuvm::agent {

std::vector<LeftoverProcess> FindLeftovers(const std::string& proc_root,
                                           const std::string& runs_dir) {
  std::vector<LeftoverProcess> out;
  std::error_code ec;
  std::string prefix = runs_dir + "/";
  int self = ::getpid();
  for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid == self) continue;
    std::error_code link_ec;
    std::string cwd = std::filesystem::read_symlink(entry.path() / "cwd", link_ec).string();
    if (link_ec) continue;  // gone, or a kernel thread
    if (cwd != runs_dir && !absl::StartsWith(cwd, prefix)) continue;
    LeftoverProcess p;
    p.pid = pid;
    p.cwd = cwd;
    std::ifstream comm(entry.path() / "comm");
    std::getline(comm, p.comm);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<LeftoverProcess> KillLeftovers(const std::string& runs_dir) {
  std::vector<LeftoverProcess> found = FindLeftovers("/proc", runs_dir);
  for (const LeftoverProcess& p : found) ::kill(p.pid, SIGKILL);
  absl::Time deadline = absl::Now() + absl::Seconds(1);
  while (absl::Now() < deadline && !FindLeftovers("/proc", runs_dir).empty()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return found;
}

}  // namespace iommuvm::agent
