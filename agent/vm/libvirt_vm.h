#pragma once
// A run's guest as a libvirt domain (vms.<name>.backend: libvirt): the
// domain XML defined and started through `virsh` against the node's
// libvirtd (qemu:///system), watched through its serial console file and
// QEMU's pid, and destroyed and undefined when the run is done — so no
// domain outlives its run, and one an agent crash left behind is removed
// when the agent starts again (RemoveLeftoverDomains).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/vm/guest_machine.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {

// Every domain iommuvm defines is called "iommuvm-<host>-<attempt>", so
// the agent that owns it can find it again.
std::string DomainName(const std::string& host_id, int64_t attempt_id);

class LibvirtVm : public GuestMachine {
 public:
  LibvirtVm(CommandRunner* runner, FileSystem* files, const Clock* clock,
            std::string uri = "qemu:///system")
      : runner_(runner), files_(files), clock_(clock), uri_(std::move(uri)) {}
  ~LibvirtVm() override { Stop(); }
  LibvirtVm(const LibvirtVm&) = delete;
  LibvirtVm& operator=(const LibvirtVm&) = delete;

  // Writes `xml` to <run_dir>/domain.xml, defines and starts it. The
  // domain's serial console must go to `console_path`. Errors carry
  // libvirt's words; nothing stays defined on error.
  absl::Status Start(const std::string& name, const std::string& xml,
                     const std::string& console_path, const std::string& run_dir);
  // libvirt's QEMU version ("QEMU 7.2.22"), from `virsh version`.
  absl::StatusOr<std::string> HypervisorVersion();
  // Pins vCPU i to cpus[i % n] with `virsh vcpupin --live`; returns
  // "vcpu0=cpu2,vcpu1=cpu3".
  absl::StatusOr<std::string> Pin(int vcpus, const std::vector<int>& cpus);

  absl::StatusOr<std::string> WaitForConsole(absl::string_view marker,
                                             absl::Duration timeout) override;
  std::string Console() const override;
  bool Running() override;
  // virsh destroy (QEMU ends at once, as QMP quit does), then undefine.
  void Stop() override;
  std::vector<std::string> QemuArgv() const override { return argv_; }
  int QemuPid() const override { return pid_; }

  // Runs virsh against this node's libvirtd; FailedPrecondition with its
  // words when it fails.
  absl::StatusOr<std::string> Virsh(std::vector<std::string> args,
                                    absl::Duration timeout = absl::Seconds(60));

 private:
  CommandRunner* runner_;
  FileSystem* files_;
  const Clock* clock_;
  std::string uri_;
  std::string name_;  // "" when nothing is defined
  std::string console_path_;
  int pid_ = 0;
  std::vector<std::string> argv_;
};

// The hypervisor libvirtd at `uri` runs ("QEMU 7.2.22"), from `virsh
// version`; FailedPrecondition with virsh's words when none answers.
absl::StatusOr<std::string> LibvirtHypervisor(CommandRunner* runner, const std::string& uri);

// Destroys and undefines the domains a previous life of agent `host_id`
// left behind (an agent killed while its guest ran); returns their names.
// Nothing when libvirt is not installed or not running.
std::vector<std::string> RemoveLeftoverDomains(CommandRunner* runner, const std::string& host_id,
                                               const std::string& uri = "qemu:///system");

}  // namespace iommuvm::agent
