#include "agent/workload/application.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/redis_server.h"

namespace iommuvm::agent {

absl::StatusOr<std::unique_ptr<Application>> MakeApplication(const std::string& app,
                                                             CommandRunner* runner) {
  if (app == "redis") return std::unique_ptr<Application>(new RedisServer(runner));
  return absl::InvalidArgumentError(absl::StrCat("unknown application '", app, "'"));
}

}  // namespace iommuvm::agent
