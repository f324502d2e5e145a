#include "agent/workload/nginx_server.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/workload/tcp_probe.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::string NginxServer::Config(const v1::StartServer& config, const std::string& host,
                                uint32_t port, const std::string& run_dir, bool as_root) {
  uint32_t workers = config.workers() > 0 ? config.workers() : 1;
  uint32_t keepalive = config.keepalive_requests() > 0 ? config.keepalive_requests() : 10000;
  std::string conf = absl::StrCat(
      "# written by iommuvm-agent for one attempt\n",
      // As root nginx would switch its workers to nobody, who cannot enter
      // the run directory.
      as_root ? "user root;\n" : "", "worker_processes ", workers, ";\n",
      "daemon off;\n"
      "pid ", run_dir, "/nginx.pid;\n"
      "error_log ", run_dir, "/nginx-error.log warn;\n"
      "events { worker_connections 65535; }\n"
      "http {\n"
      "  access_log off;\n"
      "  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n"
      "  keepalive_requests ", keepalive, ";\n  keepalive_timeout 65;\n"
      "  client_body_temp_path ", run_dir, "/tmp/body;\n"
      "  proxy_temp_path ", run_dir, "/tmp/proxy;\n"
      "  fastcgi_temp_path ", run_dir, "/tmp/fastcgi;\n"
      "  uwsgi_temp_path ", run_dir, "/tmp/uwsgi;\n"
      "  scgi_temp_path ", run_dir, "/tmp/scgi;\n"
      "  default_type application/octet-stream;\n"
      "  server {\n"
      "    listen ", host, ":", port, " reuseport;\n"
      "    root ", run_dir, "/www;\n"
      "    location / { }\n"
      "    location = /iommuvm-status { stub_status; }\n"
      "  }\n"
      "}\n");
  return conf;
}

absl::StatusOr<std::vector<std::string>> NginxServer::Prepare(const v1::StartServer& config,
                                                              const std::string& host,
                                                              uint32_t port,
                                                              const std::string& run_dir) {
  FileSystem& files = *env().files;
  RETURN_IF_ERROR(files.MakeDirs(run_dir + "/www"));
  RETURN_IF_ERROR(files.MakeDirs(run_dir + "/tmp"));
  std::mt19937_64 rng(port);
  for (uint64_t size : config.file_sizes()) {
    std::string path = absl::StrCat(run_dir, "/www/file-", size);
    RETURN_IF_ERROR(files.WriteFile(path, ""));
    std::string chunk(1 << 16, '\0');
    for (uint64_t left = size; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      for (size_t i = 0; i < n; i += 8) {
        uint64_t r = rng();
        std::memcpy(chunk.data() + i, &r, std::min<size_t>(8, n - i));
      }
      RETURN_IF_ERROR(files.AppendFile(path, absl::string_view(chunk.data(), n)));
      left -= n;
    }
  }
  probe_path_ = config.file_sizes().empty() ? "/" : absl::StrCat("/file-", config.file_sizes(0));
  std::string conf_path = run_dir + "/nginx.conf";
  RETURN_IF_ERROR(
      files.WriteFile(conf_path, Config(config, host, port, run_dir, ::geteuid() == 0)));
  return std::vector<std::string>{"nginx", "-c", conf_path, "-p", run_dir + "/"};
}

bool NginxServer::Ready(const std::string& host, uint32_t port) {
  auto reply = TcpExchange(host, port,
                           absl::StrCat("HEAD ", probe_path_, " HTTP/1.0\r\nHost: x\r\n\r\n"),
                           absl::Milliseconds(500));
  return reply.ok() && absl::StartsWith(*reply, "HTTP/1.1 200");
}

absl::StatusOr<uint64_t> NginxServer::Requests(const std::string& host, uint32_t port) {
  // stub_status: "Active connections: 1 \nserver accepts handled requests\n 5 5 42 \n..."
  auto reply = TcpExchange(host, port,
                           "GET /iommuvm-status HTTP/1.0\r\nHost: x\r\n\r\n",
                           absl::Milliseconds(500));
  if (!reply.ok()) return reply.status();
  size_t at = reply->find("accepts handled requests");
  if (at == std::string::npos) return absl::DataLossError("no stub_status in nginx's answer");
  std::vector<std::string> numbers =
      absl::StrSplit(reply->substr(reply->find('\n', at) + 1), absl::ByAnyChar(" \n"),
                     absl::SkipEmpty());
  uint64_t requests = 0;
  if (numbers.size() < 3 || !absl::SimpleAtoi(numbers[2], &requests)) {
    return absl::DataLossError("unreadable stub_status from nginx");
  }
  return requests;
}

}  // namespace iommuvm::agent
