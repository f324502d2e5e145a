#include "agent/vm/vcpu_pinning.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {
namespace {

// Every integer value of `"key": N` in `text`, in order.
std::vector<int> Values(const std::string& text, const std::string& key) {
  std::vector<int> out;
  std::string needle = absl::StrCat("\"", key, "\": ");
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    size_t begin = at + needle.size(), end = begin;
    while (end < text.size() && absl::ascii_isdigit(text[end])) ++end;
    int v = 0;
    if (absl::SimpleAtoi(text.substr(begin, end - begin), &v)) out.push_back(v);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::map<int, int>> ParseVcpuThreads(const std::string& reply) {
  // Each CPU's "props" holds a "thread-id" of its own (the SMT thread):
  // drop those objects first.
  std::string flat;
  int depth = 0;
  for (size_t i = 0; i < reply.size(); ++i) {
    if (reply.compare(i, 9, "\"props\": ") == 0) {
      i += 9;
      depth = 0;
      for (; i < reply.size(); ++i) {
        if (reply[i] == '{') ++depth;
        if (reply[i] == '}' && --depth == 0) break;
      }
      continue;
    }
    flat += reply[i];
  }
  std::vector<int> threads = Values(flat, "thread-id"), indexes = Values(flat, "cpu-index");
  if (threads.empty() || threads.size() != indexes.size()) {
    return absl::FailedPreconditionError(absl::StrCat("unexpected query-cpus-fast reply: ", reply));
  }
  std::map<int, int> out;
  for (size_t i = 0; i < threads.size(); ++i) out[indexes[i]] = threads[i];
  return out;
}

absl::StatusOr<PinTarget> ResolvePin(const FileSystem& fs, const std::string& pin,
                                     const std::string& data_nic) {
  PinTarget t;
  std::string list = pin;
  if (pin == "auto") {
    std::string node =
        data_nic.empty()
            ? ""
            : ReadTrimmed(fs, absl::StrCat("/sys/class/net/", data_nic, "/device/numa_node"));
    if (!node.empty() && node != "-1") {
      list = ReadTrimmed(fs, absl::StrCat("/sys/devices/system/node/node", node, "/cpulist"));
      t.how = absl::StrCat("auto: NUMA node ", node, " of ", data_nic);
    } else {
      list = ReadTrimmed(fs, "/sys/devices/system/cpu/online");
      t.how = absl::StrCat("auto: every online CPU (",
                           data_nic.empty() ? "no data NIC named" : data_nic + " has no NUMA node",
                           ")");
    }
  } else {
    t.how = "as listed";
  }
  auto cpus = ParseCpuList(list);
  if (!cpus.ok()) return cpus.status();
  if (cpus->empty()) return absl::FailedPreconditionError(absl::StrCat("pin '", pin, "': no CPUs"));
  t.cpus.assign(cpus->begin(), cpus->end());
  return t;
}

absl::StatusOr<std::string> PinVcpus(CommandRunner* runner, const std::map<int, int>& threads,
                                     const std::vector<int>& cpus) {
  std::vector<std::string> done;
  size_t i = 0;
  for (const auto& [vcpu, tid] : threads) {
    int cpu = cpus[i++ % cpus.size()];
    CommandSpec spec;
    spec.argv = {"taskset", "-pc", absl::StrCat(cpu), absl::StrCat(tid)};
    spec.timeout = absl::Seconds(10);
    auto r = runner->Run(spec);
    if (!r.ok()) return r.status();
    if (!r->ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot pin vCPU ", vcpu, " to CPU ", cpu, ": ", r->Describe("taskset")));
    }
    done.push_back(absl::StrCat("vcpu", vcpu, "=cpu", cpu));
  }
  return absl::StrJoin(done, ",");
}

}  // namespace iommuvm::agent
