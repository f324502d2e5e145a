#include "agent/workload/tcp_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
namespace {

absl::StatusOr<sockaddr_in> Address(const std::string& host, uint32_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", host, "' is not an IPv4 address"));
  }
  return addr;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Whether a socket listens on `port` per /proc/net/tcp{,6}; nullopt when
// neither is readable.
std::optional<bool> ListensOn(const FileSystem& files, uint32_t port) {
  bool readable = false;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto text = files.ReadFile(table);
    if (!text.ok()) continue;
    readable = true;
    // "  0: 0100007F:1F90 00000000:0000 0A ...": local address:port (hex), remote, state.
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 4 || f[3] != "0A") continue;  // 0A: TCP_LISTEN
      size_t colon = f[1].rfind(':');
      uint32_t local = 0;
      if (colon != absl::string_view::npos && absl::SimpleHexAtoi(f[1].substr(colon + 1), &local) &&
          local == port) {
        return true;
      }
    }
  }
  if (!readable) return std::nullopt;
  return false;
}

}  // namespace

bool Listening(const FileSystem& files, const std::string& host, uint32_t port) {
  std::optional<bool> listening = ListensOn(files, port);
  if (listening.has_value()) return *listening;
  auto addr = Address(host, port);
  if (!addr.ok()) return false;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) == 0;
}

absl::StatusOr<std::string> TcpExchange(const std::string& host, uint32_t port,
                                        const std::string& request, absl::Duration timeout) {
  auto addr = Address(host, port);
  if (!addr.ok()) return addr.status();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)),
             static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", host, ":", port, ": ", std::strerror(errno)));
  }
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat("send to ", host, ":", port, " failed"));
  }
  char buf[4096];
  ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  if (n <= 0) {
    return absl::UnavailableError(absl::StrCat("no answer from ", host, ":", port));
  }
  return std::string(buf, static_cast<size_t>(n));
}

absl::Status TcpPipeline(const std::string& host, uint32_t port, uint64_t count,
                         const std::string& ok_reply,
                         const std::function<std::string(uint64_t)>& command) {
  auto addr = Address(host, port);
  if (!addr.ok()) return addr.status();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", host, ":", port, ": ", std::strerror(errno)));
  }
  constexpr uint64_t kBatch = 1000;  // replies of one batch fit in socket buffers
  for (uint64_t start = 0; start < count; start += kBatch) {
    uint64_t n = std::min(kBatch, count - start);
    std::string batch;
    for (uint64_t i = start; i < start + n; ++i) batch += command(i);
    for (size_t sent = 0; sent < batch.size();) {
      ssize_t w = ::send(fd.get(), batch.data() + sent, batch.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) return absl::UnavailableError(absl::StrCat("send to ", host, ":", port, " failed"));
      sent += static_cast<size_t>(w);
    }
    std::string replies;
    char buf[65536];
    while (replies.size() < n * ok_reply.size()) {
      ssize_t r = ::recv(fd.get(), buf, sizeof buf, 0);
      if (r <= 0) return absl::UnavailableError(absl::StrCat("no answer from ", host, ":", port));
      replies.append(buf, static_cast<size_t>(r));
    }
    for (size_t at = 0; at < replies.size(); at += ok_reply.size()) {
      if (replies.compare(at, ok_reply.size(), ok_reply) != 0) {
        std::string bad = replies.substr(at, replies.find('\n', at) - at);
        return absl::InternalError(absl::StrCat("server answered '", bad, "'"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> PickFreePort(const std::string& host) {
  auto addr = Address(host, 0);
  if (!addr.ok()) return addr.status();
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
    return absl::UnavailableError(absl::StrCat("bind ", host, ":0: ", std::strerror(errno)));
  }
  socklen_t len = sizeof *addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&*addr), &len);
  return ntohs(addr->sin_port);
}

absl::StatusOr<uint32_t> PickFreePorts(const std::string& host, uint32_t count) {
  if (count <= 1) return PickFreePort(host);
  for (int attempt = 0; attempt < 50; ++attempt) {
    ASSIGN_OR_RETURN(uint32_t first, PickFreePort(host));
    if (first + count > 65536) continue;
    bool all_free = true;
    for (uint32_t p = first + 1; p < first + count && all_free; ++p) {
      auto addr = Address(host, p);
      if (!addr.ok()) return addr.status();
      Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      all_free = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) == 0;
    }
    if (all_free) return first;
  }
  return absl::UnavailableError(
      absl::StrCat("no ", count, " consecutive free ports on ", host, " after 50 tries"));
}

}  // namespace iommuvm::agent
