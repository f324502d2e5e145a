#pragma once
// Clock: the only source of time for logic that has deadlines, so tests can
// advance time by hand.

#include <mutex>

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
