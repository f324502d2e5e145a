#pragma once
// Controller: wires Store, Scheduler, the gRPC services and /metrics
// together and runs the scheduling loop. main() only fills the config.

#include <grpcpp/server.h>
#include <prometheus/exposer.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/metrics.h"
#include "controller/node_console.h"
#include "controller/scheduler/scheduler.h"
#include "controller/service/agent_service.h"
#include "controller/service/controller_service.h"
#include "controller/service/durable_gateway.h"
#include "controller/service/session_registry.h"
#include "controller/store/database_lock.h"
#include "controller/store/sqlite_store.h"

namespace iommuvm {

struct ControllerConfig {
  std::string listen_address = "127.0.0.1:7070";  // port 0: pick one
  std::string db_path = "iommuvm.db";
  std::string metrics_address = "127.0.0.1:9470";  // empty: no /metrics
  // CA directory (tls/certificate_authority.h): mutual TLS, agents and
  // users known by their certificates. Empty: plaintext, loopback only.
  std::string tls_dir;
  // Plaintext on a non-loopback address (a closed network).
  bool insecure = false;
  absl::Duration tick_interval = absl::Milliseconds(200);
  // Agent sessions at once; 0: as many as the open-files limit allows
  // after raising it (common/open_files.h).
  uint64_t max_agents = 0;
  // Prints a node's serial console ({node}, {hostname}); empty: none.
  std::string console_command;
  scheduler::SchedulerOptions scheduler;
};

// Whether `address` (HOST:PORT) only accepts connections from this machine.
bool IsLoopbackAddress(const std::string& address);

class Controller {
 public:
  // Opens the database (refusing unwritable paths and newer schemas),
  // starts the gRPC server, /metrics and the scheduling loop.
  static absl::StatusOr<std::unique_ptr<Controller>> Start(const ControllerConfig& config);
  ~Controller();

  // Stops accepting work, lets the running transaction finish, stops.
  void Shutdown();
  int port() const { return port_; }
  int metrics_port() const;

 private:
  Controller() = default;
  void Loop();

  RealClock clock_;
  std::unique_ptr<store::DatabaseLock> db_lock_;  // declared first: outlives store_
  std::unique_ptr<store::SqliteStore> store_;
  LocalCommandRunner runner_;
  std::unique_ptr<NodeConsole> console_;
  ControllerMetrics metrics_;
  service::SessionRegistry registry_;
  // Everything sent to agents goes out after one sync per group of commits.
  std::unique_ptr<service::DurableGateway> gateway_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::unique_ptr<service::ControllerServiceImpl> controller_service_;
  std::unique_ptr<service::AgentServiceImpl> agent_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  absl::Duration tick_interval_;
  std::atomic<bool> stopping_{false};
  std::thread loop_;
  int port_ = 0;
};

}  // namespace iommuvm
