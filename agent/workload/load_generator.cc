#include "agent/workload/load_generator.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/redis_benchmark.h"

namespace iommuvm::agent {

absl::StatusOr<std::unique_ptr<LoadGenerator>> MakeLoadGenerator(const std::string& tool,
                                                                 CommandRunner* runner) {
  if (tool == "redis-benchmark") return std::unique_ptr<LoadGenerator>(new RedisBenchmark(runner));
  return absl::InvalidArgumentError(absl::StrCat("unknown load generator '", tool, "'"));
}

}  // namespace iommuvm::agent
