#include "common/table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm {

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "csv") return Format::kCsv;
  if (text == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", text, "'; allowed: table, csv, json"));
}

std::string JsonEscape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

void Table::Print(std::ostream& out, Format format) const {
  switch (format) {
    case Format::kTable: return PrintText(out);
    case Format::kCsv: return PrintCsv(out);
    case Format::kJson: return PrintJson(out);
  }
}

void Table::PrintText(std::ostream& out) const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].name.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cells[c];
      std::string pad(width[c] - cell.size(), ' ');
      line += columns_[c].numeric ? pad + cell : cell + pad;
      if (c + 1 < columns_.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  std::vector<std::string> header;
  for (const auto& col : columns_) header.push_back(col.name);
  print_row(header);
  for (const auto& row : rows_) print_row(row);
}

void Table::PrintCsv(std::ostream& out) const {
  auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (size_t c = 0; c < columns_.size(); ++c) out << (c ? "," : "") << cell(columns_[c].name);
  out << "\n";
  for (const auto& row : rows_) {
    for (size_t c = 0; c < columns_.size(); ++c) out << (c ? "," : "") << cell(row[c]);
    out << "\n";
  }
}

void Table::PrintJson(std::ostream& out) const {
  out << "[";
  for (size_t r = 0; r < rows_.size(); ++r) {
    out << (r ? ",\n " : "\n ") << "{";
    for (size_t c = 0; c < columns_.size(); ++c) {
      const std::string& v = rows_[r][c];
      out << (c ? ", " : "") << JsonEscape(columns_[c].name) << ": ";
      if (columns_[c].numeric && !v.empty()) {
        out << v;
      } else if (columns_[c].numeric) {
        out << "null";
      } else {
        out << JsonEscape(v);
      }
    }
    out << "}";
  }
  out << (rows_.empty() ? "]\n" : "\n]\n");
}

}  // namespace iommuvm
