#pragma once
// Text written for a terminal, made plain: tools colour their output even
// into files (sockperf), redraw screens (memaslap), and a serial console
// carries whatever the firmware, boot loader and kernel sent it.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace iommuvm {

// `text` without ANSI/ECMA-48 escape sequences ("\x1b[2;35m", "\x1b[2J"):
// a CSI runs to its final byte ('@'..'~'); other escapes drop two bytes.
std::string StripTerminalEscapes(absl::string_view text);

// The last `n` lines of `text` with something printable on them, escape
// sequences, carriage returns and other control characters removed.
std::vector<std::string> LastPrintableLines(absl::string_view text, size_t n);

}  // namespace iommuvm
