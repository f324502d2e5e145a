#include "agent/node/nic_addresses.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace iommuvm::agent {
namespace {

std::vector<std::string> Words(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

absl::StatusOr<std::string> Ip(CommandRunner* runner, std::vector<std::string> args) {
  CommandSpec spec;
  spec.argv = {"ip"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(10);
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) return absl::InternalError(r->Describe(absl::StrJoin(spec.argv, " ")));
  return r->out;
}

}  // namespace

NicAddresses ParseNicAddresses(const std::string& name, const std::string& addr_output,
                               const std::string& route_output) {
  NicAddresses nic;
  nic.name = name;
  for (absl::string_view line : absl::StrSplit(addr_output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> w = Words(line);
    if (w.empty()) continue;
    // "3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc ..."
    if (absl::EndsWith(w[0], ":") && w.size() > 2) {
      nic.up = absl::StrContains(w[2], ",UP") || absl::StrContains(w[2], "<UP");
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == "mtu") (void)absl::SimpleAtoi(w[i + 1], &nic.mtu);
      }
    }
    // "inet 10.1.2.2/24 brd 10.1.2.255 scope global eth1"; the kernel makes
    // the link-local inet6 address itself.
    if ((w[0] == "inet" || w[0] == "inet6") && w.size() > 1 &&
        !(w[0] == "inet6" && absl::StrContains(line, "scope link"))) {
      nic.addresses.push_back(w[1]);
    }
  }
  for (absl::string_view line : absl::StrSplit(route_output, '\n', absl::SkipEmpty())) {
    std::vector<std::string> w = Words(line);
    bool via = false;
    std::vector<std::string> kept;
    for (size_t i = 0; i < w.size(); ++i) {
      if (w[i] == "dev" && i + 1 < w.size()) {
        ++i;  // put back with the interface's (maybe new) name
        continue;
      }
      via = via || w[i] == "via";
      kept.push_back(w[i]);
    }
    if (via) nic.routes.push_back(absl::StrJoin(kept, " "));
  }
  return nic;
}

absl::StatusOr<NicAddresses> SnapshotNic(CommandRunner* runner, const std::string& name) {
  auto addr = Ip(runner, {"addr", "show", "dev", name});
  if (!addr.ok()) return addr.status();
  auto routes = Ip(runner, {"route", "show", "dev", name});
  if (!routes.ok()) return routes.status();
  auto routes6 = Ip(runner, {"-6", "route", "show", "dev", name});
  return ParseNicAddresses(name, *addr, *routes + (routes6.ok() ? *routes6 : ""));
}

absl::Status RestoreNic(CommandRunner* runner, const FileSystem& sysroot, const NicAddresses& nic,
                        absl::Duration wait) {
  // The driver makes the interface again asynchronously after the bind.
  for (absl::Duration waited; !sysroot.Exists("/sys/class/net/" + nic.name);
       waited += absl::Milliseconds(100)) {
    if (waited >= wait) {
      return absl::DeadlineExceededError(
          absl::StrCat("sysfs: ", nic.name, " did not come back after its driver was bound"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::vector<std::vector<std::string>> steps;
  if (nic.mtu > 0) steps.push_back({"link", "set", "dev", nic.name, "mtu", absl::StrCat(nic.mtu)});
  for (const std::string& a : nic.addresses) {
    steps.push_back({"addr", "replace", a, "dev", nic.name});
  }
  if (nic.up) steps.push_back({"link", "set", "dev", nic.name, "up"});
  for (const std::string& r : nic.routes) {
    std::vector<std::string> step = {"route", "replace"};
    for (absl::string_view w : absl::StrSplit(r, ' ', absl::SkipEmpty())) step.emplace_back(w);
    step.insert(step.end(), {"dev", nic.name});
    steps.push_back(std::move(step));
  }
  for (const auto& step : steps) {
    auto done = Ip(runner, step);
    if (!done.ok()) {
      return absl::InternalError(absl::StrCat("sysfs: restoring ", nic.name,
                                              "'s configuration: ", done.status().message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace iommuvm::agent
