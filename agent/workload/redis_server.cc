#include "agent/workload/redis_server.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/workload/tcp_probe.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
namespace {

std::string TailOfFile(const std::string& path, size_t max_chars) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_chars) s = s.substr(s.size() - max_chars);
  return std::string(absl::StripAsciiWhitespace(s));
}

}  // namespace

std::string RedisServer::Config(const v1::StartServer& config, const std::string& host,
                                uint32_t port, const std::string& run_dir) {
  std::string conf = absl::StrCat(
      "# written by iommuvm-agent for one attempt; not persistent\n", "bind ", host, "\n",
      "port ", port, "\n", "dir ", run_dir, "\n", "save \"\"\n", "appendonly no\n",
      "protected-mode no\n", "daemonize no\n", "logfile \"\"\n");
  if (config.io_threads() > 1) absl::StrAppend(&conf, "io-threads ", config.io_threads(), "\n");
  if (config.max_memory_bytes() > 0) {
    absl::StrAppend(&conf, "maxmemory ", config.max_memory_bytes(), "\n");
  }
  return conf;
}

absl::StatusOr<uint32_t> RedisServer::Start(const v1::StartServer& config,
                                            const std::string& host, const std::string& run_dir,
                                            absl::Duration timeout) {
  uint32_t port = config.port();
  if (port == 0) {
    ASSIGN_OR_RETURN(port, PickFreePort(host));
  }
  std::string conf_path = run_dir + "/redis.conf";
  std::string log_path = run_dir + "/redis-server.log";
  {
    std::ofstream out(conf_path);
    out << Config(config, host, port, run_dir);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", conf_path));
  }
  CommandSpec spec;
  spec.argv = {"redis-server", conf_path};
  spec.cwd = run_dir;
  spec.log_path = log_path;
  ASSIGN_OR_RETURN(process_, runner_->Start(spec));
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (!process_->Running()) {
      std::string why = process_->ExitDescription();
      process_.reset();
      return absl::FailedPreconditionError(
          absl::StrCat("redis-server ", why, ": ", TailOfFile(log_path, 600)));
    }
    auto reply = TcpExchange(host, port, "PING\r\n", absl::Milliseconds(500));
    if (reply.ok() && absl::StartsWith(*reply, "+PONG")) return port;
    if (absl::Now() > deadline) {
      Stop();
      return absl::DeadlineExceededError(absl::StrCat(
          "redis-server did not answer PING on ", host, ":", port, " within ",
          absl::FormatDuration(timeout), ": ", TailOfFile(log_path, 600)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool RedisServer::Stop() {
  if (!process_) return false;
  bool was_running = process_->Running();
  process_->Stop(absl::Seconds(3));
  process_.reset();
  return was_running;
}

bool RedisServer::Running() { return process_ && process_->Running(); }

}  // namespace iommuvm::agent
