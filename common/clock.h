#pragma once
// Clock: the only source of time for logic that has deadlines, so tests can
// advance time by hand.

#include <mutex>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace iommuvm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Returns the current wall-clock time.
  virtual absl::Time Now() const = 0;
};

// The real clock (absl::Now).
class RealClock final : public Clock {
 public:
  absl::Time Now() const override;
};

// Moves the system's wall clock (CLOCK_REALTIME) by `by`; needs root.
absl::Status StepSystemClock(absl::Duration by);

// How far `reference` (another machine's clock, read at some moment
// between `sent` and `received` on this one) is ahead of this clock,
// taking the reading to be from the midpoint (NTP's assumption of equal
// delays each way; the error is at most half the round trip).
absl::Duration ClockOffset(absl::Time sent, absl::Time received, absl::Time reference);

// A clock that only moves when told to; thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1700000000))
      : now_(start) {}
  absl::Time Now() const override;
  // Moves the clock forward by `d`.
  void Advance(absl::Duration d);

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};


}  // namespace iommuvm
