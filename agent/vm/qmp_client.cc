#include "agent/vm/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace iommuvm::agent {
namespace {

class Connection {
 public:
  Connection(absl::Time deadline, const Clock* clock) : deadline_(deadline), clock_(clock) {}
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Connect(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof(addr.sun_path)) {
      return absl::InvalidArgumentError(absl::StrCat("QMP socket path too long: ", path));
    }
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to QMP socket ", path, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

  absl::Status Send(const std::string& json) {
    std::string line = json + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::UnavailableError(absl::StrCat("QMP send: ", std::strerror(errno)));
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // The next reply line, skipping asynchronous events ({"event": ...}).
  absl::StatusOr<std::string> Reply() {
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (absl::StrContains(line, "\"event\"")) continue;
        return line;
      }
      int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline_ - clock_->Now()));
      if (wait_ms <= 0) return absl::DeadlineExceededError("QMP: no reply in time");
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return absl::DeadlineExceededError("QMP: no reply in time");
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return absl::UnavailableError("QMP: QEMU closed the connection");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  absl::Time deadline_;
  const Clock* clock_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace

absl::StatusOr<std::string> QmpExecute(const std::string& path, const std::string& command,
                                       absl::Duration timeout, const Clock* clock) {
  Connection c(clock->Now() + timeout, clock);
  if (absl::Status s = c.Connect(path); !s.ok()) return s;
  auto greeting = c.Reply();
  if (!greeting.ok()) return greeting.status();
  if (!absl::StrContains(*greeting, "\"QMP\"")) {
    return absl::FailedPreconditionError(absl::StrCat("not a QMP greeting: ", *greeting));
  }
  if (absl::Status s = c.Send(R"({"execute": "qmp_capabilities"})"); !s.ok()) return s;
  auto negotiated = c.Reply();
  if (!negotiated.ok()) return negotiated.status();
  if (absl::Status s = c.Send(absl::StrCat(R"({"execute": ")", command, R"("})")); !s.ok()) {
    return s;
  }
  auto reply = c.Reply();
  if (!reply.ok()) {
    if (command == "quit" && absl::IsUnavailable(reply.status())) return std::string("{}");
    return reply.status();
  }
  if (absl::StrContains(*reply, "\"error\"")) {
    return absl::FailedPreconditionError(absl::StrCat("QMP ", command, ": ", *reply));
  }
  return *reply;
}

}  // namespace iommuvm::agent
