#pragma once
// "Did you mean": the closest known word to a misspelt one, for spec keys,
// kernel parameters and agent ids alike.

#include <cstddef>
#include <string>
#include <vector>

namespace iommuvm {

// Levenshtein distance between `a` and `b`.
size_t EditDistance(const std::string& a, const std::string& b);
// The closest candidate within a small distance, or "".
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace iommuvm
