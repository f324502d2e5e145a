#pragma once
// Every message the outbox stores must be one the controller accepts: gRPC
// refuses a message over its receive limit (4 MiB by default), and a
// refused message would be resent forever. A metric batch too big is split
// (its samples, in order, over several batches); any other message keeps
// its fields and shrinks its longest texts (an error, evidence, a log tail,
// raw tool output) to their head and tail, saying how much was left out.

#include <cstddef>
#include <vector>

#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

// Half of gRPC's default receive limit: room for framing and for a
// controller that keeps the default.
inline constexpr size_t kMaxMessageBytes = 2u << 20;

// `msg` as one or more messages of at most `max_bytes` each (serialized).
std::vector<v1::AgentMessage> FitMessage(v1::AgentMessage msg, size_t max_bytes = kMaxMessageBytes);

}  // namespace iommuvm::agent
