#include "controller/node_console.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/shell_quote.h"
#include "common/terminal_text.h"

namespace iommuvm {

NodeConsole::NodeConsole(CommandRunner* runner, std::string command, absl::Duration timeout,
                         size_t lines)
    : runner_(runner), command_(std::move(command)), timeout_(timeout), lines_(lines) {}

absl::StatusOr<std::vector<std::string>> NodeConsole::LastLines(const std::string& node,
                                                                const std::string& hostname) const {
  CommandSpec spec;
  spec.argv = {"sh", "-c",
               absl::StrReplaceAll(
                   command_, {{"{node}", ShellQuote(node)}, {"{hostname}", ShellQuote(hostname)}})};
  spec.timeout = timeout_;
  auto r = runner_->Run(spec);
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::UnavailableError(
        r->Describe(absl::StrCat("console command '", spec.argv[2], "'")));
  }
  return LastPrintableLines(r->out, lines_);
}

std::string ConsoleVerdict(const std::vector<std::string>& lines) {
  // The kernel's own words (panic(), die()) from where they start: the
  // cause, without the timestamp, or from the "---[ end Kernel panic - not
  // syncing: CAUSE ]---" line that closes the dump when the panic line
  // itself scrolled out of the tail.
  for (absl::string_view mark :
       {"Kernel panic - not syncing", "BUG:", "Oops:", "general protection fault"}) {
    for (const std::string& line : lines) {
      size_t at = absl::string_view(line).find(mark);
      if (at == std::string::npos) continue;
      absl::string_view cause = absl::string_view(line).substr(at);
      absl::ConsumeSuffix(&cause, " ]---");
      return std::string(cause);
    }
  }
  return lines.empty() ? "" : lines.back();
}

std::string ConsoleSummary(const std::vector<std::string>& lines, size_t tail) {
  if (lines.empty()) return "";
  std::vector<std::string> last(lines.end() - static_cast<ptrdiff_t>(std::min(tail, lines.size())),
                                lines.end());
  return absl::StrCat("console: ", ConsoleVerdict(lines),
                      "; its last lines: ", absl::StrJoin(last, " | "));
}

}  // namespace iommuvm
