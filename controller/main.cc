// iommuvm-controller: schedules experiments on agents and stores results.
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "common/log.h"
#include "common/shutdown.h"
#include "controller/controller.h"
#include "spec/matrix.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC address for the CLI and agents");
ABSL_FLAG(std::string, db, "iommuvm.db", "SQLite results database (created if missing)");
ABSL_FLAG(std::string, metrics, "127.0.0.1:9470", "Prometheus /metrics address; empty: off");
ABSL_FLAG(std::string, tls_dir, "",
          "CA directory from `iommuvm certs init`: mutual TLS, peers known by certificate");
ABSL_FLAG(bool, insecure, false,
          "allow plaintext on a non-loopback --listen (closed networks only)");
ABSL_FLAG(absl::Duration, agent_grace, absl::Seconds(15),
          "an agent silent this long is lost and its attempt retried");
ABSL_FLAG(uint64_t, max_runs_per_experiment, iommuvm::spec::kMaxRunsPerExperiment,
          "the most runs one submitted spec may expand to");
ABSL_FLAG(uint64_t, max_agents, 0,
          "agent sessions at once (0: as many as the open-files limit allows, raised to its "
          "hard limit at start, less room kept for the CLI and /metrics)");
ABSL_FLAG(std::string, console_command, "",
          "shell command printing a node's serial console ({node}: agent id, {hostname}); its "
          "last lines explain a node that did not come back from a boot, e.g. "
          "'ssh ops tail -n 40 /var/log/tiplogs/{hostname}.run'");

int main(int argc, char** argv) {
  iommuvm::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "iommuvm-controller [--listen ADDR] [--db FILE] [--metrics ADDR] [--tls_dir DIR]\n"
      "Schedules IOMMU experiments on connected agents and stores every result.\n"
      "Without --tls_dir it listens on loopback only (or with --insecure).");
  absl::ParseCommandLine(argc, argv);
  iommuvm::ControllerConfig config;
  config.listen_address = absl::GetFlag(FLAGS_listen);
  config.db_path = absl::GetFlag(FLAGS_db);
  config.metrics_address = absl::GetFlag(FLAGS_metrics);
  config.tls_dir = absl::GetFlag(FLAGS_tls_dir);
  config.insecure = absl::GetFlag(FLAGS_insecure);
  // Every log line says so: nobody should mistake this controller for a
  // protected one.
  if (config.insecure && config.tls_dir.empty()) iommuvm::SetLogPrefix("INSECURE ");
  config.scheduler.agent_grace = absl::GetFlag(FLAGS_agent_grace);
  config.console_command = absl::GetFlag(FLAGS_console_command);
  config.max_agents = absl::GetFlag(FLAGS_max_agents);
  config.scheduler.max_runs_per_experiment = absl::GetFlag(FLAGS_max_runs_per_experiment);
  auto controller = iommuvm::Controller::Start(config);
  if (!controller.ok()) {
    iommuvm::Log("iommuvm-controller", "refusing to start: ", controller.status().message());
    return 1;
  }
  int sig = iommuvm::WaitForTerminationSignal();
  iommuvm::Log("iommuvm-controller", "signal ", sig, ": shutting down");
  (*controller)->Shutdown();
  return 0;
}
