#include "agent/node/kernel_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace iommuvm::agent {
namespace {

// "[    1.40] iommu: ..." or "6,12,345,-;iommu: ..." -> "iommu: ...".
std::string StripPrefix(absl::string_view line) {
  if (absl::StartsWith(line, "[")) {
    size_t close = line.find(']');
    if (close != absl::string_view::npos) line.remove_prefix(close + 1);
  } else {
    size_t semi = line.find(';');
    size_t space = line.find(' ');
    if (semi != absl::string_view::npos && (space == absl::string_view::npos || semi < space)) {
      line.remove_prefix(semi + 1);
    }
  }
  return std::string(absl::StripAsciiWhitespace(line));
}

// The first word after `marker` ("Default domain type: Translated" -> "Translated").
std::string WordAfter(absl::string_view text, absl::string_view marker) {
  size_t at = text.find(marker);
  if (at == absl::string_view::npos) return "";
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(text.substr(at + marker.size()));
  size_t end = rest.find_first_of(" \t(");
  return std::string(rest.substr(0, end));
}

}  // namespace

KernelLogFacts ParseKernelLog(absl::string_view log) {
  KernelLogFacts f;
  for (absl::string_view raw : absl::StrSplit(log, '\n')) {
    if (raw.find("iommu") == absl::string_view::npos &&
        raw.find("IOMMU") == absl::string_view::npos &&
        raw.find("DMAR") == absl::string_view::npos &&
        raw.find("AMD-Vi") == absl::string_view::npos) {
      continue;
    }
    std::string line = StripPrefix(raw);
    bool used = true;
    if (absl::StrContains(line, "Default domain type:")) {
      f.default_domain = WordAfter(line, "Default domain type:");
    } else if (absl::StrContains(line, "TLB invalidation policy:")) {
      f.tlb_policy = absl::AsciiStrToLower(WordAfter(line, "TLB invalidation policy:"));
    } else if (absl::StrContains(line, "batching disallowed due to virtualization") ||
               absl::StrContains(line, "strict mode due to virtualization")) {
      f.batching_disallowed = true;
      f.batching_line = line;
    } else if (absl::StrContains(line, "Disable batched IOTLB flush") ||
               absl::StrContains(line, "IO/TLB flush on unmap enabled")) {
      f.driver_flush_policy = "strict";
      f.driver_flush_line = line;
    } else if (absl::StrContains(line, "Lazy IO/TLB flushing enabled")) {
      f.driver_flush_policy = "lazy";
      f.driver_flush_line = line;
    } else if (absl::StrContains(line, "DMAR: IOMMU disabled") ||
               absl::StrContains(line, "AMD-Vi: AMD IOMMU disabled")) {
      f.iommu_disabled = true;
    } else if (absl::StrContains(line, "DMAR: IOMMU enabled") ||
               absl::StrContains(line, "AMD-Vi: Interrupt remapping enabled") ||
               absl::StrContains(line, "AMD-Vi: Found IOMMU")) {
      f.iommu_enabled = true;
    } else {
      used = false;
    }
    if (used) f.lines.push_back(line);
  }
  return f;
}

absl::StatusOr<std::string> ReadLiveKernelLog(CommandRunner* runner) {
  int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    // Each read returns one record; EAGAIN means we reached the end.
    std::string log;
    char buf[8192];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n > 0) {
        log.append(buf, static_cast<size_t>(n));
        if (log.back() != '\n') log.push_back('\n');
      } else if (n < 0 && errno == EPIPE) {
        continue;  // a record was overwritten while reading; go on
      } else {
        break;
      }
    }
    ::close(fd);
    if (!log.empty()) return log;
  }
  CommandSpec spec;
  spec.argv = {"dmesg"};
  spec.timeout = absl::Seconds(10);
  auto r = runner->Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the kernel log: /dev/kmsg not readable and dmesg failed: ",
                     absl::StripAsciiWhitespace(r->err)));
  }
  return r->out;
}

absl::StatusOr<std::string> ReadKernelLogOf(const FileSystem& sysroot, CommandRunner* runner) {
  if (sysroot.HostPath("/") != "/") return sysroot.ReadFile("/dmesg.txt");
  return ReadLiveKernelLog(runner);
}

}  // namespace iommuvm::agent
