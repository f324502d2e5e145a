#pragma once
// Application: a server under test (redis, memcached, nginx; see
// server_application.h for what they share). One instance per attempt.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/workload/workload_env.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

class Application {
 public:
  virtual ~Application() = default;
  // Writes the server's config into `run_dir`, starts it bound to `host`
  // and returns the port once the server answers its own protocol. On
  // failure the process is gone and the error carries the server's words.
  virtual absl::StatusOr<uint32_t> Start(const v1::StartServer& config, const std::string& host,
                                         const std::string& run_dir, absl::Duration timeout) = 0;
  // Stops the server (idempotent); true if it was still running.
  virtual bool Stop() = 0;
  // True while the server process is alive.
  virtual bool Running() = 0;
  // Requests served so far, from the server's own counters (redis INFO
  // total_commands_processed, memcached cmd_get + cmd_set, nginx
  // stub_status): live throughput whatever the generator prints.
  virtual absl::StatusOr<uint64_t> RequestsServed() = 0;
};

// The Application for `app` (redis, memcached, nginx), or InvalidArgument.
absl::StatusOr<std::unique_ptr<Application>> MakeApplication(const std::string& app,
                                                             const WorkloadEnv& env);

}  // namespace iommuvm::agent
