#include "cli/node_status_board.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace iommuvm::cli {

NodeStatusBoard::NodeStatusBoard(std::ostream& out, bool interactive,
                                 std::vector<std::string> nodes, size_t columns)
    : out_(out), interactive_(interactive), order_(std::move(nodes)), columns_(columns) {
  for (const std::string& n : order_) width_ = std::max(width_, n.size());
}

void NodeStatusBoard::Set(const std::string& node, const std::string& status) {
  std::lock_guard lock(mu_);
  std::string& current = status_[node];
  if (current == status) return;
  if (!interactive_) {
    // Copy progress in quarters, so a log shows it without a line per percent.
    absl::string_view pct = status;
    int p = 0;
    if (absl::ConsumePrefix(&pct, "copying ") && absl::ConsumeSuffix(&pct, "%") &&
        absl::SimpleAtoi(pct, &p) && p % 25 != 0) {
      current = status;
      return;
    }
    current = status;
    out_ << node << std::string(width_ - node.size() + 2, ' ') << status << "\n" << std::flush;
    return;
  }
  current = status;
  Redraw();
}

void NodeStatusBoard::Redraw() {
  if (drawn_) out_ << "\x1b[" << order_.size() << "A";
  for (const std::string& n : order_) {
    auto it = status_.find(n);
    std::string line = n + std::string(width_ - n.size() + 2, ' ') +
                       (it == status_.end() ? "waiting" : it->second);
    if (columns_ > 4 && line.size() >= columns_) line = line.substr(0, columns_ - 4) + "...";
    out_ << "\x1b[2K" << line << "\n";
  }
  out_ << std::flush;
  drawn_ = true;
}

}  // namespace iommuvm::cli
