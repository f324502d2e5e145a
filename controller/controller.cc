#include "controller/controller.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_system.h"
#include "common/log.h"
#include "common/open_files.h"
#include "common/status_macros.h"
#include "tls/certificate_authority.h"
#include "tls/credentials.h"

namespace iommuvm {
namespace {

// Descriptors agent sessions never take: CLI calls, /metrics scrapes, the
// database and its journal, commands such as --console_command.
constexpr uint64_t kOpenFilesHeadroom = 256;

}  // namespace

bool IsLoopbackAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return true;
  std::string host = address.substr(0, address.rfind(':'));
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]"))
    host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Start(const ControllerConfig& config) {
  std::unique_ptr<Controller> c(new Controller());
  // One socket per agent: the soft limit (often 1,024) would stop it near a
  // thousand agents and then lock out the CLI too. Room is kept for both.
  OpenFilesLimit files = RaiseOpenFilesLimit();
  uint64_t capacity = AgentCapacity(files, kOpenFilesHeadroom);
  if (config.max_agents > 0) capacity = std::min(capacity, config.max_agents);
  c->registry_.set_capacity(capacity);
  ASSIGN_OR_RETURN(c->db_lock_, store::DatabaseLock::Acquire(config.db_path));
  ASSIGN_OR_RETURN(c->store_, store::SqliteStore::Open(config.db_path, &c->clock_));
  c->gateway_ = std::make_unique<service::DurableGateway>(c->store_.get(), &c->registry_);
  scheduler::SchedulerOptions options = config.scheduler;
  if (!config.console_command.empty()) {
    c->console_ = std::make_unique<NodeConsole>(&c->runner_, config.console_command);
    options.read_console = [console = c->console_.get()](const std::string& node,
                                                         const std::string& hostname) {
      return console->LastLines(node, hostname);
    };
  }
  c->scheduler_ = std::make_unique<scheduler::Scheduler>(c->store_.get(), c->gateway_.get(),
                                                         &c->clock_, &c->metrics_, options);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!config.tls_dir.empty()) {
    LocalFileSystem fs;
    ASSIGN_OR_RETURN(
        tls::TlsFiles files,
        tls::LoadTlsFiles(fs, config.tls_dir, tls::FileStem(tls::PeerKind::kController, "")));
    credentials = tls::ServerCredentials(files);
  } else if (!config.insecure && !IsLoopbackAddress(config.listen_address)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--listen ", config.listen_address,
        " without TLS would let anyone who reaches it submit boot parameters and pose as an "
        "agent; make certificates (iommuvm certs init --dir DIR --controller-host HOST) and "
        "pass --tls_dir DIR, or --insecure on a closed network"));
  }
  service::PeerAuthorization authorization(!config.tls_dir.empty());
  c->controller_service_ = std::make_unique<service::ControllerServiceImpl>(
      c->scheduler_.get(), c->store_.get(), authorization);
  c->agent_service_ = std::make_unique<service::AgentServiceImpl>(
      c->scheduler_.get(), &c->registry_, c->gateway_.get(), authorization);

  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second controller on the same
  // port would start and take half of every client's calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen_address, credentials, &c->port_);
  builder.RegisterService(c->controller_service_.get());
  builder.RegisterService(c->agent_service_.get());
  // Detect dead agents at the transport level too, not only by heartbeats.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A connection without calls (an agent refused for capacity, between its
  // retries) gives its descriptor back.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 30000);
  c->server_ = builder.BuildAndStart();
  if (c->server_ == nullptr || c->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address, " (address in use?)"));
  }
  if (!config.metrics_address.empty()) {
    try {
      c->exposer_ = std::make_unique<prometheus::Exposer>(config.metrics_address);
      c->exposer_->RegisterCollectable(c->metrics_.registry());
    } catch (const std::exception& e) {
      c->server_->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("cannot serve /metrics on ", config.metrics_address, ": ", e.what()));
    }
  }
  c->tick_interval_ = config.tick_interval;
  c->loop_ = std::thread([ctl = c.get()] { ctl->Loop(); });
  Log("controller", "listening on ",
      config.listen_address.substr(0, config.listen_address.rfind(':')), ":", c->port_,
      ", database ", config.db_path, " (schema v", c->store_->schema_version(), ")",
      c->exposer_ ? absl::StrCat(", metrics on :", c->metrics_port()) : "",
      config.tls_dir.empty() ? ", plaintext" : absl::StrCat(", mutual TLS from ", config.tls_dir));
  // Said once it runs: a controller that refuses to start logs only why.
  Log("controller", "open files: limit ", files.now,
      files.now != files.before ? absl::StrCat(" (raised from ", files.before, ")") : "",
      "; room for ", capacity, " agent sessions, ", kOpenFilesHeadroom,
      " descriptors kept for the CLI, /metrics and the database");
  return c;
}

int Controller::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

void Controller::Loop() {
  uint64_t seen = 0;
  while (!stopping_.load()) {
    absl::Status s = scheduler_->Tick();
    if (!s.ok() && !scheduler::StorageTrouble(s)) {
      Log("controller", "scheduling pass failed: ", s.message());
    }
    // Wake early on any change (a result, a new agent, a submission).
    seen = scheduler_->WaitForChange(seen, tick_interval_);
  }
}

void Controller::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (loop_.joinable()) loop_.join();  // the current pass (and transaction) completes
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  exposer_.reset();
}

Controller::~Controller() { Shutdown(); }

}  // namespace iommuvm
