#include "agent/workload/iperf3_server.h"

#include "absl/strings/str_cat.h"
#include "agent/workload/tcp_probe.h"

namespace iommuvm::agent {

uint32_t Iperf3Server::Processes(const v1::StartServer& config) const {
  return config.flows() > 0 ? config.flows() : 1;
}

absl::StatusOr<std::vector<std::string>> Iperf3Server::Prepare(const v1::StartServer&,
                                                               const std::string& host,
                                                               uint32_t port, const std::string&) {
  return std::vector<std::string>{"iperf3", "-s", "-B", host, "-p", absl::StrCat(port)};
}

bool Iperf3Server::Ready(const std::string& host, uint32_t port) {
  return Listening(*env().files, host, port);
}

absl::StatusOr<uint64_t> Iperf3Server::Requests(const std::string&, uint32_t) {
  return absl::UnimplementedError("iperf3 counts no requests");
}

}  // namespace iommuvm::agent
