#pragma once
// Tabular output in the three formats every data command offers:
// aligned text for people, CSV and JSON (array of objects) for scripts.

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

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
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  size_t size() const { return rows_.size(); }
  void Print(std::ostream& out, Format format) const;

 private:
  void PrintText(std::ostream& out) const;
  void PrintCsv(std::ostream& out) const;
  void PrintJson(std::ostream& out) const;
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string JsonEscape(const std::string& s);
// Fixed-point with `digits` decimals ("1234.5").
std::string Fixed(double v, int digits);

}  // namespace iommuvm
