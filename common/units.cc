#include "common/units.h"

#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace iommuvm {
namespace {

// Splits "12.5GiB" into ("12.5", "GiB").
std::pair<absl::string_view, absl::string_view> SplitNumber(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && (absl::ascii_isdigit(text[i]) || text[i] == '.')) ++i;
  return {text.substr(0, i), text.substr(i)};
}

}  // namespace

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  auto [num, unit] = SplitNumber(text);
  double value = 0;
  if (num.empty() || !absl::SimpleAtod(num, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a duration; write a number and a unit: 250ms, 30s, 5m, 1h"));
  }
  if (unit == "ms") return absl::Milliseconds(value);
  if (unit == "s") return absl::Seconds(value);
  if (unit == "m") return absl::Minutes(value);
  if (unit == "h") return absl::Hours(value);
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "' has ", unit.empty() ? "no unit" : absl::StrCat("unit '", unit, "'"),
      "; allowed units: ms, s, m, h (e.g. 30s)"));
}

absl::StatusOr<uint64_t> ParseSize(absl::string_view text) {
  auto [num, unit] = SplitNumber(text);
  uint64_t value = 0;
  if (num.empty() || !absl::SimpleAtoi(num, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a size; write an integer with an optional unit: 64, 4KiB, 16GiB"));
  }
  static const std::pair<absl::string_view, uint64_t> kUnits[] = {
      {"", 1},          {"B", 1},
      {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
      {"KB", 1000},     {"MB", 1000000},      {"GB", 1000000000},  {"TB", 1000000000000}};
  for (const auto& [name, mult] : kUnits) {
    if (unit == name) {
      if (value > UINT64_MAX / mult) {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' is too large"));
      }
      return value * mult;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "' has unknown unit '", unit, "'; allowed: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB"));
}

absl::StatusOr<uint64_t> ParseRate(absl::string_view original) {
  absl::string_view text = original;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", original, "' ", why, "; write requests per second: 50000/s, 50k/s, 1.5M/s"));
  };
  if (!absl::ConsumeSuffix(&text, "/s")) return bad("is not a rate");
  auto [num, unit] = SplitNumber(text);
  double value = 0;
  if (num.empty() || !absl::SimpleAtod(num, &value) || !std::isfinite(value)) {
    return bad("is not a rate");
  }
  double mult = 1;
  if (unit == "k") {
    mult = 1e3;
  } else if (unit == "M") {
    mult = 1e6;
  } else if (!unit.empty()) {
    return bad(absl::StrCat("has unknown multiplier '", unit, "' (allowed: k, M)"));
  }
  double rate = value * mult;
  if (rate < 1 || rate > 1e12) return bad("is out of range (1/s to 1000000M/s)");
  return static_cast<uint64_t>(std::llround(rate));
}

std::string SpecRate(uint64_t per_second) {
  if (per_second >= 1000000 && per_second % 1000000 == 0) {
    return absl::StrCat(per_second / 1000000, "M/s");
  }
  if (per_second >= 1000 && per_second % 1000 == 0) return absl::StrCat(per_second / 1000, "k/s");
  return absl::StrCat(per_second, "/s");
}

std::string SpecDuration(absl::Duration d) {
  if (d % absl::Hours(1) == absl::ZeroDuration() && d >= absl::Hours(1)) {
    return absl::StrCat(d / absl::Hours(1), "h");
  }
  if (d % absl::Minutes(1) == absl::ZeroDuration() && d >= absl::Minutes(1)) {
    return absl::StrCat(d / absl::Minutes(1), "m");
  }
  if (d % absl::Seconds(1) == absl::ZeroDuration()) {
    return absl::StrCat(d / absl::Seconds(1), "s");
  }
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

std::string HumanBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

}  // namespace iommuvm
