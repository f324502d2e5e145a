// A fleet of N simulated agents (bench/sim_agents.h: each its own
// connection, registering as an --simulate_boot agent does and then only
// heartbeating at the interval the controller gives) against a real
// iommuvm-controller subprocess, a fresh one (and database) per N: how
// long until all N have registered, the controller's CPU share while they
// only heartbeat, its RSS, threads and open fds (/proc), and how long the
// real CLI's `iommuvm agents --format csv` takes with N agents against the
// same command on the same controller just before the agents connected (0
// agents: the baseline), median of --cli_runs each. Agents that fail to
// register are counted and their errors printed. They connect all at once
// (a controller restart) unless --connect_per_second paces them (agents
// joining one by one). This process raises its own open-files limit to the
// hard limit; the controller gets the soft limit this program started with
// (or --controller_nofile).
// Run:   build/bench/iommuvm_agents_scale_bench [--agents 100,1000,3000] [--idle_seconds 10]
// Smoke: --agents 20 --idle_seconds 2 --cli_runs 3 (ctest -L bench)
#include <filesystem>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_support.h"
#include "bench/controller_process.h"
#include "bench/sim_agents.h"
#include "common/table.h"

ABSL_FLAG(std::string, controller, IOMMUVM_CONTROLLER_BIN, "the iommuvm-controller binary to run");
ABSL_FLAG(std::string, cli, IOMMUVM_CLI_BIN, "the iommuvm CLI binary to time");
ABSL_FLAG(std::vector<std::string>, agents, std::vector<std::string>({"100", "1000", "3000"}),
          "fleet sizes, one controller each");
ABSL_FLAG(double, connect_per_second, 0,
          "agents connecting per second (0: all at once, as after a controller restart)");
ABSL_FLAG(double, idle_seconds, 10, "length of the heartbeat-only CPU measurement");
ABSL_FLAG(double, settle_seconds, 2, "wait after the last registration before measuring");
ABSL_FLAG(int, cli_runs, 5, "runs of each CLI command (the median counts)");
ABSL_FLAG(double, register_timeout, 300, "seconds to wait for every agent to register");
ABSL_FLAG(int, controller_nofile, 0,
          "the controller's RLIMIT_NOFILE soft limit (0: the one this program started with)");
ABSL_FLAG(std::string, dir, "", "scratch directory (default: a new one under $TMPDIR)");
ABSL_FLAG(bool, keep, false, "keep the scratch directory (databases, controller logs)");

namespace iommuvm::bench {
namespace {

struct CliTiming {
  double median_ms = -1;  // -1: the command failed
  int rows = -1;  // data lines of the CSV (-1: the command failed)
  std::string error;
};

// `iommuvm agents --controller ADDR --format csv`, `runs` times.
CliTiming TimeCli(const std::string& address, int runs) {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = {absl::GetFlag(FLAGS_cli), "agents", "--controller", address, "--format", "csv"};
  spec.timeout = absl::Minutes(2);
  CliTiming t;
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    absl::Time t0 = absl::Now();
    auto r = runner.Run(spec);
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
    if (!r.ok() || !r->ok()) {
      t.error = r.ok() ? r->Describe("iommuvm agents") : std::string(r.status().message());
      return t;
    }
    std::vector<std::string> lines = absl::StrSplit(r->out, '\n', absl::SkipEmpty());
    t.rows = static_cast<int>(lines.size()) - 1;  // the header
  }
  t.median_ms = Median(ms);
  return t;
}

struct Row {
  int agents = 0;
  SimAgentsStats registered;  // when every agent registered (or the timeout)
  SimAgentsStats after_idle;
  double register_s = -1;
  double cpu_pct = -1, own_cpu_pct = -1;
  ProcStats proc;
  double connected_metric = -1;  // iommuvm_agents_connected
  CliTiming cli_none, cli_all;
  std::vector<std::string> problems;
  std::string error;  // the controller failed
};

// One fleet size against a fresh controller.
Row Measure(int n, const std::string& dir, int nofile, SimNodeFacts& facts) {
  Row row;
  row.agents = n;
  auto controller = ControllerProcess::Start({absl::GetFlag(FLAGS_controller), dir, {}, nofile});
  if (!controller.ok()) {
    row.error = std::string(controller.status().message());
    return row;
  }
  int runs = absl::GetFlag(FLAGS_cli_runs);
  row.cli_none = TimeCli((*controller)->address(), runs);
  SimAgentsOptions options;
  options.controller = (*controller)->address();
  options.agents = n;
  options.id_prefix = "scale";
  options.connect_per_second = absl::GetFlag(FLAGS_connect_per_second);
  options.agent.labels = {{"pool", "scale"}};
  SimAgents fleet(options, &facts);
  fleet.Start();
  row.registered = fleet.WaitFor(
      [&](const SimAgentsStats& s) {
        return s.ever_registered + s.failed >= n || !(*controller)->Alive().ok();
      },
      absl::Seconds(absl::GetFlag(FLAGS_register_timeout)));
  if (row.registered.ever_registered > 0) {
    row.register_s = absl::ToDoubleSeconds(row.registered.registration);
  }
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_settle_seconds)));
  auto p0 = ReadProcStats((*controller)->pid());
  double own0 = OwnCpuSeconds();
  absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_idle_seconds)));
  absl::Duration wall = absl::Now() - t0;
  auto p1 = ReadProcStats((*controller)->pid());
  double own1 = OwnCpuSeconds();
  if (p0.ok() && p1.ok()) {
    row.cpu_pct = CpuPercent(*p0, *p1, wall);
    row.own_cpu_pct = 100 * (own1 - own0) / absl::ToDoubleSeconds(wall);
    row.proc = *p1;
  }
  row.after_idle = fleet.Stats();
  row.connected_metric = (*controller)->Metric("iommuvm_agents_connected").value_or(-1);
  row.cli_all = TimeCli((*controller)->address(), runs);
  row.problems = fleet.Problems();
  fleet.Stop();
  if (absl::Status s = (*controller)->Stop(); !s.ok()) row.error = std::string(s.message());
  return row;
}

void Print(const std::vector<Row>& rows) {
  Table t({{"agents", true},
           {"registered", true},
           {"failed", true},
           {"register_s", true},
           {"ctl_cpu_%", true},
           {"ctl_rss_MiB", true},
           {"ctl_threads", true},
           {"ctl_fds", true},
           {"sim_cpu_%", true},
           {"cli_ms", true},
           {"cli_ms_0", true},
           {"cli_ratio", true},
           {"cli_rows", true},
           {"ctl_connected", true}});
  for (const Row& r : rows) {
    auto num = [](double v, int digits) { return v < 0 ? std::string("-") : Fixed(v, digits); };
    t.AddRow({absl::StrCat(r.agents), absl::StrCat(r.registered.ever_registered),
              absl::StrCat(r.agents - r.after_idle.registered), num(r.register_s, 2),
              num(r.cpu_pct, 2), num(r.proc.rss_kib / 1024.0, 1), absl::StrCat(r.proc.threads),
              absl::StrCat(r.proc.open_fds), num(r.own_cpu_pct, 1), num(r.cli_all.median_ms, 1),
              num(r.cli_none.median_ms, 1),
              r.cli_none.median_ms > 0 && r.cli_all.median_ms > 0
                  ? Fixed(r.cli_all.median_ms / r.cli_none.median_ms, 2)
                  : "-",
              absl::StrCat(r.cli_all.rows), num(r.connected_metric, 0)});
  }
  t.Print(std::cout, Format::kTable);
  std::cout << "\nregistered: agents acked within --register_timeout; register_s: from connecting\n"
               "to the last of them. failed: not registered, or the session ended, at the end of\n"
               "the heartbeat window. ctl_*: the controller while the agents only heartbeat\n"
               "(/proc; ctl_connected: its iommuvm_agents_connected). sim_cpu_%: this process,\n"
               "all simulated agents. cli_ms: median `iommuvm agents --format csv` with the\n"
               "agents; cli_ms_0: the same before they connected; cli_rows: agents it listed.\n";
}

// Whether `r` passed; what went wrong goes to stderr.
bool Check(const Row& r) {
  bool ok = r.error.empty();
  if (!ok) std::cerr << r.agents << " agents: " << r.error << "\n";
  int failed = r.agents - r.after_idle.registered;
  if (failed > 0) {
    ok = false;
    std::cerr << r.agents << " agents: " << failed << " not registered at the end:\n";
  }
  for (const auto& p : r.problems) std::cerr << "  " << p << "\n";
  for (const CliTiming* c : {&r.cli_none, &r.cli_all}) {
    if (!c->error.empty()) {
      ok = false;
      std::cerr << r.agents << " agents: " << c->error << "\n";
    }
  }
  // It lists every agent the controller knows, lost ones too.
  if (r.error.empty() && r.cli_all.rows != r.after_idle.ever_registered) {
    ok = false;
    std::cerr << r.agents << " agents: `iommuvm agents` listed " << r.cli_all.rows << ", not "
              << r.after_idle.ever_registered << "\n";
  }
  return ok;
}

int Run() {
  rlim_t started_with = RaiseFileLimit();
  int nofile = absl::GetFlag(FLAGS_controller_nofile);
  if (nofile <= 0) nofile = static_cast<int>(started_with);
  std::vector<int> sizes;
  for (const std::string& s : absl::GetFlag(FLAGS_agents)) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n <= 0) {
      std::cerr << "--agents: '" << s << "' is not a positive number\n";
      return 2;
    }
    sizes.push_back(n);
  }
  auto dir = MakeScratchDir(absl::GetFlag(FLAGS_dir), "iommuvm-agents-bench");
  if (!dir.ok()) {
    std::cerr << dir.status().message() << "\n";
    return 1;
  }
  auto facts = SimNodeFacts::Create(*dir + "/simnode");
  if (!facts.ok()) {
    std::cerr << facts.status().message() << "\n";
    return 1;
  }
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  std::cout << absl::StrFormat(
      "agents scale: %s agents (connecting %s), %g s of heartbeats each; open files: this "
      "process %d, the "
      "controller %d\ncontroller %s\ncli %s\nscratch %s\nload average at the start: %s\n\n",
      absl::StrJoin(sizes, ","),
      absl::GetFlag(FLAGS_connect_per_second) > 0
          ? absl::StrCat(absl::GetFlag(FLAGS_connect_per_second), "/s")
          : std::string("all at once"),
      absl::GetFlag(FLAGS_idle_seconds), files.rlim_cur, nofile, absl::GetFlag(FLAGS_controller),
      absl::GetFlag(FLAGS_cli), *dir, LoadAverage());
  std::vector<Row> rows;
  bool ok = true;
  for (int n : sizes) {
    std::string run_dir = absl::StrCat(*dir, "/agents-", n);
    std::filesystem::create_directories(run_dir);
    std::cerr << "measuring " << n << " agents...\n";
    rows.push_back(Measure(n, run_dir, nofile, **facts));
    ok &= Check(rows.back());
  }
  Print(rows);
  std::cout << "load average at the end: " << LoadAverage() << "\n";
  if (!ok || absl::GetFlag(FLAGS_keep)) {
    std::cout << "\nscratch directory kept: " << *dir << " (agents-N/controller.log)\n";
  } else {
    facts->reset();
    std::filesystem::remove_all(*dir);
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace iommuvm::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "iommuvm_agents_scale_bench [--agents 100,1000,3000] [--idle_seconds 10]\n"
      "Registration time, idle CPU, memory, threads and fds of a real controller with N\n"
      "simulated agents heartbeating, and `iommuvm agents` latency against 0 agents.");
  iommuvm::bench::HelpShowsBenchFlags();
  absl::ParseCommandLine(argc, argv);
  return iommuvm::bench::Run();
}
