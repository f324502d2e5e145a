#pragma once
// A node's serial console, read through the operator's own command
// (`iommuvm-controller --console_command`): the one account of a node that
// hung or panicked in a boot before its agent could say anything. On
// CloudLab/Emulab the consoles are logged on the ops host (e.g.
// `ssh ops tail -n 40 /var/log/tiplogs/{hostname}.run`); elsewhere IPMI's
// serial-over-LAN log or a QEMU guest's console file.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_runner.h"

namespace iommuvm {

class NodeConsole {
 public:
  // `command` runs under `sh -c` with "{node}" and "{hostname}" replaced by
  // the agent id and its host name (each as one shell word).
  NodeConsole(CommandRunner* runner, std::string command,
              absl::Duration timeout = absl::Seconds(10), size_t lines = 40);

  // The last printable lines the command printed (escape sequences and
  // carriage returns removed); an error names the command and how it ended.
  absl::StatusOr<std::vector<std::string>> LastLines(const std::string& node,
                                                     const std::string& hostname) const;

 private:
  CommandRunner* runner_;
  std::string command_;
  absl::Duration timeout_;
  size_t lines_;
};

// What a console's tail says happened: the kernel's panic or oops message
// when there is one ("Kernel panic - not syncing: ..."), else the last line
// ("" for none).
std::string ConsoleVerdict(const std::vector<std::string>& lines);

// "console: VERDICT; its last lines: A | B | C" (the last `tail` lines):
// what an error says of a console ("" for none).
std::string ConsoleSummary(const std::vector<std::string>& lines, size_t tail = 5);

}  // namespace iommuvm
