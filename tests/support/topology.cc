#include "tests/support/topology.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/command_runner.h"

namespace iommuvm::testing {

namespace {

// Holds an exclusive lock on a file shared by every test process while it
// is alive: choosing a free name and control subnet and taking them is
// one step.
class TopologyLock {
 public:
  TopologyLock()
      : fd_(::open("/run/lock/iommuvm-topology.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) (void)::flock(fd_, LOCK_EX);
  }
  ~TopologyLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  TopologyLock(const TopologyLock&) = delete;
  TopologyLock& operator=(const TopologyLock&) = delete;

 private:
  int fd_;
};

// What `argv` prints, or why it failed.
absl::StatusOr<std::string> Output(const std::vector<std::string>& argv, absl::Duration timeout) {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = timeout;
  auto r = runner.Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), ": ", r->Describe(argv.front())));
  }
  return std::move(r->out);
}

// What `ip` prints for each of `commands`, one after another.
std::string IpOutput(const std::vector<std::vector<std::string>>& commands) {
  std::string all;
  for (const std::vector<std::string>& argv : commands) {
    auto out = Output(argv, absl::Seconds(10));
    if (out.ok()) absl::StrAppend(&all, "\n", *out, "\n");
  }
  return all;
}

// `name`, or with a letter after it, so that no namespace or bridge of
// that name is left from a killed test (its names, from another process
// with the same pid % 10000, would make every step fail).
std::string FreeName(const std::string& name) {
  const std::string taken = IpOutput({{"ip", "-o", "link", "show"}, {"ip", "netns", "list"}});
  auto free = [&](const std::string& n) {
    return !absl::StrContains(taken, absl::StrCat(" ", n, "-br:")) &&
           !absl::StrContains(taken, absl::StrCat("\n", n, "-sut")) &&
           !absl::StrContains(taken, absl::StrCat("\n", n, "-cli"));
  };
  if (free(name)) return name;
  for (char c = 'a'; c <= 'z'; ++c) {
    if (free(name + c)) return name + c;
  }
  return name;
}

// "10.<net>." for the first <net> from the process's own (100 + pid % 100)
// that no address or route of the root namespace uses. A bridge left behind
// by a killed test keeps its subnet; a second bridge with the same /24
// would make the controller unreachable from one of the two without any
// error, so a used subnet is never taken again.
std::string FreeControlPrefix() {
  const std::string used =
      IpOutput({{"ip", "-4", "-o", "addr", "show"}, {"ip", "-4", "route", "show", "table", "all"}});
  const int first = ::getpid() % 100;
  for (int i = 0; i < 100; ++i) {
    std::string prefix = absl::StrCat("10.", 100 + (first + i) % 100, ".");
    if (!absl::StrContains(used, " " + prefix) && !absl::StrContains(used, "\n" + prefix)) {
      return prefix;
    }
  }
  return absl::StrCat("10.", 100 + first, ".");
}

}  // namespace

Topology::Topology(const std::string& name) : name_(name) {
  if (::geteuid() != 0) {
    status_ = absl::FailedPreconditionError("network namespaces need root");
    return;
  }
  TopologyLock lock;  // until the bridge holds the chosen name and subnet
  name_ = FreeName(name_);
  prefix_ = FreeControlPrefix();
  std::string br = name_ + "-br", d0 = name_ + "-d0", d1 = name_ + "-d1";
  std::string cs = name_ + "-cs", cs_peer = name_ + "-csp", cc = name_ + "-cc",
              cc_peer = name_ + "-ccp";
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "netns", "add", sut_ns()},
      {"ip", "netns", "add", client_ns()},
      // Data plane: sut <-> client.
      {"ip", "link", "add", d0, "netns", sut_ns(), "type", "veth", "peer", "name", d1, "netns",
       client_ns()},
      {"ip", "-n", sut_ns(), "addr", "add", sut_address() + "/24", "dev", d0},
      {"ip", "-n", client_ns(), "addr", "add", client_address() + "/24", "dev", d1},
      {"ip", "-n", sut_ns(), "link", "set", d0, "up"},
      {"ip", "-n", client_ns(), "link", "set", d1, "up"},
      {"ip", "-n", sut_ns(), "link", "set", "lo", "up"},
      {"ip", "-n", client_ns(), "link", "set", "lo", "up"},
      // Control plane: a bridge in the root namespace, one leg into each.
      {"ip", "link", "add", br, "type", "bridge"},
      {"ip", "addr", "add", controller_host() + "/24", "dev", br},
      {"ip", "link", "set", br, "up"},
      {"ip", "link", "add", cs, "type", "veth", "peer", "name", cs_peer, "netns", sut_ns()},
      {"ip", "link", "add", cc, "type", "veth", "peer", "name", cc_peer, "netns", client_ns()},
      {"ip", "link", "set", cs, "master", br, "up"},
      {"ip", "link", "set", cc, "master", br, "up"},
      {"ip", "-n", sut_ns(), "addr", "add", prefix_ + "0.2/24", "dev", cs_peer},
      {"ip", "-n", client_ns(), "addr", "add", prefix_ + "0.3/24", "dev", cc_peer},
      {"ip", "-n", sut_ns(), "link", "set", cs_peer, "up"},
      {"ip", "-n", client_ns(), "link", "set", cc_peer, "up"},
  };
  for (const auto& argv : steps) {
    status_ = Run(argv);
    if (!status_.ok()) return;
  }
}

absl::Status Topology::AddGuestBridge() {
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "-n", sut_ns(), "link", "add", guest_bridge(), "type", "bridge"},
      {"ip", "-n", sut_ns(), "addr", "add", guest_gateway() + "/24", "dev", guest_bridge()},
      {"ip", "-n", sut_ns(), "link", "set", guest_bridge(), "up"},
      {"ip", "netns", "exec", sut_ns(), "sysctl", "-qw", "net.ipv4.ip_forward=1"},
      {"ip", "-n", client_ns(), "route", "add", prefix_ + "2.0/24", "via", sut_address()},
  };
  for (const auto& argv : steps) {
    if (absl::Status s = Run(argv); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Topology::AddGuestTap(const std::string& tap) const {
  if (absl::Status s = Run({"ip", "-n", sut_ns(), "tuntap", "add", "dev", tap, "mode", "tap"});
      !s.ok()) {
    return s;
  }
  return Run({"ip", "-n", sut_ns(), "link", "set", tap, "master", guest_bridge(), "up"});
}

void Topology::RemoveGuestTap(const std::string& tap) const {
  (void)Run({"ip", "-n", sut_ns(), "link", "del", tap});
}

Topology::~Topology() {
  (void)Run({"ip", "netns", "del", sut_ns()});
  (void)Run({"ip", "netns", "del", client_ns()});
  (void)Run({"ip", "link", "del", name_ + "-br"});
}

absl::Status Topology::Run(const std::vector<std::string>& argv) const {
  return Output(argv, absl::Seconds(10)).status();
}

std::vector<std::string> Topology::In(const std::string& ns) const {
  return {"ip", "netns", "exec", ns};
}

int64_t Topology::Counter(const std::string& ns, const std::string& iface,
                          const std::string& name) const {
  std::vector<std::string> argv = In(ns);
  argv.insert(argv.end(), {"cat", "/sys/class/net/" + iface + "/statistics/" + name});
  auto out = Output(argv, absl::Seconds(5));
  int64_t v = -1;
  if (out.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*out), &v);
  return v;
}

absl::Status Topology::SetDataLink(bool up) {
  absl::Status s = Run({"ip", "-n", sut_ns(), "link", "set", sut_data_if(), up ? "up" : "down"});
  if (!s.ok() || !up) return s;
  // Neighbour entries that failed while the link was down would answer
  // "No route to host" for a while: a restored link starts clean.
  for (const std::string& ns : {sut_ns(), client_ns()}) {
    s.Update(Run({"ip", "-n", ns, "neigh", "flush", "all"}));
  }
  return s;
}

}  // namespace iommuvm::testing
