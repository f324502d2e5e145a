#include "agent/workload/redis_server.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/workload/tcp_probe.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

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

absl::StatusOr<std::vector<std::string>> RedisServer::Prepare(const v1::StartServer& config,
                                                              const std::string& host,
                                                              uint32_t port,
                                                              const std::string& run_dir) {
  std::string conf_path = run_dir + "/redis.conf";
  RETURN_IF_ERROR(env().files->WriteFile(conf_path, Config(config, host, port, run_dir)));
  return std::vector<std::string>{"redis-server", conf_path};
}

bool RedisServer::Ready(const std::string& host, uint32_t port) {
  auto reply = TcpExchange(host, port, "PING\r\n", absl::Milliseconds(500));
  return reply.ok() && absl::StartsWith(*reply, "+PONG");
}

absl::Status RedisServer::Preload(const v1::StartServer& config, const std::string& host,
                                  uint32_t port) {
  std::string value = PreloadValue(config);
  return TcpPipeline(host, port, config.preload_keys(), "+OK\r\n", [&](uint64_t i) {
    std::string key = FormatKey(config.preload_key_format(), i);
    return absl::StrCat("*3\r\n$3\r\nSET\r\n$", key.size(), "\r\n", key, "\r\n$",
                        value.size(), "\r\n", value, "\r\n");
  });
}

absl::StatusOr<uint64_t> RedisServer::Requests(const std::string& host, uint32_t port) {
  auto reply = TcpExchange(host, port, "INFO stats\r\n", absl::Milliseconds(500));
  if (!reply.ok()) return reply.status();
  // Our own INFO call is one command a second: noise, not load.
  return CounterAfter(*reply, "total_commands_processed:");
}

}  // namespace iommuvm::agent
