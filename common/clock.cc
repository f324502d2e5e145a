#include "common/clock.h"

#include <time.h>

#include <cerrno>

#include "absl/time/clock.h"

namespace iommuvm {

absl::Time RealClock::Now() const { return absl::Now(); }

absl::Status StepSystemClock(absl::Duration by) {
  timespec now;
  if (::clock_gettime(CLOCK_REALTIME, &now) != 0) {
    return absl::ErrnoToStatus(errno, "clock_gettime");
  }
  timespec to = absl::ToTimespec(absl::TimeFromTimespec(now) + by);
  if (::clock_settime(CLOCK_REALTIME, &to) != 0) {
    return absl::ErrnoToStatus(errno, "clock_settime");
  }
  return absl::OkStatus();
}

absl::Duration ClockOffset(absl::Time sent, absl::Time received, absl::Time reference) {
  return reference - (sent + (received - sent) / 2);
}

absl::Time FakeClock::Now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void FakeClock::Advance(absl::Duration d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

}  // namespace iommuvm
