#pragma once
// The guest of a VM run: QEMU started from the run's VmConfig — by iommuvm
// itself (backend qemu, with QMP for a clean stop) or as a libvirt domain
// (backend libvirt, generated or from the user's template) — with its data
// NIC on a tap the host puts on its data-plane bridge and a second NIC for
// the guest agent's session with the controller. The
// guest image's init (agent/vm/guest/init) reads its settings from the
// kernel command line (iommuvm.*), brings up both NICs and starts
// iommuvm-agent, which registers as a node of its own ("<host>/<vm>").
// Launch returns once that agent has connected to the controller.

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/node/vfio.h"
#include "agent/vm/guest_machine.h"
#include "agent/vm/qemu_vm.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

// What the host agent knows and the run's step does not: where guests go.
struct GuestHost {
  std::string host_id;             // this agent's id: the guests' parent
  std::string controller_address;  // as this agent reaches the controller
  std::string bridge;              // the data-plane bridge guests' taps join
  std::string guest_address;       // the guest's data address, CIDR ("10.0.2.2/24")
  std::string gateway;             // the guest's default route ("" = none)
  std::string guest_dir;           // default image: <dir>/vmlinuz and <dir>/initrd.cpio
  std::string qemu_binary = "qemu-system-x86_64";
  std::string data_nic;  // the host's data NIC (pin: auto takes its NUMA node's CPUs)
  std::string libvirt_uri = "qemu:///system";  // backend libvirt: the libvirtd to use
  Vfio* vfio = nullptr;                        // nic vfio-vf: hands the data NIC's VFs to guests
  // This agent's --tls_dir: its guests get ca.crt and its certificate in
  // their initramfs (initrd_overlay.h) and register with it. "" = plaintext.
  std::string tls_dir;
};

// The controller address as the guest reaches it: QEMU's user network
// gives the host's loopback to the guest as 10.0.2.2.
std::string GuestControllerAddress(const std::string& host_view);

// The guest's initramfs for a run: `initrd` with the host's CA certificate
// and its agent certificate and key added under /etc/iommuvm/tls, written
// (0600) in `run_dir`; returns its path.
absl::StatusOr<std::string> InitrdWithCertificate(FileSystem* files, const GuestHost& host,
                                                  const std::string& initrd,
                                                  const std::string& run_dir);

// The guest kernel parameters the image's init reads.
std::string GuestAgentParams(const GuestHost& host, const std::string& guest_id,
                             const std::string& data_mac, const std::string& control_mac);

class GuestVm {
 public:
  GuestVm(CommandRunner* runner, FileSystem* files, const Clock* clock)
      : runner_(runner), files_(files), clock_(clock) {}
  ~GuestVm() { Stop(); }

  // Boots `launch.vm()` for attempt `attempt_id` in `run_dir` and waits up
  // to `timeout` (or until `cancel`) for its agent to connect. Errors carry
  // the console's tail; the guest is stopped on any error.
  absl::StatusOr<v1::VmOutcome> Launch(const v1::LaunchVm& launch, const GuestHost& host,
                                       int64_t attempt_id, const std::string& run_dir,
                                       absl::Duration timeout, const std::atomic<bool>* cancel);
  bool Running() { return machine_ != nullptr && machine_->Running(); }
  int QemuPid() const { return machine_ != nullptr ? machine_->QemuPid() : 0; }
  // QMP quit (or virsh destroy and undefine), else killed; the tap goes
  // with QEMU, an assigned VF back to its driver. Idempotent.
  void Stop();

 private:
  // Starts QEMU itself; fills the outcome's QEMU facts.
  absl::Status StartQemu(const v1::LaunchVm& launch, v1::VmConfig vm, QemuLaunch q,
                         const GuestHost& host, const std::string& run_dir, v1::VmOutcome* out);
  // Defines and starts the libvirt domain; fills the outcome's QEMU facts.
  absl::Status StartLibvirt(const v1::LaunchVm& launch, const v1::VmConfig& vm, const QemuLaunch& q,
                            const GuestHost& host, int64_t attempt_id, const std::string& run_dir,
                            v1::VmOutcome* out);
  absl::Status AttachTap(QemuVm& qemu, const std::string& tap, const std::string& bridge,
                         absl::Duration timeout);
  // The hugetlbfs mount to back `memory_bytes` of guest RAM, when enough
  // hugepages are free; else why not and how to reserve them.
  absl::StatusOr<std::string> HugepagesFor(uint64_t memory_bytes);
  // Pins the vCPU threads as `vm.pin()` says; returns what was done.
  absl::StatusOr<std::string> Pin(const v1::VmConfig& vm, const std::string& data_nic,
                                  const std::string& qmp_socket);

  // nic vfio-vf: the VF for the guest (chosen and bound, or the spec's).
  absl::Status AssignVf(const GuestHost& host, const std::string& mac, v1::VmConfig* vm,
                        v1::VmOutcome* out);

  CommandRunner* runner_;
  FileSystem* files_;
  const Clock* clock_;
  std::unique_ptr<GuestMachine> machine_;
  Vfio* vfio_ = nullptr;
  std::optional<AssignedVf> vf_;
};

}  // namespace iommuvm::agent
