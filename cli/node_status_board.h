#pragma once
// One live status line per node for `iommuvm deploy` and `undeploy`,
// updated from the nodes' threads: redrawn in place on a terminal, one
// line per change otherwise (copy progress every 25%).

#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

namespace iommuvm::cli {

class NodeStatusBoard {
 public:
  // `columns`: the terminal's width; redrawn lines are cut to it (a wrapped
  // line would break the redraw). 0: no limit.
  NodeStatusBoard(std::ostream& out, bool interactive, std::vector<std::string> nodes,
                  size_t columns = 0);
  void Set(const std::string& node, const std::string& status);

 private:
  void Redraw();  // with mu_ held

  std::ostream& out_;
  bool interactive_;
  std::vector<std::string> order_;
  size_t width_ = 0;
  size_t columns_ = 0;
  std::mutex mu_;
  std::map<std::string, std::string> status_;
  bool drawn_ = false;
};

}  // namespace iommuvm::cli
