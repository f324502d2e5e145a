#pragma once
// CommandRunner: every external program the daemons run (servers, load
// generators, update-grub, kexec, ethtool, qemu) goes through this
// interface, so logic is testable with a fake and every failure carries the
// tool's own message.

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace iommuvm {

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string cwd;                // empty: inherit
  std::vector<std::string> env;   // KEY=VALUE entries overriding the inherited ones
  absl::Duration timeout = absl::InfiniteDuration();  // Run only
  std::string log_path;  // Start only: stdout+stderr appended here
  const std::atomic<bool>* cancel = nullptr;  // Run only: checked every 50 ms
  // Run only: called with each chunk of stdout / stderr as it arrives
  // (progress; some tools report it on stderr).
  std::function<void(absl::string_view)> on_stdout;
  std::function<void(absl::string_view)> on_stderr;
};

struct CommandResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // signal that ended it, 0 if it exited
  bool timed_out = false;
  bool cancelled = false;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0 && !timed_out && !cancelled; }
  // One line describing how it ended plus the tail of stderr (or stdout).
  std::string Describe(const std::string& tool) const;
};

// A started long-running child process (its own process group). The whole
// group dies with the thread that started it (PR_SET_PDEATHSIG on the child,
// and a guardian that kills the group, so what the child forked goes too:
// no server outlives a killed agent), so start them from long-lived threads.
class Process {
 public:
  virtual ~Process() = default;
  // The child's pid.
  virtual pid_t pid() const = 0;
  // True while the child has not exited.
  virtual bool Running() = 0;
  // SIGTERM to the group, then SIGKILL after `grace`; waits until reaped.
  virtual void Stop(absl::Duration grace) = 0;
  // Exit description once it has ended (e.g. "exited with status 1").
  virtual std::string ExitDescription() = 0;
};

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs to completion (or timeout/cancel, which kill it), capturing output.
  // Errors only when the program cannot be started (e.g. not installed).
  virtual absl::StatusOr<CommandResult> Run(const CommandSpec& spec) = 0;
  // Starts a long-running program with output to spec.log_path.
  virtual absl::StatusOr<std::unique_ptr<Process>> Start(const CommandSpec& spec) = 0;
  // Absolute path of `tool` in PATH, or NotFound naming the PATH searched.
  virtual absl::StatusOr<std::string> Which(const std::string& tool) const = 0;
};

// Runs real programs with fork/exec.
class LocalCommandRunner final : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const CommandSpec& spec) override;
  absl::StatusOr<std::unique_ptr<Process>> Start(const CommandSpec& spec) override;
  absl::StatusOr<std::string> Which(const std::string& tool) const override;
};

}  // namespace iommuvm
