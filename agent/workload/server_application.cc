#include "agent/workload/server_application.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/workload/memcached_server.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_server.h"
#include "agent/workload/tcp_probe.h"
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

absl::StatusOr<uint32_t> ServerApplication::Start(const v1::StartServer& config,
                                                  const std::string& host,
                                                  const std::string& run_dir,
                                                  absl::Duration timeout) {
  uint32_t port = config.port();
  if (port == 0) {
    ASSIGN_OR_RETURN(port, PickFreePort(host));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> argv, Prepare(config, host, port, run_dir));
  if (!config.cores().empty()) argv.insert(argv.begin(), {"taskset", "-c", config.cores()});
  std::string log_path = absl::StrCat(run_dir, "/", name(), ".log");
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.cwd = run_dir;
  spec.log_path = log_path;
  ASSIGN_OR_RETURN(process_, env_.runner->Start(spec));
  absl::Time deadline = env_.clock->Now() + timeout;
  while (!Ready(host, port)) {
    if (!process_->Running()) {
      std::string why = process_->ExitDescription();
      process_.reset();
      return absl::FailedPreconditionError(
          absl::StrCat(name(), " ", why, ": ", TailOfFile(*env_.files, log_path, 600)));
    }
    if (env_.clock->Now() > deadline) {
      Stop();
      return absl::DeadlineExceededError(absl::StrCat(
          name(), " did not answer on ", host, ":", port, " within ", absl::FormatDuration(timeout),
          ": ", TailOfFile(*env_.files, log_path, 600)));
    }
    absl::SleepFor(absl::Milliseconds(20));
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
  if (!process_) return false;
  bool was_running = process_->Running();
  process_->Stop(absl::Seconds(3));
  process_.reset();
  return was_running;
}

bool ServerApplication::Running() { return process_ && process_->Running(); }

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
  return absl::InvalidArgumentError(
      absl::StrCat("unknown application '", app, "'; known: redis, memcached, nginx"));
}

}  // namespace iommuvm::agent
