#include "common/terminal_text.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"

namespace iommuvm {

std::string StripTerminalEscapes(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\x1b') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '[') {
      i += 2;
      while (i < text.size() && !(text[i] >= '@' && text[i] <= '~')) ++i;
    } else {
      ++i;  // a two-byte escape ("\x1bc": reset)
    }
  }
  return out;
}

std::vector<std::string> LastPrintableLines(absl::string_view text, size_t n) {
  std::vector<std::string> lines;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    std::string line;
    for (char c : StripTerminalEscapes(raw)) {
      if (c == '\t' || static_cast<unsigned char>(c) >= 0x20) line.push_back(c);
    }
    absl::StripAsciiWhitespace(&line);
    if (!line.empty()) lines.push_back(std::move(line));
  }
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<ptrdiff_t>(n));
  return lines;
}

}  // namespace iommuvm
