
#include "controller/scheduler/pairing.h"

#include <gtest/gtest.h>

#include "controller/scheduler/plan_queue.h"

namespace iommuvm::scheduler {
namespace {

CandidateNode Node(const std::string& id, bool server, bool client,
                   std::map<std::string, std::string> labels = {}) {
  return CandidateNode{id, server, client, std::move(labels)};
}

TEST(PairingTest, ServersPairWithClientsThenDualRoleNodes) {
  std::vector<CandidateNode> nodes = {Node("s1", true, false), Node("s2", true, false),
                                      Node("c1", false, true), Node("d1", true, true),
                                      Node("d2", true, true),  Node("d3", true, true)};
  auto pairs = FormPairs({}, nodes, {});
  std::vector<NodePair> expected = {{"s1", "c1"}, {"s2", "d1"}, {"d2", "d3"}};
  EXPECT_EQ(pairs, expected);
}

TEST(PairingTest, ALoneDualRoleNodePairsWithItself) {
  EXPECT_EQ(FormPairs({}, {Node("laptop", true, true)}, {}),
            (std::vector<NodePair>{{"laptop", "laptop"}}));
  EXPECT_TRUE(FormPairs({}, {Node("s", true, false)}, {}).empty());
}

TEST(PairingTest, ExistingPairsSurviveANewNode) {
  std::vector<CandidateNode> nodes = {Node("b", true, true), Node("c", true, true)};
  auto first = FormPairs({}, nodes, {});
  ASSERT_EQ(first, (std::vector<NodePair>{{"b", "c"}}));
  nodes.push_back(Node("a", true, true));  // sorts first, but must not break b-c
  auto second = FormPairs({}, nodes, first);
  EXPECT_EQ(second, (std::vector<NodePair>{{"b", "c"}, {"a", "a"}}));
}

TEST(PairingTest, SelectorAndCountLimitThePairs) {
  spec::NodesSpec spec;
  spec.selector = {{"hw", "r650"}};
  spec.count = 1;
  std::vector<CandidateNode> nodes = {
      Node("s1", true, false, {{"hw", "c6525"}}), Node("s2", true, false, {{"hw", "r650"}}),
      Node("c1", false, true, {{"hw", "r650"}}), Node("s3", true, false, {{"hw", "r650"}}),
      Node("c2", false, true, {{"hw", "r650"}})};
  EXPECT_EQ(FormPairs(spec, nodes, {}), (std::vector<NodePair>{{"s2", "c1"}}));
}

TEST(PairingTest, ExplicitPairsNeedBothNodes) {
  spec::NodesSpec spec;
  spec.pairs = {{"a", "b"}, {"c", "d"}};
  std::vector<CandidateNode> nodes = {Node("a", true, false), Node("b", false, true),
                                      Node("c", true, false)};
  EXPECT_EQ(FormPairs(spec, nodes, {}), (std::vector<NodePair>{{"a", "b"}}));
  // b has no client role: the pair cannot run.
  nodes[1].client = false;
  EXPECT_TRUE(FormPairs(spec, nodes, {}).empty());
}

}  // namespace
}  // namespace iommuvm::scheduler
