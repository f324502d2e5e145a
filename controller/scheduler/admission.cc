#include "controller/scheduler/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/spec/yaml_reader.h"

namespace iommuvm::scheduler {

spec::SpecErrors CheckAgainstNodes(const std::string& yaml, const spec::ExperimentSpec& spec,
                                   const std::vector<store::NodeRecord>& nodes) {
  spec::SpecErrors errors;
  std::vector<std::string> known;
  for (const auto& n : nodes) known.push_back(n.agent_id);
  for (size_t i = 0; i < spec.nodes.pairs.size(); ++i) {
    const spec::PairSpec& p = spec.nodes.pairs[i];
    for (const auto& [role_key, id, role] :
         {std::tuple{"server", p.server, v1::ROLE_SERVER},
          std::tuple{"client", p.client, v1::ROLE_CLIENT}}) {
      std::string path = absl::StrCat("nodes.pairs[", i, "].", role_key);
      auto node = std::find_if(nodes.begin(), nodes.end(),
                               [&](const store::NodeRecord& n) { return n.agent_id == id; });
      if (node == nodes.end()) {
        std::string hint = spec::ClosestMatch(id, known);
        errors.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("no agent '", id, "' has registered with this controller",
                         hint.empty() ? "" : absl::StrCat(" (did you mean '", hint, "'?)"),
                         known.empty() ? "; none has yet: start the agents first"
                                       : absl::StrCat("; known: ", absl::StrJoin(known, ", ")))));
        continue;
      }
      if (std::find(node->roles.begin(), node->roles.end(), role) == node->roles.end()) {
        errors.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("agent '", id, "' does not have the ", role_key,
                         " role; start it with --roles=", role_key, " (or server,client)")));
      }
    }
  }
  return errors;
}

}  // namespace iommuvm::scheduler
