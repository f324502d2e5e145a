#include "controller/service/peer_authorization.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace iommuvm::service {

absl::Status PeerAuthorization::AgentMayRegister(absl::string_view peer_cn,
                                                 absl::string_view agent_id) const {
  if (!tls_) return absl::OkStatus();
  absl::string_view host = peer_cn;
  if (absl::ConsumePrefix(&host, "agent:") && !host.empty() &&
      (agent_id == host || absl::StartsWith(agent_id, absl::StrCat(host, "/")))) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("a session with the certificate of '", peer_cn, "' may not register as agent '",
                   agent_id, "' (issue it its own: iommuvm certs issue --agent ", agent_id, ")"));
}

absl::Status PeerAuthorization::UserMayCall(absl::string_view peer_cn) const {
  if (!tls_ || absl::StartsWith(peer_cn, "user:")) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("the certificate of '", peer_cn,
                   "' is not a user's; the CLI needs one (iommuvm certs issue --user NAME)"));
}

}  // namespace iommuvm::service
