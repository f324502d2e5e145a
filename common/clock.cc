#include "common/clock.h"

#include "absl/time/clock.h"

namespace iommuvm {

absl::Time RealClock::Now() const { return absl::Now(); }

absl::Time FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

}  // namespace iommuvm
