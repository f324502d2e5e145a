#pragma once
// Tabular output in the three formats every data command offers:
// aligned text for people, CSV and JSON (array of objects) for scripts.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iommuvm {

enum class Format { kTable, kCsv, kJson };

// "table", "csv" or "json"; InvalidArgument otherwise.
absl::StatusOr<Format> ParseFormat(const std::string& text);

struct Column {
  std::string name;      // header, and JSON key
  bool numeric = false;  // right-aligned; unquoted in JSON
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Adds a row; it must have one cell per column.
  void AddRow(const std::vector<std::string>& cells);
  size_t size() const { return columns_.empty() ? 0 : ends_.size() / columns_.size(); }
  void Print(std::ostream& out, Format format) const;

 private:
  // Cell `c` of row `r`.
  absl::string_view Cell(size_t r, size_t c) const {
    size_t i = r * columns_.size() + c;
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return absl::string_view(text_).substr(begin, ends_[i] - begin);
  }
  void PrintText(std::ostream& out) const;
  void PrintCsv(std::ostream& out) const;
  void PrintJson(std::ostream& out) const;
  std::vector<Column> columns_;
  // Every cell, row after row, end to end in one string (a big result
  // table is 10k rows of 20+ short cells: one allocation, not one each).
  std::string text_;
  std::vector<size_t> ends_;  // where each cell ends in text_
};

std::string JsonEscape(absl::string_view s);
// Fixed-point with `digits` decimals ("1234.5").
std::string Fixed(double v, int digits);

}  // namespace iommuvm
