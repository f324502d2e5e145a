#include "bench/controller_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace iommuvm::bench {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One HTTP/1.0 GET on loopback: the body, or why not.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("cannot connect to /metrics on port ", port));
  }
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return absl::UnavailableError("cannot send the /metrics request");
  }
  std::string response;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) return absl::UnavailableError("no HTTP response from /metrics");
  return response.substr(body + 4);
}

}  // namespace

absl::StatusOr<ProcStats> ReadProcStats(pid_t pid) {
  std::string proc = absl::StrCat("/proc/", pid);
  std::string stat = ReadAll(proc + "/stat");
  size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) {
    return absl::NotFoundError(absl::StrCat("no process ", pid));
  }
  // After "pid (comm)": state is field 3, utime 14, stime 15.
  std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
  ProcStats s;
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return absl::InternalError(absl::StrCat("cannot parse ", proc, "/stat"));
  }
  s.cpu_seconds = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (absl::string_view line : absl::StrSplit(ReadAll(proc + "/status"), '\n')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2) continue;
    if (words[0] == "VmRSS:") (void)absl::SimpleAtoi(words[1], &s.rss_kib);
    if (words[0] == "Threads:") (void)absl::SimpleAtoi(words[1], &s.threads);
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(proc + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.open_fds;
  }
  return s;
}

double OwnCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

absl::StatusOr<std::unique_ptr<ControllerProcess>> ControllerProcess::Start(
    ControllerOptions options) {
  std::unique_ptr<ControllerProcess> c(new ControllerProcess());
  c->options_ = std::move(options);
  c->log_path_ = c->options_.dir + "/controller.log";
  CommandSpec spec;
  if (c->options_.nofile > 0) {
    // The limit a service would run with, not the benchmark's raised one.
    spec.argv = {"prlimit", absl::StrCat("--nofile=", c->options_.nofile, ":"), "--"};
  }
  for (const std::string& a : {c->options_.binary, std::string("--listen=127.0.0.1:0"),
                               absl::StrCat("--db=", c->options_.dir, "/controller.db"),
                               std::string("--metrics=127.0.0.1:0")}) {
    spec.argv.push_back(a);
  }
  for (const std::string& a : c->options_.extra_args) spec.argv.push_back(a);
  spec.log_path = c->log_path_;
  LocalCommandRunner runner;
  auto process = runner.Start(spec);
  if (!process.ok()) return process.status();
  c->process_ = std::move(*process);
  // "listening on 127.0.0.1:PORT, database ..., metrics on :PORT, plaintext"
  static const std::regex kListening(R"(listening on 127\.0\.0\.1:(\d+).*metrics on :(\d+))");
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    std::smatch m;
    std::string log = ReadAll(c->log_path_);
    if (std::regex_search(log, m, kListening)) {
      c->address_ = absl::StrCat("127.0.0.1:", m[1].str());
      c->metrics_port_ = std::stoi(m[2].str());
      return c;
    }
    if (absl::Status alive = c->Alive(); !alive.ok()) return alive;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the controller did not listen within 30 s; its log ends:\n", c->LogTail(20)));
}

ControllerProcess::~ControllerProcess() {
  if (process_) process_->Stop(absl::Seconds(10));
}

absl::Status ControllerProcess::Alive() {
  if (process_->Running()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("the controller ", process_->ExitDescription(),
                                             "; its log ends:\n", LogTail(20)));
}

absl::Status ControllerProcess::Stop() {
  if (absl::Status alive = Alive(); !alive.ok()) return alive;
  process_->Stop(absl::Seconds(20));
  std::string how = process_->ExitDescription();
  if (how == "exited with status 0") return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("the controller ", how, " after SIGTERM; its log ends:\n", LogTail(20)));
}

absl::StatusOr<double> ControllerProcess::Metric(const std::string& name) const {
  auto body = HttpGet(metrics_port_, "/metrics");
  if (!body.ok()) return body.status();
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(*body, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != ' ' && rest[0] != '{')) continue;  // another metric's prefix
    double v = 0;
    if (absl::SimpleAtod(rest.substr(rest.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

std::string ControllerProcess::LogTail(int lines) const {
  std::vector<std::string> all = absl::StrSplit(ReadAll(log_path_), '\n', absl::SkipEmpty());
  size_t from = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  std::string out;
  for (size_t i = from; i < all.size(); ++i) absl::StrAppend(&out, "  ", all[i], "\n");
  return out;
}

int ControllerProcess::CountLog(const std::string& text) const {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(ReadAll(log_path_), '\n')) {
    n += line.find(text) != absl::string_view::npos;
  }
  return n;
}

}  // namespace iommuvm::bench
