#include "agent/node/control_nic.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace iommuvm::agent {

std::string ControlInterface(const std::string& controller_address) {
  size_t colon = controller_address.rfind(':');
  std::string host = controller_address.substr(0, colon);
  std::string port = colon == std::string::npos ? "7070" : controller_address.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return "";
  // A connected UDP socket sends nothing but makes the kernel pick the
  // route and source address.
  int fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  bool ok = fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0;
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(res);
  if (!ok) return "";
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return "";
  std::string name;
  for (ifaddrs* i = ifs; i != nullptr && name.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != local.ss_family) continue;
    if (local.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
      auto* l = reinterpret_cast<sockaddr_in*>(&local);
      if (a->sin_addr.s_addr == l->sin_addr.s_addr) name = i->ifa_name;
    } else if (local.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      auto* l = reinterpret_cast<sockaddr_in6*>(&local);
      if (std::memcmp(&a->sin6_addr, &l->sin6_addr, sizeof a->sin6_addr) == 0) name = i->ifa_name;
    }
  }
  ::freeifaddrs(ifs);
  return name == "lo" ? "" : name;
}

}  // namespace iommuvm::agent
