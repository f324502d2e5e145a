#pragma once
// One QEMU guest as a process: started from its command line with the
// serial console going to a file in the run directory, watched for marker
// lines on that console, stopped (and always reaped) on Stop or
// destruction. QEMU's own messages land in qemu.log next to the console.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/vm/guest_machine.h"
#include "agent/vm/qemu_command.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class QemuVm : public GuestMachine {
 public:
  // QEMU runs through `runner`; its console and log are read through
  // `files` (the host's); `clock` times the boot.
  QemuVm(CommandRunner* runner, FileSystem* files, const Clock* clock)
      : runner_(runner), files_(files), clock_(clock) {}
  ~QemuVm() override { Stop(); }
  QemuVm(const QemuVm&) = delete;
  QemuVm& operator=(const QemuVm&) = delete;

  // Starts `vm` with `accel` (kvm | tcg); console.log and qemu.log go to
  // `run_dir`. QEMU runs in `run_dir`: the kernel and initrd paths must be
  // absolute. Errors when QEMU cannot be started or refuses the config.
  absl::Status Start(const v1::VmConfig& vm, const std::string& accel,
                     const std::string& run_dir);
  // The same with every launch setting (`launch.console_path` is set here).
  absl::Status Start(const v1::VmConfig& vm, QemuLaunch launch, const std::string& run_dir);
  absl::StatusOr<std::string> WaitForConsole(absl::string_view marker,
                                             absl::Duration timeout) override;
  std::string Console() const override;
  bool Running() override;
  // Stops QEMU (idempotent): `quit` over QMP when it has a QMP socket,
  // so QEMU ends cleanly; killed if it has not ended after a few seconds.
  void Stop() override;
  // The command line QEMU was started with.
  std::vector<std::string> QemuArgv() const override { return argv_; }
  int QemuPid() const override { return process_ != nullptr ? process_->pid() : 0; }
  const std::vector<std::string>& argv() const { return argv_; }
  // Time from Start to now.
  absl::Duration Uptime() const { return clock_->Now() - started_; }

 private:
  std::string ReadAll(const std::string& path) const;

  CommandRunner* runner_;
  FileSystem* files_;
  const Clock* clock_;
  std::unique_ptr<Process> process_;
  std::string console_path_;
  std::string log_path_;
  std::string qmp_socket_;
  std::vector<std::string> argv_;
  absl::Time started_;
};

}  // namespace iommuvm::agent
