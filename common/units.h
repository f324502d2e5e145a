#pragma once
// Strict parsers for the quantities researchers write in specs and flags:
// durations ("250ms", "30s", "5m", "1h"), sizes ("64", "4KiB", "16GiB",
// "1MB"), rates ("50k/s") and plain counts. Anything else is an error saying what is allowed.

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace iommuvm {

// Parses "<number><unit>" with unit ms, s, m or h; the number may have a
// fraction ("1.5s"). A bare number is rejected (the unit is not guessable).
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

// Parses a byte size: a plain integer is bytes; suffixes B, KiB, MiB, GiB,
// TiB (powers of 1024) and KB, MB, GB, TB (powers of 1000).
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

// Parses a request rate "<number>[k|M]/s": "50000/s", "50k/s", "1.5M/s".
// Returns requests per second (at least 1).
absl::StatusOr<uint64_t> ParseRate(absl::string_view text);

// Formats a duration the way ParseDuration reads it ("1m30s" -> "90s").
std::string SpecDuration(absl::Duration d);
// Formats a rate the way ParseRate reads it (50000 -> "50k/s").
std::string SpecRate(uint64_t per_second);
// A byte count for people, in powers of 1024 with one decimal: "512 B",
// "1.0 MiB", "4.1 GiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace iommuvm
