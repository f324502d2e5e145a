#include "agent/node/inventory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace iommuvm::agent {
namespace {

std::string ReadTrimmed(const FileSystem* fs, const std::string& path) {
  auto s = fs->ReadFile(path);
  return s.ok() ? std::string(absl::StripAsciiWhitespace(*s)) : "";
}

// "key\t: value" lines of /proc/cpuinfo and /proc/meminfo.
std::string Field(absl::string_view line) {
  size_t colon = line.find(':');
  return colon == absl::string_view::npos
             ? ""
             : std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
}

std::string ToolVersion(CommandRunner* runner, const std::string& tool) {
  CommandSpec spec;
  spec.argv = {tool, "--version"};
  spec.timeout = absl::Seconds(5);
  auto r = runner->Run(spec);
  if (!r.ok() || !r->ok()) return "";
  std::string out(absl::StripAsciiWhitespace(r->out));
  return out.substr(0, out.find('\n'));
}

}  // namespace

void FillNodeFacts(const AgentDeps& deps, v1::Register* reg) {
  const FileSystem* fs = deps.fs;
  reg->set_boot_id(ReadTrimmed(fs, "/proc/sys/kernel/random/boot_id"));
  reg->set_kernel_cmdline(ReadTrimmed(fs, "/proc/cmdline"));
  v1::Inventory* inv = reg->mutable_inventory();
  inv->set_hostname(ReadTrimmed(fs, "/proc/sys/kernel/hostname"));
  inv->set_kernel_release(ReadTrimmed(fs, "/proc/sys/kernel/osrelease"));
  if (auto cpuinfo = fs->ReadFile("/proc/cpuinfo"); cpuinfo.ok()) {
    uint32_t cpus = 0;
    for (absl::string_view line : absl::StrSplit(*cpuinfo, '\n')) {
      if (absl::StartsWith(line, "processor")) ++cpus;
      if (absl::StartsWith(line, "vendor_id") && inv->cpu_vendor().empty()) {
        inv->set_cpu_vendor(Field(line));
      }
      if (absl::StartsWith(line, "model name") && inv->cpu_model().empty()) {
        inv->set_cpu_model(Field(line));
      }
    }
    inv->set_cpu_cores(cpus);
  }
  if (auto meminfo = fs->ReadFile("/proc/meminfo"); meminfo.ok()) {
    for (absl::string_view line : absl::StrSplit(*meminfo, '\n')) {
      if (!absl::StartsWith(line, "MemTotal:")) continue;
      std::vector<std::string> w = absl::StrSplit(Field(line), ' ', absl::SkipEmpty());
      uint64_t kib = 0;
      if (!w.empty() && absl::SimpleAtoi(w[0], &kib)) inv->set_memory_bytes(kib * 1024);
    }
  }
  for (const char* tool : {"redis-server", "redis-benchmark"}) {
    std::string v = ToolVersion(deps.runner, tool);
    if (!v.empty()) (*reg->mutable_software_versions())[tool] = v;
  }
}

}  // namespace iommuvm::agent
