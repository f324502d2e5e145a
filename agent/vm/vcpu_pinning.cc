#include "agent/vm/vcpu_pinning.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {
namespace {

// Where the value of each `"key":` in `text` starts, in order. JSON allows
// whitespace around the colon: QEMU's QMP writes `"key": v`, libvirt's
// qemu-monitor-command passes it on compacted as `"key":v`.
std::vector<size_t> ValueStarts(const std::string& text, const std::string& key) {
  std::vector<size_t> out;
  std::string quoted = absl::StrCat("\"", key, "\"");
  for (size_t at = text.find(quoted); at != std::string::npos; at = text.find(quoted, at + 1)) {
    size_t i = at + quoted.size();
    while (i < text.size() && absl::ascii_isspace(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && absl::ascii_isspace(text[i])) ++i;
    out.push_back(i);
  }
  return out;
}

// Every integer value of `"key": N` in `text`, in order.
std::vector<int> Values(const std::string& text, const std::string& key) {
  std::vector<int> out;
  for (size_t begin : ValueStarts(text, key)) {
    size_t end = begin;
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
  size_t copied = 0;
  for (size_t begin : ValueStarts(reply, "props")) {
    if (begin < copied || begin >= reply.size() || reply[begin] != '{') continue;
    flat.append(reply, copied, begin - copied);
    int depth = 0;
    size_t i = begin;
    for (; i < reply.size(); ++i) {
      if (reply[i] == '{') ++depth;
      if (reply[i] == '}' && --depth == 0) break;
    }
    copied = i + 1;
  }
  if (copied < reply.size()) flat.append(reply, copied, std::string::npos);
  std::vector<int> threads = Values(flat, "thread-id"), indexes = Values(flat, "cpu-index");
  if (threads.empty() || threads.size() != indexes.size()) {
    return absl::FailedPreconditionError(absl::StrCat("unexpected query-cpus-fast reply: ", reply));
  }
  std::map<int, int> out;
  for (size_t i = 0; i < threads.size(); ++i) out[indexes[i]] = threads[i];
  return out;
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
