#pragma once
// Reassembles the lines a running tool writes from the chunks they arrive
// in (a line may span chunks), for parsers of live progress.

#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace iommuvm::agent {

class LineStream {
 public:
  // `ends`: the characters that end a line; "\r\n" for tools that redraw a
  // status line with \r.
  explicit LineStream(std::string ends = "\n") : ends_(std::move(ends)) {}

  // Calls `on_line(absl::string_view)` with each line `chunk` completes,
  // without its end character.
  template <typename OnLine>
  void Feed(absl::string_view chunk, OnLine&& on_line) {
    partial_.append(chunk.data(), chunk.size());
    size_t start = 0, end;
    while ((end = partial_.find_first_of(ends_, start)) != std::string::npos) {
      on_line(absl::string_view(partial_).substr(start, end - start));
      start = end + 1;
    }
    partial_.erase(0, start);
  }

 private:
  std::string ends_;
  std::string partial_;
};

}  // namespace iommuvm::agent
