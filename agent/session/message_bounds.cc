#include "agent/session/message_bounds.h"

#include <algorithm>
#include <string>

#include "common/head_and_tail.h"

namespace iommuvm::agent {
namespace {

// Tag and length prefix of a repeated field element, at most.
constexpr size_t kFieldOverhead = 6;
// Texts this short are left whole.
constexpr size_t kShortText = 1024;

std::vector<v1::AgentMessage> SplitBatch(v1::AgentMessage msg, size_t max_bytes) {
  v1::MetricBatch* batch = msg.mutable_metric_batch();
  std::vector<v1::MetricSample> samples(std::make_move_iterator(batch->mutable_samples()->begin()),
                                        std::make_move_iterator(batch->mutable_samples()->end()));
  batch->clear_samples();
  const size_t empty = msg.ByteSizeLong() + kFieldOverhead;
  std::vector<v1::AgentMessage> out;
  v1::AgentMessage part = msg;
  size_t size = empty;
  for (auto& s : samples) {
    size_t bytes = s.ByteSizeLong() + kFieldOverhead;
    if (part.metric_batch().samples_size() > 0 && size + bytes > max_bytes) {
      out.push_back(std::move(part));
      part = msg;
      size = empty;
    }
    *part.mutable_metric_batch()->add_samples() = std::move(s);
    size += bytes;
  }
  out.push_back(std::move(part));
  return out;
}

// The message's free texts, which may be long.
std::vector<std::string*> Texts(v1::AgentMessage* msg) {
  std::vector<std::string*> texts;
  if (msg->has_step_update()) {
    v1::StepUpdate* u = msg->mutable_step_update();
    texts.push_back(u->mutable_error());
    for (auto& [key, value] : *u->mutable_evidence()) texts.push_back(&value);
    for (auto& [key, value] : *u->mutable_artifacts()) texts.push_back(&value);
  } else if (msg->has_run_result()) {
    texts.push_back(msg->mutable_run_result()->mutable_raw_output());
  }
  return texts;
}

}  // namespace

std::vector<v1::AgentMessage> FitMessage(v1::AgentMessage msg, size_t max_bytes) {
  if (msg.ByteSizeLong() <= max_bytes) return {std::move(msg)};
  if (msg.has_metric_batch()) return SplitBatch(std::move(msg), max_bytes);
  std::vector<std::string*> texts = Texts(&msg);
  // Shrink the longest text by what is over (and a margin for the note
  // HeadAndTail adds) until the message fits or only short texts remain.
  for (size_t size = msg.ByteSizeLong(); size > max_bytes; size = msg.ByteSizeLong()) {
    auto longest = std::max_element(texts.begin(), texts.end(),
                                    [](auto* a, auto* b) { return a->size() < b->size(); });
    if (longest == texts.end() || (*longest)->size() <= kShortText) break;
    std::string& text = **longest;
    size_t over = size - max_bytes + 128;
    size_t keep = text.size() > over + kShortText ? text.size() - over : text.size() / 2;
    text = HeadAndTail(text, keep);
  }
  return {std::move(msg)};
}

}  // namespace iommuvm::agent
