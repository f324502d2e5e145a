#pragma once
// A running guest as GuestVm drives it, whoever runs it: iommuvm's own
// QEMU process (QemuVm) or a libvirt domain (LibvirtVm). Both write the
// guest's serial console to a file, watched for marker lines.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace iommuvm::agent {

class GuestMachine {
 public:
  virtual ~GuestMachine() = default;
  // Returns the console text up to and including the first line holding
  // `marker`, once it appears. DeadlineExceeded after `timeout`;
  // FailedPrecondition when the guest ends first (with QEMU's last words).
  virtual absl::StatusOr<std::string> WaitForConsole(absl::string_view marker,
                                                     absl::Duration timeout) = 0;
  // The whole console so far.
  virtual std::string Console() const = 0;
  // True while the guest runs (a guest that powered off has ended).
  virtual bool Running() = 0;
  // Stops the guest and releases what it held (idempotent).
  virtual void Stop() = 0;
  // The QEMU command line the guest runs under.
  virtual std::vector<std::string> QemuArgv() const = 0;
  // QEMU's pid (0 when it is not running): its threads' CPU is the host's
  // telemetry of a VM run.
  virtual int QemuPid() const = 0;
};

}  // namespace iommuvm::agent
