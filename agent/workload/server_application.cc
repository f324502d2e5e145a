#include "agent/workload/server_application.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/workload/iperf3_server.h"
#include "agent/workload/memcached_server.h"
#include "agent/workload/netserver_server.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_server.h"
#include "agent/workload/sockperf_server.h"
#include "agent/workload/tcp_probe.h"
#include "common/cpu_list.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::string TailOfFile(const FileSystem& files, const std::string& path, size_t max_chars) {
  std::string s = files.ReadFile(path).value_or("");
  if (s.size() > max_chars) s = s.substr(s.size() - max_chars);
  return std::string(absl::StripAsciiWhitespace(s));
}

std::string FormatKey(const std::string& format, uint64_t i) {
  std::string f = format.empty() ? "key:%012d" : format;
  size_t pct = f.find('%');
  if (pct == std::string::npos) return absl::StrCat(f, i);
  size_t d = f.find('d', pct);
  if (d == std::string::npos) return absl::StrCat(f, i);
  std::string number = absl::StrCat(i);
  std::string spec = f.substr(pct + 1, d - pct - 1);  // "012", "" ...
  size_t width = 0;
  for (char c : spec) {
    if (absl::ascii_isdigit(c)) width = width * 10 + static_cast<size_t>(c - '0');
  }
  if (number.size() < width) {
    number.insert(0, width - number.size(), !spec.empty() && spec[0] == '0' ? '0' : ' ');
  }
  return f.substr(0, pct) + number + f.substr(d + 1);
}

std::string PreloadValue(const v1::StartServer& config) {
  return std::string(config.preload_value_size() > 0 ? config.preload_value_size() : 3, 'x');
}

absl::Status ServerApplication::Preload(const v1::StartServer&, const std::string&, uint32_t) {
  return absl::UnimplementedError(absl::StrCat(name(), " cannot be preloaded"));
}

absl::StatusOr<std::unique_ptr<Process>> ServerApplication::StartProcess(
    const v1::StartServer& config, std::vector<std::string> argv, const std::string& log_path,
    uint32_t index, uint32_t count) {
  std::string cores = config.cores();
  if (count > 1 && !cores.empty()) {
    ASSIGN_OR_RETURN(int cpu, CpuAt(cores, index));
    cores = absl::StrCat(cpu);
  }
  CommandSpec spec;
  spec.argv = PinnedCommand(cores, std::move(argv));
  spec.cwd = std::string(log_path.substr(0, log_path.rfind('/')));
  spec.log_path = log_path;
  return env_.runner->Start(spec);
}

absl::StatusOr<uint32_t> ServerApplication::Start(const v1::StartServer& config,
                                                  const std::string& host,
                                                  const std::string& run_dir,
                                                  absl::Duration timeout) {
  uint32_t count = std::max<uint32_t>(1, Processes(config));
  uint32_t port = config.port();
  if (port == 0) {
    ASSIGN_OR_RETURN(port, PickFreePorts(host, count));
  }
  std::vector<std::string> logs;
  for (uint32_t i = 0; i < count; ++i) {
    logs.push_back(count == 1 ? absl::StrCat(run_dir, "/", name(), ".log")
                              : absl::StrCat(run_dir, "/", name(), "-", i, ".log"));
    auto argv = Prepare(config, host, port + i, run_dir);
    auto process = argv.ok() ? StartProcess(config, *std::move(argv), logs[i], i, count)
                             : absl::StatusOr<std::unique_ptr<Process>>(argv.status());
    if (!process.ok()) {
      Stop();
      return process.status();
    }
    processes_.push_back(*std::move(process));
  }
  absl::Time deadline = env_.clock->Now() + timeout;
  for (uint32_t i = 0; i < count; ++i) {
    while (!Ready(host, port + i)) {
      if (!processes_[i]->Running()) {
        std::string why = processes_[i]->ExitDescription();
        Stop();
        return absl::FailedPreconditionError(
            absl::StrCat(name(), " ", why, ": ", TailOfFile(*env_.files, logs[i], 600)));
      }
      if (env_.clock->Now() > deadline) {
        Stop();
        return absl::DeadlineExceededError(absl::StrCat(
            name(), " did not answer on ", host, ":", port + i, " within ",
            absl::FormatDuration(timeout), ": ", TailOfFile(*env_.files, logs[i], 600)));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  host_ = host;
  port_ = port;
  if (config.preload_keys() > 0) {
    absl::Status s = Preload(config, host, port);
    if (!s.ok()) {
      Stop();
      return absl::InternalError(absl::StrCat("preloading ", name(), ": ", s.message()));
    }
  }
  return port;
}

bool ServerApplication::Stop() {
  bool was_running = !processes_.empty();
  for (auto& p : processes_) {
    was_running = was_running && p->Running();
    p->Stop(StopGrace());
  }
  processes_.clear();
  return was_running;
}

bool ServerApplication::Running() {
  if (processes_.empty()) return false;
  for (auto& p : processes_) {
    if (!p->Running()) return false;
  }
  return true;
}

absl::StatusOr<uint64_t> ServerApplication::RequestsServed() {
  if (!Running()) return absl::FailedPreconditionError(absl::StrCat(name(), " is not running"));
  return Requests(host_, port_);
}

uint64_t CounterAfter(absl::string_view text, absl::string_view key) {
  size_t at = text.find(key);
  if (at == absl::string_view::npos) return 0;
  size_t start = at + key.size();
  size_t end = start;
  while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
  uint64_t v = 0;
  (void)absl::SimpleAtoi(text.substr(start, end - start), &v);
  return v;
}

absl::StatusOr<std::unique_ptr<ServerApplication>> MakeServerApplication(const std::string& app,
                                                                         const WorkloadEnv& env) {
  if (app == "redis") return std::unique_ptr<ServerApplication>(new RedisServer(env));
  if (app == "memcached") return std::unique_ptr<ServerApplication>(new MemcachedServer(env));
  if (app == "nginx") return std::unique_ptr<ServerApplication>(new NginxServer(env));
  if (app == "iperf3") return std::unique_ptr<ServerApplication>(new Iperf3Server(env));
  if (app == "sockperf") return std::unique_ptr<ServerApplication>(new SockperfServer(env));
  if (app == "netperf") return std::unique_ptr<ServerApplication>(new NetserverServer(env));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown application '", app,
                   "'; known: redis, memcached, nginx, iperf3, sockperf, netperf"));
}

}  // namespace iommuvm::agent
