// The agent must not disturb what it measures: CPU used by telemetry at a
// 1 s interval with every collector, each batch written to the SQLite
// outbox as the agent does, over 60 s (the budget: < 0.5% of one
// core), side by side with the same process idle for the same time.
// Run: build/bench/iommuvm_agent_overhead_bench [--seconds 60] [--interval_ms 1000]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "agent/session/outbox.h"
#include "agent/telemetry/collectors.h"
#include "agent/telemetry/sampler.h"
#include "common/clock.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace {

double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Phase {
  double cpu_s = 0;
  double wall_s = 0;
  uint64_t samples = 0;
  double percent() const { return 100.0 * cpu_s / wall_s; }
};

}  // namespace

int main(int argc, char** argv) {
  int seconds = 60, interval_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--interval_ms") == 0) interval_ms = std::atoi(argv[i + 1]);
  }
  using namespace iommuvm;
  LocalFileSystem fs("/");
  LocalCommandRunner runner;  // ethtool -S for PCI NICs, as the agent does
  RealClock clock;
  std::string db = (std::filesystem::temp_directory_path() /
                    ("overhead_bench_" + std::to_string(::getpid()) + ".db"))
                       .string();
  auto outbox = agent::Outbox::Open(db);
  if (!outbox.ok()) {
    std::fprintf(stderr, "cannot open outbox: %s\n", std::string(outbox.status().message()).c_str());
    return 1;
  }

  // Baseline: the same process, idle.
  Phase idle;
  double c0 = CpuSeconds();
  absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(seconds));
  idle.cpu_s = CpuSeconds() - c0;
  idle.wall_s = absl::ToDoubleSeconds(absl::Now() - t0);

  // Every collector, each batch into the outbox.
  Phase busy;
  auto perf = agent::MakeLinuxPerfCounters();
  c0 = CpuSeconds();
  t0 = absl::Now();
  {
    agent::Sampler sampler(agent::MakeCollectors({}, &fs, perf.get(), &runner), &clock,
                           absl::Milliseconds(interval_ms),
                           [&](std::vector<v1::MetricSample> samples) {
                             busy.samples += samples.size();
                             v1::AgentMessage msg;
                             auto* b = msg.mutable_metric_batch();
                             for (auto& s : samples) *b->add_samples() = std::move(s);
                             (void)(*outbox)->Enqueue(std::move(msg));
                           });
    absl::SleepFor(absl::Seconds(seconds));
    sampler.Stop();
  }
  busy.cpu_s = CpuSeconds() - c0;
  busy.wall_s = absl::ToDoubleSeconds(absl::Now() - t0);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);

  std::printf("%-38s %10s %10s %12s %9s\n", "phase", "wall_s", "cpu_ms", "cpu_%_core", "samples");
  std::printf("%-38s %10.1f %10.1f %12.3f %9s\n", "idle (baseline)", idle.wall_s,
              idle.cpu_s * 1e3, idle.percent(), "-");
  std::printf("%-38s %10.1f %10.1f %12.3f %9llu\n",
              ("all collectors every " + std::to_string(interval_ms) + " ms + outbox").c_str(),
              busy.wall_s, busy.cpu_s * 1e3, busy.percent(),
              static_cast<unsigned long long>(busy.samples));
  double overhead = busy.percent() - idle.percent();
  std::printf("telemetry overhead: %.3f%% of one core (budget 0.5%%): %s\n", overhead,
              overhead < 0.5 ? "within budget" : "OVER BUDGET");
  return overhead < 0.5 ? 0 : 1;
}
