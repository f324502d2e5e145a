#include "agent/vm/console_watch.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace iommuvm::agent {

std::string FileTail(const FileSystem& files, const std::string& path) {
  std::string text(absl::StripAsciiWhitespace(files.ReadFile(path).value_or("")));
  if (text.size() > 600) text = text.substr(text.size() - 600);
  // One line for messages and evidence.
  return absl::StrReplaceAll(text, {{"\r", ""}, {"\n", " | "}});
}

absl::StatusOr<std::string> WaitForConsoleLine(const ConsoleWatch& watch, absl::string_view marker,
                                               absl::Duration timeout) {
  absl::Time deadline = watch.clock->Now() + timeout;
  while (true) {
    // Read before checking the guest, so a guest that prints the marker
    // and powers off at once is still seen.
    bool alive = watch.alive();
    std::string console = watch.files->ReadFile(watch.console_path).value_or("");
    size_t at = console.find(marker.data(), 0, marker.size());
    if (at != std::string::npos) {
      size_t end = console.find('\n', at);
      return console.substr(0, end == std::string::npos ? console.size() : end + 1);
    }
    if (!alive) {
      std::string log = FileTail(*watch.files, watch.log_path);
      std::string said = FileTail(*watch.files, watch.console_path);
      return absl::FailedPreconditionError(absl::StrCat(
          "qemu ", watch.ending(), " before the guest printed '", marker, "'",
          log.empty() ? "" : absl::StrCat("; qemu: ", log),
          said.empty() ? "; the guest printed nothing" : absl::StrCat("; guest console: ", said)));
    }
    if (watch.clock->Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the guest did not print '", marker, "' within ", absl::FormatDuration(timeout),
          "; guest console: ", FileTail(*watch.files, watch.console_path)));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace iommuvm::agent
