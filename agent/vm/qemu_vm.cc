#include "agent/vm/qemu_vm.h"

#include "absl/strings/str_cat.h"
#include "agent/vm/console_watch.h"
#include "agent/vm/qmp_client.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// The file so far ("" before QEMU created it).
std::string QemuVm::ReadAll(const std::string& path) const {
  return files_->ReadFile(path).value_or("");
}

absl::Status QemuVm::Start(const v1::VmConfig& vm, const std::string& accel,
                           const std::string& run_dir) {
  QemuLaunch launch;
  launch.accel = accel;
  return Start(vm, std::move(launch), run_dir);
}

absl::Status QemuVm::Start(const v1::VmConfig& vm, QemuLaunch launch, const std::string& run_dir) {
  Stop();
  console_path_ = run_dir + "/console.log";
  log_path_ = run_dir + "/qemu.log";
  for (const std::string& path : {console_path_, log_path_}) {
    absl::Status emptied = files_->WriteFile(path, "");
    if (!emptied.ok()) return emptied;
  }
  launch.console_path = console_path_;
  qmp_socket_ = launch.qmp_socket;
  for (const std::string& path : {vm.kernel(), vm.initrd()}) {
    if (!path.empty() && path[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("guest image path '", path, "' is relative; QEMU runs in ", run_dir));
    }
  }
  auto argv = QemuCommandLine(vm, launch);
  if (!argv.ok()) return argv.status();
  argv_ = *argv;
  CommandSpec spec;
  spec.argv = std::move(*argv);
  spec.cwd = run_dir;
  spec.log_path = log_path_;
  started_ = clock_->Now();
  auto process = runner_->Start(spec);
  if (!process.ok()) return process.status();
  process_ = std::move(*process);
  return absl::OkStatus();
}

std::string QemuVm::Console() const { return console_path_.empty() ? "" : ReadAll(console_path_); }

absl::StatusOr<std::string> QemuVm::WaitForConsole(absl::string_view marker,
                                                    absl::Duration timeout) {
  ConsoleWatch watch{files_,
                     clock_,
                     console_path_,
                     log_path_,
                     [this] { return process_ != nullptr && process_->Running(); },
                     [this] { return process_ ? process_->ExitDescription() : "not started"; }};
  return WaitForConsoleLine(watch, marker, timeout);
}

bool QemuVm::Running() { return process_ != nullptr && process_->Running(); }

void QemuVm::Stop() {
  if (process_ != nullptr && process_->Running() && !qmp_socket_.empty()) {
    // A clean end: QEMU flushes and releases its devices (tap, VFIO).
    if (QmpExecute(qmp_socket_, "quit", absl::Seconds(2), clock_).ok()) {
      absl::Time deadline = clock_->Now() + absl::Seconds(5);
      while (process_->Running() && clock_->Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    }
  }
  if (process_ != nullptr) process_->Stop(absl::Seconds(2));
  process_.reset();
}

}  // namespace iommuvm::agent
