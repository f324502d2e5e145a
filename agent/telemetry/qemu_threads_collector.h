#pragma once
// The host's side of a VM run: the CPU a guest's QEMU spends, from
// /proc/<pid>/task/*/stat, in cores (CPU-seconds per second) —
//   qemu_cpu_cores           all of QEMU's own threads
// and, when QEMU names its threads (-name ...,debug-threads=on, as iommuvm
// and libvirt start it), that split into
//   qemu_vcpu_cpu_cores      its vCPU threads ("CPU 0/KVM", "CPU 1/TCG")
//   qemu_emulator_cpu_cores  the rest of QEMU: main loop, I/O threads, RCU
//   vhost_cpu_cores          vhost-net workers: threads "vhost-<pid>" inside
//                            QEMU (kernel >= 6.4) or kernel threads of that
//                            name (before), which do the guest NIC's copying
// A vCPU thread is busy for everything the guest does (and, under TCG,
// for emulating it); the emulator and vhost shares are the device
// emulation an IOMMU mode can make dearer.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "agent/telemetry/collector.h"
#include "common/file_system.h"

namespace iommuvm::agent {

class QemuThreadsCollector final : public Collector {
 public:
  QemuThreadsCollector(const FileSystem* fs, int qemu_pid) : fs_(fs), pid_(qemu_pid) {}
  std::string name() const override { return "qemu_threads"; }
  absl::Status Collect(absl::Time now, std::vector<v1::MetricSample>* out) override;

  // A /proc/.../stat line's comm and utime+stime in clock ticks.
  struct ThreadTime {
    std::string comm;
    uint64_t ticks = 0;
  };
  static std::optional<ThreadTime> ParseStat(absl::string_view line);

 private:
  // Ticks per class ("vcpu", "emulator", "vhost") now, and whether any
  // thread was a named vCPU.
  absl::StatusOr<std::map<std::string, uint64_t>> Read(bool* named) const;
  const FileSystem* fs_;
  int pid_;
  std::optional<std::pair<absl::Time, std::map<std::string, uint64_t>>> previous_;
};

}  // namespace iommuvm::agent
