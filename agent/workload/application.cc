#include "agent/workload/application.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/memcached_server.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_server.h"

namespace iommuvm::agent {

absl::StatusOr<std::unique_ptr<Application>> MakeApplication(const std::string& app,
                                                             const WorkloadEnv& env) {
  if (app == "redis") return std::unique_ptr<Application>(new RedisServer(env));
  if (app == "memcached") return std::unique_ptr<Application>(new MemcachedServer(env));
  if (app == "nginx") return std::unique_ptr<Application>(new NginxServer(env));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown application '", app, "'; known: redis, memcached, nginx"));
}

}  // namespace iommuvm::agent
