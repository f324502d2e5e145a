#include "agent/workload/netserver_server.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/tcp_probe.h"

namespace iommuvm::agent {

absl::StatusOr<std::vector<std::string>> NetserverServer::Prepare(const v1::StartServer&,
                                                                  const std::string& host,
                                                                  uint32_t port,
                                                                  const std::string&) {
  return std::vector<std::string>{"netserver", "-D", "-f", "-L", host, "-p", absl::StrCat(port)};
}

bool NetserverServer::Ready(const std::string& host, uint32_t port) {
  return Listening(*env().files, host, port);
}

absl::StatusOr<uint64_t> NetserverServer::Requests(const std::string&, uint32_t) {
  return absl::UnimplementedError("netserver counts no requests");
}

}  // namespace iommuvm::agent
