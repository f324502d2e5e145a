#pragma once
// Words for a POSIX shell: what is sent to a remote shell over SSH, or put
// on a guest's kernel command line for its init script.

#include <string>

namespace iommuvm {

// `arg` as one shell word: unchanged when it only has characters no shell
// treats specially, else in single quotes (a ' inside as '\'').
std::string ShellQuote(const std::string& arg);

}  // namespace iommuvm
