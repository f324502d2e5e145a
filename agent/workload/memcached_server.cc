#include "agent/workload/memcached_server.h"

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/workload/tcp_probe.h"

namespace iommuvm::agent {

std::vector<std::string> MemcachedServer::CommandLine(const v1::StartServer& config,
                                                      const std::string& host, uint32_t port,
                                                      bool as_root) {
  std::vector<std::string> argv = {"memcached", "-l", host, "-p", absl::StrCat(port), "-U", "0",
                                   "-v"};
  if (config.threads() > 0) argv.insert(argv.end(), {"-t", absl::StrCat(config.threads())});
  if (config.connections() > 0) {
    argv.insert(argv.end(), {"-c", absl::StrCat(config.connections())});
  }
  if (config.max_memory_bytes() > 0) {
    uint64_t mib = std::max<uint64_t>(1, config.max_memory_bytes() >> 20);
    argv.insert(argv.end(), {"-m", absl::StrCat(mib)});
  }
  // memcached refuses to run as root unless told which user to be.
  if (as_root) argv.insert(argv.end(), {"-u", "root"});
  return argv;
}

absl::StatusOr<std::vector<std::string>> MemcachedServer::Prepare(const v1::StartServer& config,
                                                                  const std::string& host,
                                                                  uint32_t port,
                                                                  const std::string&) {
  return CommandLine(config, host, port, ::geteuid() == 0);
}

bool MemcachedServer::Ready(const std::string& host, uint32_t port) {
  auto reply = TcpExchange(host, port, "version\r\n", absl::Milliseconds(500));
  return reply.ok() && absl::StartsWith(*reply, "VERSION ");
}

absl::Status MemcachedServer::Preload(const v1::StartServer& config, const std::string& host,
                                      uint32_t port) {
  std::string value = PreloadValue(config);
  return TcpPipeline(host, port, config.preload_keys(), "STORED\r\n", [&](uint64_t i) {
    return absl::StrCat("set ", FormatKey(config.preload_key_format(), i), " 0 0 ", value.size(),
                        "\r\n", value, "\r\n");
  });
}

absl::StatusOr<uint64_t> MemcachedServer::Requests(const std::string& host, uint32_t port) {
  auto reply = TcpExchange(host, port, "stats\r\n", absl::Milliseconds(500));
  if (!reply.ok()) return reply.status();
  return CounterAfter(*reply, "STAT cmd_get ") + CounterAfter(*reply, "STAT cmd_set ");
}

}  // namespace iommuvm::agent
