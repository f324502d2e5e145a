#include "agent/telemetry/per_cpu_table.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {

absl::StatusOr<PerCpuTable> ParsePerCpuTable(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::DataLossError("empty per-CPU table");
  std::vector<int> cpus;
  for (absl::string_view h : absl::StrSplit(lines[0], ' ', absl::SkipEmpty())) {
    int id = 0;
    if (!absl::ConsumePrefix(&h, "CPU") || !absl::SimpleAtoi(h, &id)) {
      return absl::DataLossError("per-CPU table header is not CPU0 CPU1 ...");
    }
    cpus.push_back(id);
  }
  PerCpuTable t;
  for (size_t i = 1; i < lines.size(); ++i) {
    absl::string_view line = absl::StripLeadingAsciiWhitespace(lines[i]);
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    std::string key(line.substr(0, colon));
    std::vector<absl::string_view> f =
        absl::StrSplit(line.substr(colon + 1), absl::ByAnyChar(" \t"), absl::SkipEmpty());
    PerCpuTable::Row row;
    size_t n = 0;
    for (; n < f.size() && n < cpus.size(); ++n) {
      uint64_t v = 0;
      if (!absl::SimpleAtoi(f[n], &v)) break;
      row.per_cpu[cpus[n]] = v;
    }
    std::vector<absl::string_view> rest(f.begin() + static_cast<ptrdiff_t>(n), f.end());
    row.description = absl::StrJoin(rest, " ");
    t.rows[key] = std::move(row);
  }
  return t;
}

uint64_t RowDelta(const PerCpuTable::Row& before, const PerCpuTable::Row& after) {
  uint64_t sum = 0;
  for (const auto& [cpu, now] : after.per_cpu) {
    auto it = before.per_cpu.find(cpu);
    if (it == before.per_cpu.end()) continue;  // came online: no baseline yet
    // The kernel keeps these as unsigned int: a smaller value wrapped.
    sum += now >= it->second ? now - it->second : now + (1ull << 32) - it->second;
  }
  return sum;
}

}  // namespace iommuvm::agent
